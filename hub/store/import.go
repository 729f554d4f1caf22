package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"huiyan"
	"huiyan/hub"
)

// ImportOptions describes one upload of HQ's snapshot.
type ImportOptions struct {
	Name   string     // the uploaded file's name, for the record
	Format hub.Format // FormatCSV or FormatJSONL
	KeyID  string     // the key id of the file's tokens (default "k1")
	// BatchBytes is the uncompressed size of one replicated batch of
	// customers (default 1 MiB, some 2,000 customers).
	BatchBytes int
	// DeleteBatch is how many deleted ids go in one command (default 10,000).
	DeleteBatch int
	// SpillMemory is the memory of the file-wide duplicate checks, which
	// spill to {data}/import-tmp beyond it (default
	// hub.DefaultSpillMemory); tests make it small to exercise the spill.
	SpillMemory int
}

// importTmp is the directory under the data directory where an import
// spills its duplicate checks; it is emptied when an import starts, so a
// crash leaves nothing behind for long.
const importTmp = "import-tmp"

// maxDictTags bounds the tags of an uploaded dictionary; far above any
// real one (the shipped one has 166), it keeps a runaway file from
// becoming one huge raft entry.
const maxDictTags = 10000

func (o *ImportOptions) setDefaults() {
	if o.KeyID == "" {
		o.KeyID = "k1"
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 1 << 20
	}
	if o.DeleteBatch <= 0 {
		o.DeleteBatch = 10000
	}
}

// ImportRun is an import the leader is driving (DESIGN.md in this folder,
// "Imports"). The customers are validated as they stream in and
// replicated in batches as rows of the version the import reserved;
// nothing is visible until Finish commits, which happens only when every
// line of every file was valid: one bad line refuses the whole import
// (all or nothing), because a snapshot is complete by definition — a
// customer whose row was refused would otherwise be deleted from every
// branch. A refused or failed import undoes its rows.
//
// Memory does not grow with the file: the customers are streamed, the
// file-wide duplicate checks spill to sorted files under {data}/import-tmp
// (hub.SnapshotOptions.SpillDir), and the customers the snapshot no longer
// has are found by merging the file's ids, in order, with the state's.
//
// Use: BeginImport, then optionally Dict (HQ's tag dictionary, before the
// tags), then Tags, and optionally Staff and Prizes, in any order, then
// Finish; or Fail at any point. An ImportRun is not safe for concurrent use, except
// Progress.
type ImportRun struct {
	s       *Store
	opts    ImportOptions
	id      string
	version uint64
	spill   string // this import's spill directory

	rows, errs atomic.Int64
	customers  int
	lineErrs   []LineError
	sr         *hub.SnapshotReader // kept after Tags for the deletes: IDs
	tagsRead   bool
	staffCount int
	seq        int
	done       bool

	// The tag dictionary: the cluster's (dicts.current), or the one the
	// upload brings (newDict), which the tags are checked against.
	dicts    *dictState
	dict     *huiyan.TagDict
	newDict  *huiyan.TagDict
	dictRead bool
	dictTags int

	prizesRead bool // HQ's prize tables came with the upload (prizes.go)
}

// BeginImport opens an import: it reserves the next version through raft.
// Leader only; EConflict while another import runs.
func (s *Store) BeginImport(ctx context.Context, opts ImportOptions) (*ImportRun, error) {
	opts.setDefaults()
	if opts.Format != hub.FormatCSV && opts.Format != hub.FormatJSONL {
		return nil, huiyan.Errorf(huiyan.EInvalid, "unknown snapshot format: want csv or jsonl")
	}
	if !s.IsLeader() {
		return nil, ErrNotLeader
	}
	r := &ImportRun{s: s, opts: opts, id: newImportID()}
	s.mu.Lock()
	if s.running != "" {
		s.mu.Unlock()
		return nil, huiyan.Errorf(huiyan.EConflict, "import %s is still running: one import at a time", s.running)
	}
	s.running = r.id
	s.mu.Unlock()
	// One import at a time on this node, so whatever is under import-tmp
	// is left over from a crash.
	tmp := filepath.Join(s.c.Dir, importTmp)
	if err := os.RemoveAll(tmp); err != nil {
		r.release()
		return nil, fmt.Errorf("import: %w", err)
	}
	r.spill = filepath.Join(tmp, r.id)
	v, err := s.apply(ctx, cmdImportStart, importStartCmd{
		ID: r.id, Name: opts.Name, Format: opts.Format.String(), Node: s.c.ID, At: time.Now().UTC(),
	}, nil)
	if err != nil {
		r.release()
		return nil, err
	}
	r.version = v.(uint64)
	// Read once the import holds the cluster's one import slot: no other
	// import can commit a dictionary until this one finishes.
	if r.dicts, err = s.fsm.dictState(); err != nil {
		_, _ = r.Fail(ctx, "the cluster's tag dictionary could not be read")
		return nil, err
	}
	r.dict = r.dicts.current
	s.log.Info("import started", "import", r.id, "version", r.version, "format", opts.Format)
	return r, nil
}

