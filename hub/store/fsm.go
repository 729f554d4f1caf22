package store

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"

	"huiyan"
)

// The state database (state.db) is the FSM. It is persistent: every command
// is applied in a bbolt transaction that also records the log index, so a
// restart replays only what the database has not seen (raft's
// NoSnapshotRestoreOnStart) instead of copying the whole state back from
// the last snapshot. See DESIGN.md in this folder, "State".
var (
	bMeta     = []byte("meta")     // the keys below
	bMembers  = []byte("members")  // node id → memberCmd
	bKeys     = []byte("keys")     // key id → keyCmd
	bImports  = []byte("imports")  // import id → Import
	bVersions = []byte("versions") // be64(version) → Version
	bCust     = []byte("cust")     // id 0 ^from → be64(to) sha256 record
	bBidx     = []byte("bidx")     // branch 0 id 0 ^from → ""
	bBcount   = []byte("bcount")   // branch → be64(customers now)
	bDead     = []byte("dead")     // be64(to) id 0 ^from → "": rows that ended, for GC and undo
	bBorn     = []byte("born")     // be64(from) id → "": rows an open import wrote, for undo
	bStaff    = []byte("staff")    // be64(version) → gzipped JSON []staffRecord
	bCreds    = []byte("creds")    // branch → credentialCmd
	bCredHash = []byte("credhash") // sha256(credential) → branch
	bApplied  = []byte("applied")  // branch → appliedState
	bEvents   = []byte("events")   // branch 0 event id → be64(log index)
	bEventAt  = []byte("eventat")  // be64(event time, unix s) branch 0 event id → "": retention (events.go)
	bVisits   = []byte("visits")   // branch 0 visit id → visitFacts JSON (events.go)
	bVisitDay = []byte("visitday") // day 0 branch 0 visit id → "": reports and retention (events.go)
	bStatus   = []byte("status")   // branch → EdgeStatus JSON, the last heartbeat (events.go)

	allBuckets = [][]byte{bMeta, bMembers, bKeys, bImports, bVersions, bCust, bBidx, bBcount,
		bDead, bBorn, bStaff, bCreds, bCredHash, bApplied, bEvents, bEventAt, bVisits, bVisitDay, bStatus,
		bDicts, bPrizes}

	bDicts  = []byte("dicts")  // be64(dict version) → dictRecord: every tag dictionary (dict.go)
	bPrizes = []byte("prizes") // be64(version) → be64(tables); be64(version) branch → canonical table (prizes.go)

	kApplied = []byte("applied_index") // be64: the last log index applied
	kSchema  = []byte("schema")        // be64: stateSchema
	kVersion = []byte("version")       // be64: the newest committed version
	kActive  = []byte("active_import") // the open import's id, absent when none
	kKey     = []byte("active_key")    // the signing key's id
	kLive    = []byte("live")          // be64: customers in the newest state
	kPurged  = []byte("purged_before") // day: visits and event ids before it are forgotten (events.go)
)

// stateSchema is the layout above; a node refuses a state.db of another.
const stateSchema = 1

// live is the "to" of a row that has not ended.
const live = math.MaxUint64

// snapshotMagic starts every FSM snapshot, before the bbolt file.
var snapshotMagic = []byte("huiyan-hub-state/1\n")

// response is what Apply returns for every command: the application error,
// the same on every node because it depends only on the state and the
// command, and the command's result.
type response struct {
	err   error
	value any
}

// appliedState is a branch's report of the version it holds.
type appliedState struct {
	Version    uint64    `json:"version"`
	Since      time.Time `json:"since"`
	ReportedAt time.Time `json:"reported_at"`
}

