package store

// Restores returns how many snapshots the store's state restored.
func Restores(s *Store) int64 { return s.fsm.restores.Load() }