func newImportID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "imp-" + time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// ID returns the import's id.
func (r *ImportRun) ID() string { return r.id }

// Version returns the version the import will be when committed.
func (r *ImportRun) Version() uint64 { return r.version }

// Progress returns the rows read and refused so far.
func (r *ImportRun) Progress() (rows, errors int) { return int(r.rows.Load()), int(r.errs.Load()) }

func (r *ImportRun) addLineError(file string, le *hub.LineError) {
	r.errs.Add(1)
	if len(r.lineErrs) < MaxLineErrors {
		r.lineErrs = append(r.lineErrs, LineError{File: file, Line: le.Line, Field: le.Field, Reason: le.Reason})
	}
}

// batch is one replicated batch of customers.
type batch struct {
	cmd  importBatchCmd
	data []byte // JSON lines
}

// Dict reads the tag dictionary HQ uploads with the snapshot (tagdict.csv,
// hub.ReadTagDict), which must come before the tags file: the customers
// are checked against it, so that HQ can add a tag and use it the same
// night. It is checked against every dictionary the cluster has had (an
// id keeps its code and kind for ever, a code its id); bad lines become
// line errors of the file "dict" and refuse the import. When committed,
// a dictionary that differs from the cluster's becomes the next
// dictionary version, first used by this import's version; the same
// dictionary again makes no new dictionary version. A read error is
// returned.
func (r *ImportRun) Dict(ctx context.Context, rd io.Reader) error {
	switch {
	case r.dictRead:
		return huiyan.Errorf(huiyan.EInvalid, "the import already has a tag dictionary")
	case r.tagsRead:
		_, _ = io.Copy(io.Discard, rd)
		r.addLineError("dict", &hub.LineError{Reason: "the tag dictionary must come before the tags file in the upload: the customers are checked against it"})
		return nil
	}
	r.dictRead = true
	next := r.dicts.current.Version() + 1
	d, lineErrs, err := hub.ReadTagDict(rd, next, r.dicts.history)
	var le *hub.LineError
	if errors.As(err, &le) {
		r.addLineError("dict", le)
		return nil
	}
	if err != nil {
		return err
	}
	for _, le := range lineErrs {
		r.addLineError("dict", le)
	}
	if n := len(d.Tags()); n > maxDictTags {
		r.addLineError("dict", &hub.LineError{Reason: fmt.Sprintf("%d tags, at most %d", n, maxDictTags)})
		return nil
	}
	// Even a refused dictionary is what the tags are checked against, so
	// that HQ sees the snapshot's own errors, not one per new tag.
	r.dict, r.dictTags = d, len(d.Tags())
	if len(lineErrs) == 0 && !hub.SameTags(d, r.dicts.current) {
		r.newDict = d
	}
	return nil
}