// fsm applies commands to state.db.
type fsm struct {
	path    string
	log     *slog.Logger
	retain  uint64
	mmapLen int

	// mu guards the db pointer: Restore swaps the file under the write
	// lock, readers hold the read lock for their transaction.
	mu sync.RWMutex
	db *bolt.DB

	// broken is set when a state write fails: from then on nothing is
	// applied, so that this node never goes on from a state the others do
	// not have. Only Apply and Restore touch it (raft's FSM goroutine).
	broken error

	applied  atomic.Uint64 // the last log index applied
	restores atomic.Int64  // snapshots restored, for tests and logs
	version  atomic.Uint64 // the newest committed version

	// onKey runs after a key command commits and after Restore: the store
	// writes hub.pub. Set before raft starts.
	onKey func()
	// onApply counts commands for metrics; may be nil.
	onApply func(t commandType, d time.Duration, err error)
}

var (
	_ raft.FSM         = (*fsm)(nil)
	_ raft.BatchingFSM = (*fsm)(nil)
)

func openFSM(path string, retain int, mmapLen int, log *slog.Logger) (*fsm, error) {
	f := &fsm{path: path, log: log, retain: uint64(retain), mmapLen: mmapLen}
	if err := f.open(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *fsm) open() error {
	db, err := bolt.Open(f.path, 0o600, &bolt.Options{
		Timeout:         5 * time.Second,
		InitialMmapSize: f.mmapLen,
		FreelistType:    bolt.FreelistMapType,
		NoFreelistSync:  true,
	})
	if err != nil {
		return fmt.Errorf("open state: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		m := tx.Bucket(bMeta)
		switch s := getU64(m, kSchema); s {
		case 0:
			return m.Put(kSchema, be64(stateSchema))
		case stateSchema:
			return nil
		default:
			return fmt.Errorf("state schema %d, this hub knows %d", s, stateSchema)
		}
	})
	if err != nil {
		db.Close()
		return fmt.Errorf("open state: %w", err)
	}
	f.db = db
	return db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		f.applied.Store(getU64(m, kApplied))
		f.version.Store(getU64(m, kVersion))
		return nil
	})
}

func (f *fsm) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.db == nil {
		return nil
	}
	err := f.db.Close()
	f.db = nil
	return err
}

// view runs fn in a read transaction of the current state.
func (f *fsm) view(fn func(tx *bolt.Tx) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return ErrClosed
	}
	return f.db.View(fn)
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// errSlowPath rolls a batch back so that its commands are applied one by
// one: one of them failed with an application error, and the others must
// not be lost with it.
var errSlowPath = errors.New("apply one by one")

// ApplyBatch implements raft.BatchingFSM: the commands of one batch share a
// transaction and so one fsync, which is what makes an import fast. When a
// command fails with an application error the batch is rolled back and
// applied again one command per transaction, so the failed one is undone
// alone and the others still apply.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	if f.broken != nil {
		for i := range out {
			out[i] = response{err: ErrBroken}
		}
		return out
	}
	var keyChanged bool
	start := time.Now()
	err := f.db.Update(func(tx *bolt.Tx) error {
		keyChanged = false
		m := tx.Bucket(bMeta)
		applied := getU64(m, kApplied)
		for i, l := range logs {
			if l.Type != raft.LogCommand || l.Index <= applied {
				continue
			}
			v, kc, err := f.applyCommand(tx, l)
			if err != nil {
				if huiyan.ErrorCode(err) != huiyan.EInternal {
					return errSlowPath
				}
				return err
			}
			keyChanged = keyChanged || kc
			out[i] = response{value: v}
			applied = l.Index
		}
		return m.Put(kApplied, be64(applied))
	})
	switch {
	case err == nil:
		f.committed(logs, keyChanged, start, out)
	case errors.Is(err, errSlowPath):
		for i, l := range logs {
			out[i] = f.applyOne(l)
		}
	default:
		f.fail(err)
		for i := range out {
			out[i] = response{err: ErrBroken}
		}
	}
	return out
}

