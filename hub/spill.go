package hub

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"unsafe"
)

// spillSorter sorts more entries than may be kept in memory, for the
// file-wide duplicate checks of a large snapshot (SnapshotOptions.SpillDir):
// entries gather in a fixed budget of memory, each full budget is sorted and
// written to a run file, and merge streams every entry in order by a k-way
// merge of the runs and what is still in memory. Memory stays the budget
// plus a read buffer per run merged (at most fanIn of them), whatever the
// number of entries; disk takes about (key length + 6) bytes an entry.
//
// An entry is a key of at most 255 bytes (a customer id, or a token's
// hash), the line it is on and a column. Entries sort by key, then line, so
// that among equal keys the first line comes first.
type spillSorter struct {
	dir    string // run files go here
	name   string // and are named name-000001.run …
	budget int    // bytes of memory for keys and entries

	arena   []byte     // the keys of ents, back to back
	ents    []spillEnt // not yet written
	sorted  bool       // ents is sorted (merge was called)
	runs    []string   // run files, each sorted
	fanIn   int        // runs merged at once; more are compacted first
	readBuf int        // the read buffer of each run in a merge
	seq     int        // the last run file number
	merges  []*spillMerge
}

// spillEnt is one entry in memory; its key is arena[off:off+klen].
type spillEnt struct {
	off  uint32
	line uint32
	klen uint8
	col  uint8
}

// spillItem is one entry as merge returns it.
type spillItem struct {
	Key  []byte
	Line uint32
	Col  uint8
}

// defaultFanIn bounds the runs one merge reads at once, and so the read
// buffers a merge holds: fanIn × readBuf, where readBuf is a share of the
// budget between 4 and 32 KiB (2 MiB a merge with the default budget).
const (
	defaultFanIn = 64
	maxReadBuf   = 32 << 10
	minReadBuf   = 4 << 10
	maxSpillKey  = 255
)

func newSpillSorter(dir, name string, budget int) *spillSorter {
	budget = max(budget, 4<<10)
	return &spillSorter{dir: dir, name: name, budget: budget, fanIn: defaultFanIn,
		readBuf: min(max(budget/(2*defaultFanIn), minReadBuf), maxReadBuf)}
}

// add records an entry. key is copied.
func (s *spillSorter) add(key []byte, line uint32, col uint8) error {
	if len(key) > maxSpillKey {
		return fmt.Errorf("spill %s: key of %d bytes, at most %d", s.name, len(key), maxSpillKey)
	}
	if s.sorted {
		return fmt.Errorf("spill %s: add after merge", s.name)
	}
	if s.ents == nil {
		// Half the budget for keys, half for entries: fixed, so that
		// growing them never doubles the memory for a moment.
		s.arena = make([]byte, 0, s.budget/2)
		s.ents = make([]spillEnt, 0, max(s.budget/2/int(unsafe.Sizeof(spillEnt{})), 1))
	}
	if len(s.ents) == cap(s.ents) || len(s.arena)+len(key) > cap(s.arena) {
		if err := s.flush(); err != nil {
			return err
		}
	}
	s.ents = append(s.ents, spillEnt{off: uint32(len(s.arena)), line: line, klen: uint8(len(key)), col: col})
	s.arena = append(s.arena, key...)
	return nil
}

func (s *spillSorter) key(e spillEnt) []byte {
	return s.arena[e.off : e.off+uint32(e.klen) : e.off+uint32(e.klen)]
}

func (s *spillSorter) sortMem() {
	slices.SortFunc(s.ents, func(a, b spillEnt) int {
		if c := bytes.Compare(s.key(a), s.key(b)); c != 0 {
			return c
		}
		return int(int64(a.line) - int64(b.line))
	})
}

// flush writes the entries in memory as a sorted run, and compacts the
// runs into one when there are fanIn of them.
func (s *spillSorter) flush() error {
	s.sortMem()
	w, err := s.create()
	if err != nil {
		return err
	}
	for _, e := range s.ents {
		w.write(spillItem{Key: s.key(e), Line: e.line, Col: e.col})
	}
	if err := w.close(); err != nil {
		return err
	}
	s.runs = append(s.runs, w.path)
	s.ents, s.arena = s.ents[:0], s.arena[:0]
	if len(s.runs) < s.fanIn {
		return nil
	}
	return s.compact()
}

// compact merges every run file into one.
func (s *spillSorter) compact() error {
	m, err := s.mergeRuns(false)
	if err != nil {
		return err
	}
	defer m.close()
	w, err := s.create()
	if err != nil {
		return err
	}
	for {
		it, err := m.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			w.abort()
			return err
		}
		w.write(*it)
	}
	if err := w.close(); err != nil {
		return err
	}
	for _, p := range s.runs {
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("spill: %w", err)
		}
	}
	s.runs = []string{w.path}
	return nil
}

