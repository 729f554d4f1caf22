package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
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
	Dict   *huiyan.TagDict
	// BatchBytes is the uncompressed size of one replicated batch of
	// customers (default 1 MiB, some 2,000 customers).
	BatchBytes int
	// DeleteBatch is how many deleted ids go in one command (default 10,000).
	DeleteBatch int
}

func (o *ImportOptions) setDefaults() {
	if o.KeyID == "" {
		o.KeyID = "k1"
	}
	if o.Dict == nil {
		o.Dict = huiyan.DefaultTagDict()
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
// Use: BeginImport, then Tags and (optionally) Staff in either order, then
// Finish; or Fail at any point. An ImportRun is not safe for concurrent
// use, except Progress.
type ImportRun struct {
	s       *Store
	opts    ImportOptions
	id      string
	version uint64

	rows, errs atomic.Int64
	customers  int
	lineErrs   []LineError
	seed       maphash.Seed
	seen       []uint64 // maphash of every customer id replicated
	tagsRead   bool
	staffCount int
	seq        int
	done       bool
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
	r := &ImportRun{s: s, opts: opts, id: newImportID(), seed: maphash.MakeSeed()}
	s.mu.Lock()
	if s.running != "" {
		s.mu.Unlock()
		return nil, huiyan.Errorf(huiyan.EConflict, "import %s is still running: one import at a time", s.running)
	}
	s.running = r.id
	s.mu.Unlock()
	v, err := s.apply(ctx, cmdImportStart, importStartCmd{
		ID: r.id, Name: opts.Name, Format: opts.Format.String(), Node: s.c.ID, At: time.Now().UTC(),
	}, nil)
	if err != nil {
		r.release()
		return nil, err
	}
	r.version = v.(uint64)
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

// Tags reads the snapshot file. Bad rows become line errors (and stop the
// replication of further rows: the import will be refused); a read error
// is returned, and the caller then calls Fail.
func (r *ImportRun) Tags(ctx context.Context, rd io.Reader) error {
	if r.tagsRead {
		return huiyan.Errorf(huiyan.EInvalid, "the import already has a tags file")
	}
	r.tagsRead = true
	sr, err := hub.NewSnapshotReader(rd, r.opts.Format, r.opts.Dict, hub.SnapshotOptions{KeyID: r.opts.KeyID})
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
		r.seen = append(r.seen, maphash.String(r.seed, c.ID))
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
	fin := importFinishCmd{ID: r.id, Rows: rows, Errors: errs, LineErrors: r.lineErrs}
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
	}
	fin.At = time.Now().UTC()
	v, err := r.s.apply(ctx, cmdImportFinish, fin, nil)
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
// has: every current customer whose id was not in the file.
func (r *ImportRun) deletes(ctx context.Context) error {
	slices.Sort(r.seen)
	var ids []string
	flush := func() error {
		if len(ids) == 0 {
			return nil
		}
		_, err := r.s.apply(ctx, cmdImportDelete, importDeleteCmd{ID: r.id, IDs: ids}, nil)
		ids = nil
		return err
	}
	// The ids are gathered under a read transaction and proposed after
	// it, in batches: proposing inside it would hold the transaction open
	// while the FSM writes.
	var gone []string
	err := r.s.fsm.liveIDs(r.version, func(id string) error {
		if _, ok := slices.BinarySearch(r.seen, maphash.String(r.seed, id)); !ok {
			gone = append(gone, id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range gone {
		ids = append(ids, id)
		if len(ids) >= r.opts.DeleteBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

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