// applyOne applies one command in its own transaction. An application
// error rolls the command's writes back; the log index is recorded in a
// second transaction so that a replay does not apply it again.
func (f *fsm) applyOne(l *raft.Log) response {
	if f.broken != nil {
		return response{err: ErrBroken}
	}
	start := time.Now()
	var resp response
	var keyChanged bool
	err := f.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		if l.Type != raft.LogCommand || l.Index <= getU64(m, kApplied) {
			return nil
		}
		v, kc, err := f.applyCommand(tx, l)
		if err != nil {
			return err
		}
		resp, keyChanged = response{value: v}, kc
		return m.Put(kApplied, be64(l.Index))
	})
	if err != nil && huiyan.ErrorCode(err) != huiyan.EInternal {
		resp = response{err: err}
		err = f.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bMeta).Put(kApplied, be64(l.Index))
		})
	}
	if err != nil {
		f.fail(err)
		return response{err: ErrBroken}
	}
	f.committed([]*raft.Log{l}, keyChanged, start, []any{resp})
	return resp
}

func (f *fsm) fail(err error) {
	f.broken = err
	f.log.Error("state write failed: this node stops applying commands; restart it", "err", err)
}

// committed refreshes the cached counters and runs the hooks after a commit.
func (f *fsm) committed(logs []*raft.Log, keyChanged bool, start time.Time, out []any) {
	_ = f.db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		f.applied.Store(getU64(m, kApplied))
		f.version.Store(getU64(m, kVersion))
		return nil
	})
	if f.onApply != nil {
		d := time.Since(start)
		for i, l := range logs {
			if l.Type != raft.LogCommand || len(l.Data) < 2 {
				continue
			}
			var err error
			if r, ok := out[i].(response); ok {
				err = r.err
			}
			f.onApply(commandType(l.Data[1]), d/time.Duration(len(logs)), err)
		}
	}
	if keyChanged && f.onKey != nil {
		f.onKey()
	}
}

// applyCommand applies one command in tx. A *huiyan.Error is an application
// error (the same on every node); any other error is a failed write. The
// bool reports a signing key change.
func (f *fsm) applyCommand(tx *bolt.Tx, l *raft.Log) (any, bool, error) {
	c, err := decodeCommand(l.Data)
	if err != nil {
		return nil, false, err
	}
	switch c.Type {
	case cmdSetMember:
		var h memberCmd
		if err := c.decodeHeader(&h); err != nil {
			return nil, false, err
		}
		return nil, false, putJSON(tx.Bucket(bMembers), []byte(h.ID), h)
	case cmdRemoveMember:
		var h removeMemberCmd
		if err := c.decodeHeader(&h); err != nil {
			return nil, false, err
		}
		return nil, false, tx.Bucket(bMembers).Delete([]byte(h.ID))
	case cmdSetKey:
		var h keyCmd
		if err := c.decodeHeader(&h); err != nil {
			return nil, false, err
		}
		return nil, true, f.applySetKey(tx, &h)
	case cmdImportStart:
		var h importStartCmd
		if err := c.decodeHeader(&h); err != nil {
			return nil, false, err
		}
		v, err := f.applyImportStart(tx, &h)
		return v, false, err
	case cmdImportBatch:
		var h importBatchCmd
		if err := c.decodeHeader(&h); err != nil {
			return nil, false, err
		}
		return nil, false, f.applyImportBatch(tx, &h, c.Blob)
	case cmdImportProgress:
		var h importProgressCmd
		if err := c.decodeHeader(&h); err != nil {
			return nil, false, err
		}
		return nil, false, f.updateImport(tx, h.ID, func(imp *Import) error {
			imp.Rows, imp.Errors = h.Rows, h.Errors
			return nil
		})
	case cmdImportDelete:
		var h importDeleteCmd
		if err := c.decodeHeader(&h); err != nil {
			return nil, false, err
		}
		return nil, false, f.applyImportDelete(tx, &h)
	case cmdImportStaff:
		var h importStaffCmd
		if err := c.decodeHeader(&h); err != nil {
			return nil, false, err
		}
		return nil, false, f.applyImportStaff(tx, &h, c.Blob)
	case cmdImportPrizes:
		var h importPrizesCmd
		if err := c.decodeHeader(&h); err != nil {
			return nil, false, err
		}
		return nil, false, f.applyImportPrizes(tx, &h, c.Blob)
	case cmdImportFinish:
		var h importFinishCmd
		if err := c.decodeHeader(&h); err != nil {
			return nil, false, err
		}
		v, err := f.applyImportFinish(tx, &h, c.Blob)
		return v, false, err
	case cmdSetCredential:
		var h credentialCmd
		if err := c.decodeHeader(&h); err != nil {
			return nil, false, err
		}
		return nil, false, f.applySetCredential(tx, &h)
	case cmdReportApplied:
		var h appliedCmd
		if err := c.decodeHeader(&h); err != nil {
			return nil, false, err
		}
		return nil, false, f.applyReportApplied(tx, &h)
	case cmdRecordEvents:
		var h eventsCmd
		if err := c.decodeHeader(&h); err != nil {
			return nil, false, err
		}
		v, err := f.applyRecordEvents(tx, &h, l.Index)
		return v, false, err
	case cmdEvents:
		var h eventBatchCmd
		if err := c.decodeHeader(&h); err != nil {
			return nil, false, err
		}
		v, err := f.applyEvents(tx, &h, l.Index)
		return v, false, err
	case cmdEdgeStatus:
		var h statusCmd
		if err := c.decodeHeader(&h); err != nil {
			return nil, false, err
		}
		return nil, false, f.applyEdgeStatus(tx, &h)
	case cmdPurgeEvents:
		var h purgeCmd
		if err := c.decodeHeader(&h); err != nil {
			return nil, false, err
		}
		v, err := f.applyPurge(tx, &h)
		return v, false, err
	}
	return nil, false, huiyan.Errorf(huiyan.EInvalid, "command %s has no handler", c.Type)
}

