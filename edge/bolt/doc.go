// Package bolt implements edge.Store on one bbolt file: the branch's slice of
// HQ's snapshot and everything that happens at the branch, each arrival
// committed (and fsynced) with its visit, feed event and dedupe mark.
//
// # Buckets
//
//	meta           "schema" → uvarint SchemaVersion; "gen" → uvarint active
//	               generation; "lastgen" → last generation handed out;
//	               "meta" → meta record (edge.Meta); "outbox_dropped" →
//	               uvarint count of outbox events dropped at a limit
//	dict           "dict" → dictionary record (version and every tag)
//	staff          staff id → staff record
//	customers.N    customer id → customer record        (generation N)
//	aliases.N      32 token bytes → customer id          (generation N)
//	visits         visit id → visit record, with its open-index subject
//	open           subject → visit id, for open visits only
//	dedupe         device 0x00 event id → visit id and commit time
//	feed           8-byte big-endian seq → feed event record
//	cards          visit id → card record
//	sessions       session token hash → session record
//	devices        device id → device state record
//	outbox         8-byte big-endian outbox seq → hub event record (outbox.go)
//
// Alias keys are the 32 bytes a token's 64 hex characters stand for: half
// the size, in the bucket with the most keys (3–4 per customer). Records use the compact,
// versioned binary encoding described in codec.go, never JSON or gob: the
// cache of 200,000 customers must fit a small box, and a record written
// today must still decode after an upgrade.
//
// The feed seq is the feed bucket's own sequence (bbolt NextSequence),
// committed in the same transaction as the event: strictly increasing,
// surviving restarts, and never reset by Purge, which trims the feed from its
// oldest end and always keeps the newest event.
//
// # Snapshot generations
//
// Customers and aliases live in generation buckets. ReplaceSnapshot writes a
// new data set into a fresh generation N+1 in transactions of about 10,000
// customers, then one small transaction points "gen" at it and writes the
// meta, dictionary and roster that go with it, and a last one deletes
// generation N. Readers take "gen" as of their own transaction's state, so a
// transaction sees either the old data set with the old meta or the new one
// with the new meta, never a mix, while arrivals keep committing between the
// batches. (A read transaction usually takes it from a cache of the
// transaction ids it is known for, genSpan, instead of reading the meta
// bucket; the generation only ever grows with the id, which makes that
// sound.) A last pass reads through the new generation once, so that the
// first arrivals after a swap do not take the page faults of mapping it.
//
// Why not one transaction: bbolt holds every node a write transaction
// touches in memory until it commits, and the single writer lock for as
// long; a 200,000-customer transaction takes hundreds of MB on a box with
// 1–2 GB and would stall every arrival for the whole import. Why not update
// in place batch by batch: a reader would see a half-applied snapshot, and a
// crash would leave one.
//
// A failed or cancelled ReplaceSnapshot deletes its generation; after a
// crash, Open deletes every generation bucket that is not the active one.
// Because nothing but the "gen" pointer makes a generation live, the stored
// meta always describes the stored data.
//
// Measured with 100,000 synthetic customers (3–4 tokens each): 359 bytes
// of keys and records per customer, 534 bytes of B+tree pages, an 81 MB
// file; a replace holds two generations for a while, so budget about twice
// that. A 200,000-customer snapshot in one transaction instead of batches of
// 10,000 roughly doubled the process's peak memory (to about 1 GB).
//
// # Lookups
//
// A lookup by token is a read transaction, two B+tree descents (alias,
// then customer) and a decode (BenchmarkResolve: 1,000,000 customers).
// With the data this large the descents' cache and TLB misses are most
// of its time, so the rest is kept small: the generation from genSpan
// (no meta bucket), no bbolt statistics (two trips through a mutex every
// lookup shares), and a decoded customer in three allocations
// (customerMem). Write transactions encode their keys and values into
// arena chunks reused across transactions (tx.room), and do not put what
// is already stored: a Put makes bbolt load, rewrite and write back the
// page and its parents.
//
// # Locking and durability
//
// bbolt takes an exclusive flock on the file: a second process opening the
// same file fails after the Open timeout with ErrLocked instead of hanging.
// The freelist is not written at each commit (bbolt NoFreelistSync): after a
// generation is freed it is large, and writing it would add to every
// arrival's fsync; Open rebuilds it by scanning the file instead.
package bolt