// merge returns every entry added so far, in order. It may be called more
// than once; add may not be called after it.
func (s *spillSorter) merge() (*spillMerge, error) {
	if !s.sorted {
		s.sortMem()
		s.sorted = true
	}
	return s.mergeRuns(true)
}

func (s *spillSorter) mergeRuns(withMem bool) (*spillMerge, error) {
	m := &spillMerge{}
	for _, p := range s.runs {
		f, err := os.Open(p)
		if err != nil {
			m.close()
			return nil, fmt.Errorf("spill: %w", err)
		}
		m.cursors = append(m.cursors, &spillCursor{f: f, br: bufio.NewReaderSize(f, s.readBuf)})
	}
	if withMem && len(s.ents) > 0 {
		m.cursors = append(m.cursors, &spillCursor{mem: s})
	}
	for _, c := range m.cursors {
		ok, err := c.advance()
		if err != nil {
			m.close()
			return nil, err
		}
		if ok {
			m.h = append(m.h, c)
		}
	}
	heap.Init(&m.h)
	s.merges = append(s.merges, m)
	return m, nil
}

// close closes every merge still open. The run files stay: the owner
// removes its directory.
func (s *spillSorter) close() {
	for _, m := range s.merges {
		m.close()
	}
	s.merges = nil
}

// create opens the next run file.
func (s *spillSorter) create() (*runWriter, error) {
	s.seq++
	path := filepath.Join(s.dir, fmt.Sprintf("%s-%06d.run", s.name, s.seq))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	return &runWriter{path: path, f: f, bw: bufio.NewWriterSize(f, s.readBuf)}, nil
}

// runWriter writes a run file: for each entry, the key's length (one
// byte), the key, the line (big-endian uint32) and the column (one byte).
// The files live only as long as the import that wrote them, so they are
// not synced.
type runWriter struct {
	path string
	f    *os.File
	bw   *bufio.Writer
	err  error
}

func (w *runWriter) write(it spillItem) {
	if w.err != nil {
		return
	}
	var hdr [1]byte
	hdr[0] = byte(len(it.Key))
	var tail [5]byte
	binary.BigEndian.PutUint32(tail[:4], it.Line)
	tail[4] = it.Col
	w.bw.Write(hdr[:])
	w.bw.Write(it.Key)
	_, w.err = w.bw.Write(tail[:])
}

func (w *runWriter) close() error {
	err := w.err
	if err == nil {
		err = w.bw.Flush()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(w.path)
		return fmt.Errorf("spill: write run: %w", err)
	}
	return nil
}

func (w *runWriter) abort() {
	w.f.Close()
	os.Remove(w.path)
}

// spillCursor reads one sorted source: a run file or the sorter's memory.
type spillCursor struct {
	f   *os.File
	br  *bufio.Reader
	mem *spillSorter
	i   int
	cur spillItem
	key [maxSpillKey]byte
}

// advance moves to the next entry; false at the end.
func (c *spillCursor) advance() (bool, error) {
	if c.mem != nil {
		if c.i >= len(c.mem.ents) {
			return false, nil
		}
		e := c.mem.ents[c.i]
		c.i++
		c.cur = spillItem{Key: c.mem.key(e), Line: e.line, Col: e.col}
		return true, nil
	}
	n, err := c.br.ReadByte()
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("spill: read run: %w", err)
	}
	var tail [5]byte
	if _, err := io.ReadFull(c.br, c.key[:n]); err != nil {
		return false, fmt.Errorf("spill: read run: %w", noEOF(err))
	}
	if _, err := io.ReadFull(c.br, tail[:]); err != nil {
		return false, fmt.Errorf("spill: read run: %w", noEOF(err))
	}
	c.cur = spillItem{Key: c.key[:n], Line: binary.BigEndian.Uint32(tail[:4]), Col: tail[4]}
	return true, nil
}

// noEOF: a run file that ends inside an entry is truncated, not done.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (c *spillCursor) close() {
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}

// spillMerge is a k-way merge of sorted sources.
type spillMerge struct {
	cursors []*spillCursor
	h       cursorHeap
	out     spillItem
	key     [maxSpillKey]byte
}

// next returns the next entry in order, valid until the following call,
// or io.EOF after the last.
func (m *spillMerge) next() (*spillItem, error) {
	if len(m.h) == 0 {
		return nil, io.EOF
	}
	top := m.h[0]
	n := copy(m.key[:], top.cur.Key)
	m.out = spillItem{Key: m.key[:n], Line: top.cur.Line, Col: top.cur.Col}
	ok, err := top.advance()
	if err != nil {
		return nil, err
	}
	if ok {
		heap.Fix(&m.h, 0)
	} else {
		heap.Pop(&m.h)
	}
	return &m.out, nil
}