func (f *fsm) applySetKey(tx *bolt.Tx, h *keyCmd) error {
	if len(h.Public) != 32 || h.KeyID == "" {
		return huiyan.Errorf(huiyan.EInvalid, "set_key: bad key")
	}
	m := tx.Bucket(bMeta)
	if cur := m.Get(kKey); cur != nil && string(cur) != h.KeyID {
		// One key for the cluster (DESIGN.md, "Commands"): replacing it
		// would break every pinned edge. Rotation is a later, explicit
		// command that keeps the old key listed.
		return huiyan.Errorf(huiyan.EConflict, "the cluster already has signing key %s", cur)
	}
	if err := putJSON(tx.Bucket(bKeys), []byte(h.KeyID), h); err != nil {
		return err
	}
	return m.Put(kKey, []byte(h.KeyID))
}

// --- imports ---

func (f *fsm) applyImportStart(tx *bolt.Tx, h *importStartCmd) (uint64, error) {
	m := tx.Bucket(bMeta)
	if a := m.Get(kActive); a != nil {
		return 0, huiyan.Errorf(huiyan.EConflict, "import %s is still running: one import at a time", a)
	}
	if tx.Bucket(bImports).Get([]byte(h.ID)) != nil {
		return 0, huiyan.Errorf(huiyan.EConflict, "import %s exists", h.ID)
	}
	version := getU64(m, kVersion) + 1
	imp := Import{ID: h.ID, Status: StatusReceiving, Version: version, Name: h.Name, Format: h.Format, Node: h.Node, StartedAt: h.At}
	if err := putJSON(tx.Bucket(bImports), []byte(h.ID), imp); err != nil {
		return 0, err
	}
	return version, m.Put(kActive, []byte(h.ID))
}

// activeImport returns the open import, which must be id.
func activeImport(tx *bolt.Tx, id string) (*Import, error) {
	if a := tx.Bucket(bMeta).Get(kActive); string(a) != id {
		return nil, huiyan.Errorf(huiyan.EConflict, "import %s is not running", id)
	}
	var imp Import
	if err := getJSON(tx.Bucket(bImports), []byte(id), &imp); err != nil {
		return nil, err
	}
	return &imp, nil
}

func (f *fsm) updateImport(tx *bolt.Tx, id string, fn func(*Import) error) error {
	imp, err := activeImport(tx, id)
	if err != nil {
		return err
	}
	if err := fn(imp); err != nil {
		return err
	}
	return putJSON(tx.Bucket(bImports), []byte(id), imp)
}