// Tags reads the snapshot file. Bad rows become line errors (and stop the
// replication of further rows: the import will be refused); a read error
// is returned, and the caller then calls Fail.
func (r *ImportRun) Tags(ctx context.Context, rd io.Reader) error {
	if r.tagsRead {
		return huiyan.Errorf(huiyan.EInvalid, "the import already has a tags file")
	}
	r.tagsRead = true
	sr, err := hub.NewSnapshotReader(rd, r.opts.Format, r.dict, hub.SnapshotOptions{
		KeyID: r.opts.KeyID, SpillDir: r.spill, SpillMemory: r.opts.SpillMemory,
	})
	var le *hub.LineError
	if errors.As(err, &le) {
		r.rows.Add(1)
		r.addLineError("tags", le)
		_, _ = io.Copy(io.Discard, rd) // the upload goes on; read it so the client sees the answer
		return nil
	}
	if err != nil {
		return err
	}
	r.sr = sr

	send := r.sender(ctx)
	var buf bytes.Buffer
	records := 0
	flush := func() error {
		if records == 0 {
			return nil
		}
		r.seq++
		b := batch{
			cmd:  importBatchCmd{ID: r.id, Seq: r.seq, Records: records, Rows: int(r.rows.Load()), Errors: int(r.errs.Load())},
			data: bytes.Clone(buf.Bytes()),
		}
		buf.Reset()
		records = 0
		return send.send(b)
	}
	lastProgress := time.Now()
	for {
		c, err := sr.Next()
		if err == io.EOF {
			break
		}
		r.rows.Store(int64(sr.Rows()))
		if errors.As(err, &le) {
			r.addLineError("tags", le)
			continue
		}
		if err != nil {
			send.close()
			return err
		}
		if r.errs.Load() > 0 {
			// Refused already: read on to report every bad line, replicate
			// nothing more, and tell followers how far we are now and then.
			if time.Since(lastProgress) > time.Second {
				lastProgress = time.Now()
				if _, err := r.s.apply(ctx, cmdImportProgress, importProgressCmd{ID: r.id, Rows: int(r.rows.Load()), Errors: int(r.errs.Load())}, nil); err != nil {
					send.close()
					return err
				}
			}
			continue
		}
		line, err := encodeCustomer(c)
		if err != nil {
			send.close()
			return err
		}
		buf.Write(line)
		buf.WriteByte('\n')
		records++
		r.customers++
		if buf.Len() >= r.opts.BatchBytes {
			if err := flush(); err != nil {
				send.close()
				return err
			}
		}
	}
	if r.errs.Load() == 0 {
		if err := flush(); err != nil {
			send.close()
			return err
		}
	}
	r.s.metrics.importRows.Add(float64(r.rows.Load()))
	return send.close()
}

// sender compresses and proposes batches while the next one is read, with
// a few proposals in flight so that raft can put several in one append
// and the FSM several in one transaction.
type sender struct {
	r    *ImportRun
	ch   chan batch
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
	once sync.Once
}

const inFlight = 4

func (r *ImportRun) sender(ctx context.Context) *sender {
	s := &sender{r: r, ch: make(chan batch, 2)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var futures []raft.ApplyFuture
		wait := func(f raft.ApplyFuture) {
			err := r.s.await(context.WithoutCancel(ctx), f)
			if err == nil {
				if resp, ok := f.Response().(response); ok {
					err = resp.err
				}
			}
			if err != nil {
				s.fail(err)
			}
		}
		for b := range s.ch {
			if s.failed() != nil || ctx.Err() != nil {
				s.fail(ctx.Err())
				continue // drain
			}
			var z bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
			zw.Write(b.data)
			zw.Close()
			cmd, err := encodeCommand(cmdImportBatch, b.cmd, z.Bytes())
			if err != nil {
				s.fail(err)
				continue
			}
			futures = append(futures, r.s.raft.Apply(cmd, r.s.c.ApplyTimeout))
			if len(futures) >= inFlight {
				wait(futures[0])
				futures = futures[1:]
			}
		}
		for _, f := range futures {
			wait(f)
		}
	}()
	return s
}

func (s *sender) fail(err error) {
	if err == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func (s *sender) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *sender) send(b batch) error {
	if err := s.failed(); err != nil {
		return err
	}
	s.ch <- b
	return nil
}

// close waits for every batch to be applied on this node.
func (s *sender) close() error {
	s.once.Do(func() { close(s.ch) })
	s.wg.Wait()
	return s.failed()
}

// Staff reads the staff roster that comes with the snapshot. Bad rows
// become line errors; a read error is returned.
func (r *ImportRun) Staff(ctx context.Context, rd io.Reader) error {
	staff, lineErrs, err := hub.ReadStaff(rd)
	var le *hub.LineError
	if errors.As(err, &le) {
		r.addLineError("staff", le)
		return nil
	}
	if err != nil {
		return err
	}
	for _, le := range lineErrs {
		r.addLineError("staff", le)
	}
	if len(lineErrs) > 0 {
		return nil
	}
	blob, err := encodeStaff(staff)
	if err != nil {
		return err
	}
	r.staffCount = len(staff)
	_, err = r.s.apply(ctx, cmdImportStaff, importStaffCmd{ID: r.id, Count: len(staff)}, blob)
	return err
}

