package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"huiyan"
	"huiyan/hub"
)

// Tag dictionaries (DESIGN.md in this folder, "Imports"). Every dictionary
// the cluster has had is kept in the dicts bucket under its version, with
// the data version it first belongs to: they are small (some 25 KB), change
// a few times a year, and the old ones are the history a new one is
// checked against (an id never changes its meaning, even after its tag was
// retired). A data version names its dictionary in Version.DictVersion.
//
// The first committed import of a cluster records the dictionary it used
// (the shipped one unless HQ uploaded its own), so that every node's state
// holds the dictionary itself rather than trusting its binary's copy. A
// state written before dictionaries were stored has none: its versions use
// dictionary version 1, which is then the shipped one.

// dictRecord is one stored dictionary.
type dictRecord struct {
	Since    uint64       `json:"since"`     // the data version it first belongs to
	ImportID string       `json:"import_id"` // the import that brought it
	Dict     hub.DictWire `json:"dict"`
}

// encodeDict is the blob of an import_finish command that brings a
// dictionary: hub.DictWire as JSON.
func encodeDict(d *huiyan.TagDict) ([]byte, error) {
	return json.Marshal(hub.NewDictWire(d))
}

func decodeDict(b []byte) (*huiyan.TagDict, error) {
	var w hub.DictWire
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decode tag dictionary: %w", err)
	}
	d, err := w.TagDict()
	if err != nil {
		return nil, fmt.Errorf("decode tag dictionary: %w", err)
	}
	return d, nil
}

// storedDicts returns every stored dictionary, oldest first.
func storedDicts(tx *bolt.Tx) ([]*huiyan.TagDict, error) {
	var out []*huiyan.TagDict
	err := tx.Bucket(bDicts).ForEach(func(_, v []byte) error {
		var rec dictRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("decode tag dictionary: %w", err)
		}
		d, err := rec.Dict.TagDict()
		if err != nil {
			return fmt.Errorf("decode tag dictionary %d: %w", rec.Dict.Version, err)
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

// newestDictVersion returns the highest stored dictionary version, 0 when
// none is stored.
func newestDictVersion(tx *bolt.Tx) int {
	k, _ := tx.Bucket(bDicts).Cursor().Last()
	if len(k) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(k))
}

// dictByVersion returns the stored dictionary of a dictionary version;
// version 1 falls back to the shipped dictionary (a state from before
// dictionaries were stored).
func dictByVersion(tx *bolt.Tx, version int) (*huiyan.TagDict, error) {
	if version < 1 {
		return nil, fmt.Errorf("tag dictionary version %d: %w", version, ErrNotFound)
	}
	var rec dictRecord
	err := getJSON(tx.Bucket(bDicts), be64(uint64(version)), &rec)
	if err == ErrNotFound && version == huiyan.DictVersion {
		return huiyan.DefaultTagDict(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("tag dictionary version %d: %w", version, err)
	}
	return rec.Dict.TagDict()
}

// putDict checks a dictionary an import brings against the state and
// stores it. The checks are the leader's (hub.ReadTagDict), made again here
// on the stored history so that no node ever stores a dictionary that
// re-points an id, whatever the leader did.
func putDict(tx *bolt.Tx, d *huiyan.TagDict, prev int, imp *Import) error {
	newest := newestDictVersion(tx)
	if tx.Bucket(bDicts).Get(be64(uint64(d.Version()))) != nil || d.Version() <= newest || d.Version() < prev {
		return huiyan.Errorf(huiyan.EConflict, "tag dictionary version %d: the cluster has version %d", d.Version(), max(newest, prev))
	}
	history, err := storedDicts(tx)
	if err != nil {
		return err
	}
	h := hub.NewTagHistory(history...)
	for _, t := range d.Tags() {
		if field, reason := h.Check(t); reason != "" {
			return huiyan.Errorf(huiyan.EInvalid, "tag dictionary version %d: %s: %s", d.Version(), field, reason)
		}
	}
	for _, code := range hub.RequiredTags {
		if d.ByCode(code) == nil {
			return huiyan.Errorf(huiyan.EInvalid, "tag dictionary version %d: tag %s is missing", d.Version(), code)
		}
	}
	return putJSON(tx.Bucket(bDicts), be64(uint64(d.Version())),
		dictRecord{Since: imp.Version, ImportID: imp.ID, Dict: *hub.NewDictWire(d)})
}

// dictState is what the leader needs to check an uploaded dictionary: the
// current one, the history and whether the cluster stored any yet.
type dictState struct {
	current *huiyan.TagDict
	history *hub.TagHistory
	stored  bool
}

func (f *fsm) dictState() (*dictState, error) {
	var st dictState
	err := f.view(func(tx *bolt.Tx) error {
		dicts, err := storedDicts(tx)
		if err != nil {
			return err
		}
		st.stored = len(dicts) > 0
		if !slices.ContainsFunc(dicts, func(d *huiyan.TagDict) bool { return d.Version() == huiyan.DictVersion }) {
			// A fresh cluster, or a state from before dictionaries were
			// stored: the shipped dictionary is version 1.
			dicts = append([]*huiyan.TagDict{huiyan.DefaultTagDict()}, dicts...)
		}
		st.history = hub.NewTagHistory(dicts...)
		st.current = dicts[len(dicts)-1]
		if v := getU64(tx.Bucket(bMeta), kVersion); v > 0 {
			ver, err := getVersion(tx, v)
			if err != nil {
				return err
			}
			if st.current, err = dictByVersion(tx, ver.DictVersion); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// Dict returns the tag dictionary of a committed data version: the one its
// customers' tag ids come from, which its manifests carry.
func (s *Store) Dict(version uint64) (*huiyan.TagDict, error) {
	var d *huiyan.TagDict
	err := s.fsm.view(func(tx *bolt.Tx) error {
		if v := getU64(tx.Bucket(bMeta), kVersion); version == 0 || version > v {
			return fmt.Errorf("version %d: %w", version, ErrNotFound)
		}
		ver, err := getVersion(tx, version)
		if err != nil {
			return fmt.Errorf("version %d: %w", version, err)
		}
		d, err = dictByVersion(tx, ver.DictVersion)
		return err
	})
	return d, err
}