// applyImportBatch writes the batch's customers as rows of the pending
// version: a customer whose bytes are unchanged keeps its row; a changed or
// new one gets a row from the pending version on, and its old row ends
// there. Readers of committed versions do not see any of it: a row is
// visible at version v when from <= v < to, and the pending version is
// above every committed one.
func (f *fsm) applyImportBatch(tx *bolt.Tx, h *importBatchCmd, blob []byte) error {
	return f.updateImport(tx, h.ID, func(imp *Import) error {
		zr, err := gzip.NewReader(bytes.NewReader(blob))
		if err != nil {
			return huiyan.Errorf(huiyan.EInvalid, "import_batch: %v", err)
		}
		data, err := io.ReadAll(zr)
		if err != nil {
			return huiyan.Errorf(huiyan.EInvalid, "import_batch: %v", err)
		}
		rows := newRowWriter(tx, imp.Version)
		n := 0
		for line := range bytes.Lines(data) {
			line = bytes.TrimSuffix(line, []byte("\n"))
			r, err := decodeRecord(line)
			if err != nil {
				return huiyan.Errorf(huiyan.EInvalid, "import_batch %d: line %d: %v", h.Seq, n+1, err)
			}
			n++
			changed, err := rows.upsert(r, line)
			if err != nil {
				return err
			}
			if changed {
				imp.Changed++
			}
		}
		if n != h.Records {
			return huiyan.Errorf(huiyan.EInvalid, "import_batch %d: %d records, header says %d", h.Seq, n, h.Records)
		}
		imp.Customers += n
		imp.Rows, imp.Errors = h.Rows, h.Errors
		return nil
	})
}

func (f *fsm) applyImportDelete(tx *bolt.Tx, h *importDeleteCmd) error {
	return f.updateImport(tx, h.ID, func(imp *Import) error {
		rows := newRowWriter(tx, imp.Version)
		for _, id := range h.IDs {
			ok, err := rows.end(id)
			if err != nil {
				return err
			}
			if ok {
				imp.Deleted++
			}
		}
		return nil
	})
}

func (f *fsm) applyImportStaff(tx *bolt.Tx, h *importStaffCmd, blob []byte) error {
	return f.updateImport(tx, h.ID, func(imp *Import) error {
		imp.Staff = h.Count
		return tx.Bucket(bStaff).Put(be64(imp.Version), bytes.Clone(blob))
	})
}