// Finish commits the import as a new version when every line was valid,
// and refuses it otherwise. It returns the import as the cluster recorded
// it. An error (not the leader any more, a lost quorum) leaves the import
// open for the next leader to fail.
func (r *ImportRun) Finish(ctx context.Context) (*Import, error) {
	defer r.release()
	rows, errs := r.Progress()
	fin := importFinishCmd{ID: r.id, Rows: rows, Errors: errs, LineErrors: r.lineErrs, DictTags: r.dictTags}
	var blob []byte
	switch {
	case !r.tagsRead:
		fin.Outcome, fin.Message = StatusRefused, "no tags file in the upload"
	case errs > 0:
		fin.Outcome = StatusRefused
		fin.Message = fmt.Sprintf("%d bad lines: nothing was imported (an import is all or nothing); fix them and upload again", errs)
	case r.customers == 0:
		fin.Outcome, fin.Message = StatusRefused, "the snapshot has no customers"
	default:
		fin.Outcome = StatusCommitted
		if err := r.deletes(ctx); err != nil {
			return nil, err
		}
		// The dictionary goes with the commit: a new one, or the one in use
		// when the cluster has stored none yet (its first import).
		d := r.newDict
		if d == nil && !r.dicts.stored {
			d = r.dicts.current
		}
		if d != nil {
			var err error
			if blob, err = encodeDict(d); err != nil {
				return nil, err
			}
			fin.Dict = d.Version()
		}
	}
	fin.At = time.Now().UTC()
	v, err := r.s.apply(ctx, cmdImportFinish, fin, blob)
	if err != nil {
		return nil, err
	}
	r.done = true
	imp := v.(*Import)
	r.s.metrics.imports.WithLabelValues(string(imp.Status)).Inc()
	r.s.log.Info("import finished", "import", r.id, "status", imp.Status, "version", imp.Version,
		"rows", imp.Rows, "errors", imp.Errors, "changed", imp.Changed, "deleted", imp.Deleted)
	return imp, nil
}

// deletes replicates the ids of the customers the new snapshot no longer
// has: every current customer whose id was not in the file. The file's ids
// come sorted from the reader's spill files and the state's in the same
// order, so one merge of the two finds them in constant memory; the
// state is read a page at a time, and the ids proposed between pages, so
// that no read transaction stays open while the FSM writes.
func (r *ImportRun) deletes(ctx context.Context) error {
	if r.sr == nil {
		return errors.New("import: no tags file read")
	}
	next, stop := iter.Pull2(r.sr.IDs())
	defer stop()
	file, err, more := next()
	if err != nil {
		return err
	}
	var ids []string
	// flush proposes the gathered ids in commands of DeleteBatch, all of
	// them at the end, or while a whole command's worth is waiting.
	flush := func(all bool) error {
		for len(ids) >= r.opts.DeleteBatch || (all && len(ids) > 0) {
			n := min(len(ids), r.opts.DeleteBatch)
			if _, err := r.s.apply(ctx, cmdImportDelete, importDeleteCmd{ID: r.id, IDs: ids[:n]}, nil); err != nil {
				return err
			}
			ids = ids[n:]
		}
		return nil
	}
	after, done := "", false
	for !done {
		after, done, err = r.s.fsm.liveIDs(r.version, after, deletePage, func(id string) error {
			for more && file < id {
				if file, err, more = next(); err != nil {
					return err
				}
			}
			if !more || file != id {
				ids = append(ids, id)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := flush(done); err != nil {
			return err
		}
	}
	return nil
}

// deletePage is how many customers of the state one read transaction of
// the deletes scans.
var deletePage = 10000

// Fail ends the import without a new version: a read error, a cancelled
// upload. The message is for HQ.
func (r *ImportRun) Fail(ctx context.Context, message string) (*Import, error) {
	defer r.release()
	rows, errs := r.Progress()
	v, err := r.s.apply(ctx, cmdImportFinish, importFinishCmd{
		ID: r.id, Outcome: StatusFailed, At: time.Now().UTC(), Rows: rows, Errors: errs,
		LineErrors: r.lineErrs, Message: message,
	}, nil)
	if err != nil {
		return nil, err
	}
	r.done = true
	r.s.metrics.imports.WithLabelValues(string(StatusFailed)).Inc()
	r.s.log.Warn("import failed", "import", r.id, "reason", message)
	return v.(*Import), nil
}

func (r *ImportRun) release() {
	if r.sr != nil {
		if err := r.sr.Close(); err != nil {
			r.s.log.Warn("import: remove spill files", "import", r.id, "err", err)
		}
	}
	if r.spill != "" {
		_ = os.RemoveAll(r.spill)
	}
	r.s.mu.Lock()
	if r.s.running == r.id {
		r.s.running = ""
	}
	r.s.mu.Unlock()
	if !r.done && r.s.IsLeader() {
		// A finish that could not be proposed: let the leader duty fail it
		// now rather than at the next election.
		go func() {
			ctx, cancel := context.WithTimeout(r.s.ctx, r.s.c.ApplyTimeout)
			defer cancel()
			_ = r.s.failStaleImport(ctx)
		}()
	}
}