// close closes the run files and drops the read buffers, so that a merge
// read to its end holds no memory while its sorter lives on.
func (m *spillMerge) close() {
	for _, c := range m.cursors {
		c.close()
	}
	m.cursors, m.h = nil, nil
}

// cursorHeap orders cursors by their current entry.
type cursorHeap []*spillCursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].cur.Key, h[j].cur.Key); c != 0 {
		return c < 0
	}
	return h[i].cur.Line < h[j].cur.Line
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*spillCursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// spillChecks are the file-wide duplicate checks of a SnapshotReader with
// SpillDir: customer ids (exact bytes) and tokens (a keyed 96-bit hash, as
// dupSet keeps them) go to two spillSorters while the file is read; at its
// end one merge of each finds the values that came twice, and a later
// merge of the ids gives the importer every id of the file in order.
type spillChecks struct {
	dir          string // the reader's own directory, removed by close
	seed1, seed2 maphash.Seed
	ids, tokens  *spillSorter

	phase    int // spillAdding, spillIDs, spillTokens, spillDone
	m        *spillMerge
	prev     []byte
	prevLine uint32
	havePrev bool
	hash     [12]byte
}

const (
	spillAdding = iota
	spillIDs
	spillTokens
	spillDone
)

// DefaultSpillMemory is the memory the spilled duplicate checks of one
// SnapshotReader use when SnapshotOptions.SpillMemory is zero.
const DefaultSpillMemory = 32 << 20

func newSpillChecks(parent string, budget int) (*spillChecks, error) {
	if budget <= 0 {
		budget = DefaultSpillMemory
	}
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot: spill dir: %w", err)
	}
	dir, err := os.MkdirTemp(parent, "dups-*")
	if err != nil {
		return nil, fmt.Errorf("snapshot: spill dir: %w", err)
	}
	// Ids are about a third of the entries (a customer has one id and one
	// to four tokens), and their keys are shorter.
	return &spillChecks{
		dir: dir, seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(),
		ids:    newSpillSorter(dir, "ids", budget/3),
		tokens: newSpillSorter(dir, "tokens", budget-budget/3),
	}, nil
}

// add records an accepted row's id and tokens.
func (s *spillChecks) add(id string, toks []string, cols []int, line uint32) error {
	if err := s.ids.add([]byte(id), line, colCustomerID); err != nil {
		return err
	}
	for i, tok := range toks {
		binary.BigEndian.PutUint64(s.hash[:8], maphash.String(s.seed1, tok))
		binary.BigEndian.PutUint32(s.hash[8:], uint32(maphash.String(s.seed2, tok)))
		if err := s.tokens.add(s.hash[:], line, uint8(cols[i])); err != nil {
			return err
		}
	}
	return nil
}

// nextDup returns the next duplicate: a later line whose id, or one of
// whose tokens, an earlier line has. nil, nil when there are no more.
func (s *spillChecks) nextDup() (*LineError, error) {
	for s.phase != spillDone {
		if s.m == nil {
			var err error
			switch s.phase {
			case spillAdding:
				s.phase = spillIDs
				s.m, err = s.ids.merge()
			case spillIDs:
				s.phase = spillTokens
				s.m, err = s.tokens.merge()
			default:
				s.phase = spillDone
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			s.havePrev = false
		}
		it, err := s.m.next()
		if err == io.EOF {
			s.m.close()
			s.m = nil
			continue
		}
		if err != nil {
			return nil, err
		}
		if s.havePrev && bytes.Equal(it.Key, s.prev) {
			// Equal keys come in line order: prevLine is the first.
			if s.phase == spillIDs {
				return &LineError{Line: int(it.Line), Field: snapshotColumns[colCustomerID],
					Reason: fmt.Sprintf("duplicate customer_id (first on line %d)", s.prevLine)}, nil
			}
			return &LineError{Line: int(it.Line), Field: column(snapshotColumns, int(it.Col)),
				Reason: fmt.Sprintf("token already belongs to the customer on line %d", s.prevLine)}, nil
		}
		s.prev = append(s.prev[:0], it.Key...)
		s.prevLine, s.havePrev = it.Line, true
	}
	return nil, nil
}

// sortedIDs yields every id added, once each, in byte order.
func (s *spillChecks) sortedIDs(yield func(string, error) bool) {
	m, err := s.ids.merge()
	if err != nil {
		yield("", err)
		return
	}
	defer m.close()
	var prev []byte
	first := true
	for {
		it, err := m.next()
		if err == io.EOF {
			return
		}
		if err != nil {
			yield("", err)
			return
		}
		if !first && bytes.Equal(it.Key, prev) {
			continue
		}
		first = false
		prev = append(prev[:0], it.Key...)
		if !yield(string(it.Key), nil) {
			return
		}
	}
}

func (s *spillChecks) close() error {
	s.ids.close()
	s.tokens.close()
	return os.RemoveAll(s.dir)
}