// applyImportFinish commits the open import as a new version, or undoes
// everything it wrote. A committed import's blob is the tag dictionary it
// brings, stored as the dictionary of the new version (dict.go).
func (f *fsm) applyImportFinish(tx *bolt.Tx, h *importFinishCmd, blob []byte) (*Import, error) {
	imp, err := activeImport(tx, h.ID)
	if err != nil {
		return nil, err
	}
	m := tx.Bucket(bMeta)
	imp.Status, imp.FinishedAt, imp.Message = h.Outcome, h.At, h.Message
	imp.Rows, imp.Errors, imp.LineErrors = h.Rows, h.Errors, h.LineErrors
	rows := newRowWriter(tx, imp.Version)
	switch h.Outcome {
	case StatusCommitted:
		if imp.Customers == 0 {
			return nil, huiyan.Errorf(huiyan.EInvalid, "import %s has no customers", h.ID)
		}
		if err := rows.forget(); err != nil {
			return nil, err
		}
		staffVersion, dictVersion, prizesVersion := uint64(0), 0, uint64(0)
		if prev, err := getVersion(tx, imp.Version-1); err == nil {
			staffVersion, dictVersion, prizesVersion = prev.StaffVersion, prev.DictVersion, prev.PrizesVersion
		}
		if tx.Bucket(bStaff).Get(be64(imp.Version)) != nil {
			staffVersion = imp.Version
		}
		// An import without prize tables carries the previous version's
		// forward, as for the roster.
		if tx.Bucket(bPrizes).Get(be64(imp.Version)) != nil {
			prizesVersion = imp.Version
		}
		if h.Dict != 0 {
			d, err := decodeDict(blob)
			if err == nil && d.Version() != h.Dict {
				err = fmt.Errorf("blob has version %d", d.Version())
			}
			if err != nil {
				return nil, huiyan.Errorf(huiyan.EInvalid, "import_finish: tag dictionary %d: %v", h.Dict, err)
			}
			if err := putDict(tx, d, dictVersion, imp); err != nil {
				return nil, err
			}
			dictVersion = d.Version()
		}
		if dictVersion == 0 {
			dictVersion = huiyan.DictVersion // a state from before dictionaries were stored
		}
		imp.DictVersion, imp.DictTags = dictVersion, h.DictTags
		v := Version{
			Version: imp.Version, ImportID: imp.ID, CreatedAt: h.At,
			Customers: int(getU64(m, kLive)), Changed: imp.Changed, Deleted: imp.Deleted,
			DictVersion: dictVersion, StaffVersion: staffVersion, PrizesVersion: prizesVersion,
		}
		if err := putJSON(tx.Bucket(bVersions), be64(v.Version), v); err != nil {
			return nil, err
		}
		if err := m.Put(kVersion, be64(v.Version)); err != nil {
			return nil, err
		}
		if err := f.collect(tx, v.Version); err != nil {
			return nil, err
		}
	case StatusRefused, StatusFailed:
		if err := rows.undo(); err != nil {
			return nil, err
		}
		if err := tx.Bucket(bStaff).Delete(be64(imp.Version)); err != nil {
			return nil, err
		}
		if err := deletePrizes(tx, func(v uint64) bool { return v == imp.Version }); err != nil {
			return nil, err
		}
	default:
		return nil, huiyan.Errorf(huiyan.EInvalid, "import_finish: outcome %q", h.Outcome)
	}
	if err := putJSON(tx.Bucket(bImports), []byte(imp.ID), imp); err != nil {
		return nil, err
	}
	return imp, m.Delete(kActive)
}

// collect drops what no retained version needs once newest is committed:
// rows that ended at or before the oldest retained version, and rosters
// and prize tables older than the ones that version uses.
func (f *fsm) collect(tx *bolt.Tx, newest uint64) error {
	if newest < f.retain {
		return nil
	}
	oldest := newest - f.retain + 1
	rows := newRowWriter(tx, 0)
	// Keys are gathered first: deleting under a bbolt cursor skips keys.
	var gone [][]byte
	c := tx.Bucket(bDead).Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k[:8]) <= oldest; k, _ = c.Next() {
		gone = append(gone, bytes.Clone(k))
	}
	for _, k := range gone {
		id, from := splitIDFrom(k[8:])
		if err := rows.remove(id, from, false); err != nil {
			return err
		}
		if err := tx.Bucket(bDead).Delete(k); err != nil {
			return err
		}
	}
	if v, err := getVersion(tx, oldest); err == nil && v.StaffVersion > 0 {
		var old [][]byte
		sc := tx.Bucket(bStaff).Cursor()
		for k, _ := sc.First(); k != nil && binary.BigEndian.Uint64(k) < v.StaffVersion; k, _ = sc.Next() {
			old = append(old, bytes.Clone(k))
		}
		for _, k := range old {
			if err := tx.Bucket(bStaff).Delete(k); err != nil {
				return err
			}
		}
	}
	if v, err := getVersion(tx, oldest); err == nil && v.PrizesVersion > 0 {
		if err := deletePrizes(tx, func(pv uint64) bool { return pv < v.PrizesVersion }); err != nil {
			return err
		}
	}
	return nil
}

// --- credentials, applied versions, events ---

func (f *fsm) applySetCredential(tx *bolt.Tx, h *credentialCmd) error {
	if !huiyan.ValidBranchID(h.Branch) || len(h.Hash) != sha256.Size {
		return huiyan.Errorf(huiyan.EInvalid, "set_credential: bad branch or hash")
	}
	creds, hashes := tx.Bucket(bCreds), tx.Bucket(bCredHash)
	var old credentialCmd
	if err := getJSON(creds, []byte(h.Branch), &old); err == nil {
		// Rotation revokes the previous credential in the same commit.
		if err := hashes.Delete(old.Hash); err != nil {
			return err
		}
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := hashes.Put(h.Hash, []byte(h.Branch)); err != nil {
		return err
	}
	return putJSON(creds, []byte(h.Branch), h)
}

func (f *fsm) applyReportApplied(tx *bolt.Tx, h *appliedCmd) error {
	if !huiyan.ValidBranchID(h.Branch) {
		return huiyan.Errorf(huiyan.EInvalid, "report_applied: bad branch")
	}
	b := tx.Bucket(bApplied)
	var st appliedState
	if err := getJSON(b, []byte(h.Branch), &st); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if st.Version != h.Version || st.Since.IsZero() {
		st.Version, st.Since = h.Version, h.At
	}
	st.ReportedAt = h.At
	return putJSON(b, []byte(h.Branch), st)
}

// --- snapshots ---

// Snapshot implements raft.FSM. A bbolt read transaction is the clone: it
// is a consistent view of the whole state, taken here in the FSM goroutine
// between two commands, and it stays valid while Persist copies it out and
// commands go on being applied (STYLE.md, habit 13; DESIGN.md in this
// folder, "Snapshots").
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return nil, ErrClosed
	}
	tx, err := f.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return &fsmSnapshot{tx: tx}, nil
}

type fsmSnapshot struct {
	tx *bolt.Tx
}

// Persist writes the magic line and the bbolt file. On failure it cancels
// the sink, so raft never keeps half a snapshot.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	err := func() error {
		w := bufio.NewWriterSize(sink, 1<<20)
		if _, err := w.Write(snapshotMagic); err != nil {
			return err
		}
		if _, err := s.tx.WriteTo(w); err != nil {
			return err
		}
		return w.Flush()
	}()
	if err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release ends the read transaction.
func (s *fsmSnapshot) Release() { _ = s.tx.Rollback() }

// Restore implements raft.FSM: the snapshot's bbolt file replaces state.db.
// The new file is written and synced beside the old one and renamed over
// it, so a crash leaves either the old state or the new, never a mix.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	tmp := f.path + ".restore"
	if err := writeSnapshotFile(tmp, rc); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := f.swap(tmp); err != nil {
		return err
	}
	f.broken = nil
	f.restores.Add(1)
	f.log.Info("state restored from snapshot", "applied_index", f.applied.Load(), "version", f.version.Load())
	if f.onKey != nil {
		f.onKey()
	}
	return nil
}

// swap replaces state.db with the file at tmp, under the write lock.
func (f *fsm) swap(tmp string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.db != nil {
		if err := f.db.Close(); err != nil {
			return fmt.Errorf("restore: close state: %w", err)
		}
		f.db = nil
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := syncDir(f.path); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := f.open(); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

func writeSnapshotFile(path string, r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	magic := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, magic); err != nil || !bytes.Equal(magic, snapshotMagic) {
		return fmt.Errorf("restore: not a hub state snapshot")
	}
	out, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if _, err := io.Copy(out, br); err != nil {
		out.Close()
		return fmt.Errorf("restore: %w", err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("restore: %w", err)
	}
	return out.Close()
}

func syncDir(path string) error {
	d, err := os.Open(dirOf(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' || path[i] == os.PathSeparator {
			return path[:i]
		}
	}
	return "."
}

// --- helpers ---

func be64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func getU64(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putJSON(b *bolt.Bucket, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(k, data)
}

func getJSON(b *bolt.Bucket, k []byte, v any) error {
	data := b.Get(k)
	if data == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %q: %w", k, err)
	}
	return nil
}

func getVersion(tx *bolt.Tx, v uint64) (*Version, error) {
	var out Version
	if err := getJSON(tx.Bucket(bVersions), be64(v), &out); err != nil {
		return nil, err
	}
	return &out, nil
}
