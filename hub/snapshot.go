package hub

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"iter"
	"os"
	"slices"
	"strings"
	"time"

	"huiyan"
)

// SnapshotHeader is the header line of an HQ snapshot CSV file (DESIGN.md,
// "Hub contract"). JSON Lines objects use the same names for their fields.
const SnapshotHeader = "customer_id,display_name,tier,home_branch,branches,manager,mbank_status,mbank_idle_days,risk,aum_band,lifecycle,opt_out,tags,maturities,idcard_token,bankcard_tokens,mbank_token,phone_token"

// MaxLineBytes is the longest line, without its line ending, that the
// snapshot and staff readers accept. A real snapshot row is well under 1 KiB;
// the limit bounds the memory one line can take, and a longer line is
// reported as a *LineError and skipped, not read into memory.
const MaxLineBytes = 64 << 10

// MaxBankCardTokens is the most bank-card tokens one snapshot row may carry.
const MaxBankCardTokens = 8

// maxIdleDays bounds mbank_idle_days: more than a century is a data error.
const maxIdleDays = 36500

// Columns of a snapshot row, in SnapshotHeader order.
const (
	colCustomerID = iota
	colDisplayName
	colTier
	colHomeBranch
	colBranches
	colManager
	colMBankStatus
	colMBankIdleDays
	colRisk
	colAUMBand
	colLifecycle
	colOptOut
	colTags
	colMaturities
	colIDCardToken
	colBankCardTokens
	colMBankToken
	colPhoneToken
	numSnapshotCols
)

var snapshotColumns = strings.Split(SnapshotHeader, ",")

// shanghai is Asia/Shanghai as a fixed zone: China has had no daylight
// saving time since 1991, and a fixed zone needs no tzdata on the edge box.
var shanghai = time.FixedZone("CST", 8*3600)

// Format is the encoding of a snapshot file.
type Format int

// Snapshot file formats (DESIGN.md, "Hub contract": CSV or JSON Lines, gzip
// allowed). FormatUnknown is the zero value.
const (
	FormatUnknown Format = iota
	FormatCSV            // the header SnapshotHeader, then one customer per line
	FormatJSONL          // one JSON object per line, no header
)

// String returns "csv", "jsonl" or "unknown".
func (f Format) String() string {
	switch f {
	case FormatCSV:
		return "csv"
	case FormatJSONL:
		return "jsonl"
	}
	return "unknown"
}

// ParseFormat parses a format name as a flag or an upload names it: "csv",
// "jsonl" or "ndjson", in any case.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "csv":
		return FormatCSV, nil
	case "jsonl", "ndjson":
		return FormatJSONL, nil
	}
	return FormatUnknown, fmt.Errorf("unknown snapshot format %q: want csv or jsonl", s)
}

// DetectFormat tells a snapshot file's format from its name: .csv, .jsonl or
// .ndjson, each optionally followed by .gz, in any case. It returns
// FormatUnknown for any other name.
func DetectFormat(name string) (f Format, gzipped bool) {
	name = strings.ToLower(name)
	if s, ok := strings.CutSuffix(name, ".gz"); ok {
		name, gzipped = s, true
	}
	switch {
	case strings.HasSuffix(name, ".csv"):
		return FormatCSV, gzipped
	case strings.HasSuffix(name, ".jsonl"), strings.HasSuffix(name, ".ndjson"):
		return FormatJSONL, gzipped
	}
	return FormatUnknown, false
}

// gzipMagic starts every gzip stream (RFC 1952).
var gzipMagic = []byte{0x1f, 0x8b}

// OpenSnapshotFile opens a snapshot file for NewSnapshotReader: the format
// comes from the name (see DetectFormat), and the content is gunzipped when
// the name ends in .gz or the content starts with the gzip magic bytes, so a
// compressed file that lost its .gz still reads. A truncated or corrupt gzip
// stream surfaces as a fatal error from the reader, never as a quiet end.
func OpenSnapshotFile(path string) (io.ReadCloser, Format, error) {
	format, gz := DetectFormat(path)
	if format == FormatUnknown {
		return nil, FormatUnknown, fmt.Errorf("snapshot %s: unknown format: want a .csv, .jsonl or .ndjson file, optionally .gz", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, FormatUnknown, fmt.Errorf("snapshot: %w", err)
	}
	// The buffer is as large as the one NewSnapshotReader wants, so that
	// bufio.NewReaderSize reuses it for an uncompressed file.
	br := bufio.NewReaderSize(f, readerSize)
	magic, err := br.Peek(len(gzipMagic))
	if err != nil && err != io.EOF {
		f.Close()
		return nil, FormatUnknown, fmt.Errorf("snapshot %s: %w", path, err)
	}
	if !gz && bytes.Equal(magic, gzipMagic) {
		gz = true
	}
	if !gz {
		return &snapshotFile{Reader: br, f: f}, format, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		f.Close()
		if err == io.EOF {
			err = errors.New("empty file")
		}
		return nil, FormatUnknown, fmt.Errorf("snapshot %s: gzip: %w", path, err)
	}
	return &snapshotFile{Reader: zr, zr: zr, f: f}, format, nil
}

// snapshotFile closes the gzip reader, if any, and the file.
type snapshotFile struct {
	io.Reader
	zr *gzip.Reader
	f  *os.File
}

func (s *snapshotFile) Close() error {
	var err error
	if s.zr != nil {
		err = s.zr.Close()
	}
	if ferr := s.f.Close(); err == nil {
		err = ferr
	}
	return err
}

// LineError is one refused line of an HQ file: the 1-based line number (the
// CSV header is line 1), the column it is about ("" when it is about the
// whole line) and the reason, written for the HQ data team. Reasons name
// codes and enum values but never echo a customer's id, name or token.
//
// A LineError is not fatal: the reader goes on with the next line, and the
// caller decides the policy (an edge import refuses the whole file if any
// line is bad; the hub reports the lines).
type LineError struct {
	Line   int
	Field  string
	Reason string
}

// Error implements the error interface: "line 17: field tier: unknown tier "silver"".
func (e *LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: field %s: %s", e.Line, e.Field, e.Reason)
}

// SnapshotOptions configures a SnapshotReader.
type SnapshotOptions struct {
	// KeyID is the key id every token of the file was made under (DESIGN.md,
	// "Identity token"); it goes into each huiyan.Ident. Required: the file
	// does not name it, and guessing would mislabel every token.
	KeyID string

	// Branch, when set, keeps only the customers of that branch: rows whose
	// home_branch is not Branch and whose branches do not list it are
	// skipped silently (counted by Skipped) before they are validated, so
	// that an edge importing a province-wide file is not refused for
	// another branch's bad row. What must be read to find the branch is
	// still checked and reported whatever the branch: the line length, a
	// CSV row's quoting and field count, a JSON Lines row's syntax, field
	// names and value types.
	Branch string

	// SkipDuplicateCheck turns off the file-wide checks that no customer_id
	// appears twice and no token belongs to two customers. In memory (no
	// SpillDir) the checks keep a 16-byte entry (a keyed hash and a line
	// number, see dupSet) for every accepted id and token, about 30 bytes
	// with the table's slack: measured at 67 bytes per customer with one
	// token and 168 with four, so 70 to 170 MB for a million rows. A caller
	// that checks uniqueness itself (in its store) can save that. The zero
	// value checks, so that the strict behaviour is the default.
	SkipDuplicateCheck bool

	// SpillDir, when set, makes the duplicate checks take bounded memory
	// whatever the size of the file: ids and token hashes are sorted in
	// runs of SpillMemory bytes written to files in a directory the reader
	// makes under SpillDir, and merged at the end of the file. What
	// changes for the caller: a duplicate row is first returned as a
	// customer, and its *LineError comes after the last row, before
	// io.EOF (so one row may be reported twice, for its id and a token);
	// IDs then lists every accepted id in order; and Close must be called
	// to remove the files. Disk: about 10 bytes a token and 6 plus its
	// length an id, some 80 bytes a customer.
	SpillDir string
	// SpillMemory is the memory of the spilled checks (default
	// DefaultSpillMemory), plus 32 KiB a run file while they are merged.
	SpillMemory int
}

// SnapshotReader reads an HQ snapshot file (DESIGN.md, "Hub contract") one
// customer at a time, in constant memory apart from the duplicate checks
// (and in constant memory with them too when they spill to disk, see
// SnapshotOptions.SpillDir).
// It is strict: every field is validated, and a bad row comes back as a
// *LineError for that row, after which reading goes on. Any other error (a
// read or gzip failure) is fatal and sticky.
//
// CSV rules: the header is exactly SnapshotHeader (a UTF-8 byte-order mark,
// as spreadsheet programs write, is ignored); one record per line, CRLF or
// LF; fields may be quoted as in RFC 4180 ("" for a quote) but no field may
// contain a line break, because no valid value can and it keeps line
// numbers exact; blank lines are ignored; lists are ';'-separated with no
// empty items.
//
// JSON Lines rules: one object (RFC 8259, parsed strictly) per line with the
// field names of the CSV header; a missing field or null is the same as an
// empty CSV field; an unknown field, or a field given twice, is refused.
// Text fields are JSON strings; mbank_idle_days is a JSON integer (null or
// missing for never); opt_out is 0, 1, false or true; list fields
// (branches, tags, maturities, bankcard_tokens) are either JSON arrays of
// strings or ';'-separated strings as in CSV. Blank lines are ignored.
//
// What a valid row is, field by field:
//
//   - customer_id: huiyan.ValidCustomerID, and not shaped like an ID-card
//     number (15 or 18 digits, or 17 and an X) or a token (64 hex);
//   - display_name: masked (huiyan.IsMaskedName), e.g. 林*华;
//   - tier, mbank_status, risk, lifecycle: a known value;
//   - home_branch and each of branches: huiyan.ValidBranchID; branches is
//     deduplicated and loses the home branch (Customer.Branches holds the
//     other branches);
//   - manager: empty or huiyan.ValidStaffID;
//   - mbank_idle_days: empty (never logged in, -1 in the domain) or an
//     integer from 0 to 36500, consistent with mbank_status: none and
//     registered (never used) need it empty, dormant needs at least
//     huiyan.DormantAfterDays, active needs a number below it;
//   - aum_band: a code of huiyan.AUMBands;
//   - opt_out: 0 or 1, never empty: it is the customer's PIPL choice and
//     must not default to "may market";
//   - tags: codes of the dictionary, deduplicated and sorted into ids; a
//     mobile-banking status tag must match mbank_status;
//   - maturities: product_code:YYYY-MM-DD, a code of huiyan.Products and a
//     real date (midnight, UTC+8), sorted by date;
//   - idcard_token, mbank_token, phone_token: empty or 64 lower-case hex;
//     bankcard_tokens: up to MaxBankCardTokens of those; at least one token
//     in all, none twice in the row.
//
// Across the file (unless SkipDuplicateCheck): no customer_id twice and no
// token shared by two customers; the later row is refused, naming the line
// of the first. Only rows that were accepted take part (with SpillDir, a
// row refused for its id still takes part for its tokens).
type SnapshotReader struct {
	lr     *lineReader
	format Format
	dict   *huiyan.TagDict
	opts   SnapshotOptions

	fields  [][]byte  // CSV: the current row's fields
	scratch []byte    // CSV: unquoted field content
	strs    []string  // the current row's fields as strings
	items   []string  // one list field's items
	toks    []string  // the current row's tokens
	tokCols []int     // and the column of each
	hashes  []dupSlot // and their hashes

	// The duplicate checks: in memory, or spilled to files (SpillDir);
	// all nil when skipped.
	ids    *dupSet // customer ids
	tokens *dupSet // tokens
	spill  *spillChecks

	rows, errs, skipped int
	err                 error // sticky: io.EOF or a fatal error
}

// NewSnapshotReader returns a reader of the snapshot in r. For CSV it reads
// and checks the header at once, and returns a *LineError for line 1 that
// names the first wrong column. dict is the tag dictionary the file's tag
// codes come from, usually huiyan.DefaultTagDict().
func NewSnapshotReader(r io.Reader, format Format, dict *huiyan.TagDict, opts SnapshotOptions) (*SnapshotReader, error) {
	switch {
	case format != FormatCSV && format != FormatJSONL:
		return nil, fmt.Errorf("snapshot: unknown format %d", format)
	case dict == nil:
		return nil, errors.New("snapshot: no tag dictionary")
	case !validKeyID(opts.KeyID):
		return nil, fmt.Errorf("snapshot: key id %q must be 1 to 64 printable ASCII characters", opts.KeyID)
	case opts.Branch != "" && !huiyan.ValidBranchID(opts.Branch):
		return nil, fmt.Errorf("snapshot: invalid branch filter %q", opts.Branch)
	}
	sr := &SnapshotReader{
		lr:     newLineReader(r),
		format: format,
		dict:   dict,
		opts:   opts,
		strs:   make([]string, numSnapshotCols),
	}
	switch {
	case opts.SkipDuplicateCheck:
	case opts.SpillDir != "":
		var err error
		if sr.spill, err = newSpillChecks(opts.SpillDir, opts.SpillMemory); err != nil {
			return nil, err
		}
	default:
		sr.ids, sr.tokens = newDupSet(), newDupSet()
	}
	if format == FormatCSV {
		if err := sr.readHeader(); err != nil {
			sr.Close()
			return nil, err
		}
	}
	return sr, nil
}

// Close releases what the reader holds on disk: the spilled duplicate
// checks' files. It is needed only with SnapshotOptions.SpillDir, and safe
// to call more than once.
func (r *SnapshotReader) Close() error {
	if r.spill == nil {
		return nil
	}
	err := r.spill.close()
	r.spill = nil
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// IDs yields the customer id of every accepted row, once each, in byte
// order (Go string order): what an importer compares with the customers it
// holds to find the ones the snapshot no longer has, without keeping a set
// of ids in memory. It needs SnapshotOptions.SpillDir, and Next must have
// returned io.EOF; otherwise it yields an error. It may be called more than
// once.
func (r *SnapshotReader) IDs() iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		switch {
		case r.spill == nil:
			yield("", errors.New("snapshot: IDs needs SpillDir and an open reader"))
		case r.err != io.EOF:
			yield("", errors.New("snapshot: IDs before the end of the file"))
		default:
			r.spill.sortedIDs(yield)
		}
	}
}

func validKeyID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func (r *SnapshotReader) readHeader() error {
	line, tooLong, err := r.lr.next()
	switch {
	case err == io.EOF:
		return &LineError{Line: 1, Reason: "empty file, want the header " + SnapshotHeader}
	case err != nil:
		return fmt.Errorf("snapshot: %w", err)
	case tooLong:
		return &LineError{Line: r.lr.line, Reason: fmt.Sprintf("header longer than %d bytes", MaxLineBytes)}
	}
	return checkHeader(r.lr.line, line, snapshotColumns, &r.fields, &r.scratch)
}

// checkHeader compares a CSV header line with the wanted columns and names
// the first difference. It echoes a wrong column only when it looks like a
// column name, so that a data row taken for a header is not quoted back.
func checkHeader(n int, line []byte, want []string, fields *[][]byte, scratch *[]byte) error {
	var bad int
	var reason string
	*fields, bad, reason = splitCSV(*fields, scratch, line)
	if bad >= 0 {
		return &LineError{Line: n, Reason: fmt.Sprintf("header column %d: %s", bad+1, reason)}
	}
	got := *fields
	for i, w := range want {
		switch {
		case i >= len(got):
			return &LineError{Line: n, Reason: fmt.Sprintf("header column %d is missing, want %q (header must be %s)", i+1, w, strings.Join(want, ","))}
		case string(got[i]) != w:
			return &LineError{Line: n, Reason: fmt.Sprintf("header column %d is %s, want %q", i+1, columnName(got[i]), w)}
		}
	}
	if len(got) > len(want) {
		return &LineError{Line: n, Reason: fmt.Sprintf("header has %d columns, want %d: unexpected column %d %s", len(got), len(want), len(want)+1, columnName(got[len(want)]))}
	}
	return nil
}

func columnName(b []byte) string {
	if len(b) > 0 && len(b) <= 32 && huiyan.IsLowerSnake(string(b)) {
		return fmt.Sprintf("%q", b)
	}
	return "not a column name"
}

// Rows returns how many rows (non-blank lines after the header) were read
// so far: the customers returned plus Errors plus Skipped.
func (r *SnapshotReader) Rows() int { return r.rows }

// Errors returns how many rows were refused with a *LineError so far.
func (r *SnapshotReader) Errors() int { return r.errs }

// Skipped returns how many rows the branch filter skipped so far.
func (r *SnapshotReader) Skipped() int { return r.skipped }

// Next returns the next customer. At the end it returns io.EOF. A bad row
// gives a *LineError, after which Next goes on with the following row; any
// other error is fatal and every later call returns it again.
func (r *SnapshotReader) Next() (*huiyan.Customer, error) {
	for r.err == nil {
		line, tooLong, err := r.lr.next()
		if err == io.EOF && r.spill != nil {
			// The spilled checks report their duplicates now.
			le, err := r.spill.nextDup()
			if err != nil {
				r.err = fmt.Errorf("snapshot: duplicate check: %w", err)
				break
			}
			if le != nil {
				r.errs++
				return nil, le
			}
		}
		if err != nil {
			if err != io.EOF {
				err = fmt.Errorf("snapshot: %w", err)
			}
			r.err = err
			break
		}
		n := r.lr.line
		r.rows++
		if tooLong {
			r.errs++
			return nil, &LineError{Line: n, Reason: fmt.Sprintf("line longer than %d bytes", MaxLineBytes)}
		}
		var f []string
		var skip bool
		var lerr *LineError
		if r.format == FormatCSV {
			f, skip, lerr = r.csvRow(line, n)
		} else {
			f, skip, lerr = r.jsonRow(line, n)
		}
		if lerr == nil && skip {
			r.skipped++
			continue
		}
		var c *huiyan.Customer
		if lerr == nil {
			c, lerr = r.customer(f, n)
		}
		if lerr != nil {
			r.errs++
			return nil, lerr
		}
		if r.spill != nil {
			if err := r.spill.add(c.ID, r.toks, r.tokCols, lineNo(n)); err != nil {
				r.err = fmt.Errorf("snapshot: duplicate check: %w", err)
				break
			}
		}
		return c, nil
	}
	return nil, r.err
}

// All returns an iterator over the rest of the file: each customer with a
// nil error, or a nil customer with a *LineError for a bad row. It ends at
// the end of the file, or after yielding a fatal error.
func (r *SnapshotReader) All() iter.Seq2[*huiyan.Customer, error] {
	return func(yield func(*huiyan.Customer, error) bool) {
		for {
			c, err := r.Next()
			if err == io.EOF || !yield(c, err) {
				return
			}
			var le *LineError
			if err != nil && !errors.As(err, &le) {
				return
			}
		}
	}
}

func (r *SnapshotReader) csvRow(line []byte, n int) ([]string, bool, *LineError) {
	var bad int
	var reason string
	r.fields, bad, reason = splitCSV(r.fields, &r.scratch, line)
	if bad >= 0 {
		return nil, false, &LineError{Line: n, Field: column(snapshotColumns, bad), Reason: reason}
	}
	if len(r.fields) != numSnapshotCols {
		return nil, false, &LineError{Line: n, Reason: fmt.Sprintf("%d fields, want %d", len(r.fields), numSnapshotCols)}
	}
	if r.opts.Branch != "" && !inBranch(r.fields[colHomeBranch], r.fields[colBranches], r.opts.Branch) {
		return nil, true, nil
	}
	return toStrings(r.strs[:0], r.fields), false, nil
}

// column returns the name of column i, or "" for the whole line (i < 0).
func column(cols []string, i int) string {
	if i >= 0 && i < len(cols) {
		return cols[i]
	}
	return ""
}

// inBranch reports whether branch is home or one of the ';'-separated list.
func inBranch[T string | []byte](home, list T, branch string) bool {
	if string(home) == branch {
		return true
	}
	for len(list) > 0 {
		i := 0
		for i < len(list) && list[i] != ';' {
			i++
		}
		if string(list[:i]) == branch {
			return true
		}
		if i == len(list) {
			break
		}
		list = list[i+1:]
	}
	return false
}

// toStrings converts fields to strings that share one allocation.
func toStrings(dst []string, fields [][]byte) []string {
	n := 0
	for _, f := range fields {
		n += len(f)
	}
	var b strings.Builder
	b.Grow(n)
	for _, f := range fields {
		b.Write(f)
	}
	s := b.String()
	for _, f := range fields {
		dst = append(dst, s[:len(f)])
		s = s[len(f):]
	}
	return dst
}

// jsonRow turns one JSON Lines object into the CSV form of its fields.
//
// It parses the object itself rather than with encoding/json: the shape is
// flat and fixed (string keys; strings, integers, booleans, null and arrays
// of strings as values), so a small exact parser is several times faster,
// allocates one string for the line instead of two per field, and can
// refuse a field given twice, which encoding/json would take silently.
// Any value that is not valid JSON, or not of its field's type, is refused.
func (r *SnapshotReader) jsonRow(line []byte, n int) ([]string, bool, *LineError) {
	p := jsonParser{s: string(line), items: r.items[:0]}
	defer func() { r.items = p.items[:0] }()
	f := r.strs
	clear(f)
	var seen [numSnapshotCols]bool
	fail := func(field, reason string) ([]string, bool, *LineError) {
		return nil, false, &LineError{Line: n, Field: field, Reason: reason}
	}
	p.ws()
	if !p.eat('{') {
		return fail("", "not a JSON object")
	}
	p.ws()
	if !p.eat('}') {
		for {
			key, ok := p.str()
			if !ok {
				return fail("", p.syntax("a field name"))
			}
			col := slices.Index(snapshotColumns, key)
			switch {
			case col < 0:
				return fail("", fmt.Sprintf("unknown field %s", quote(key)))
			case seen[col]:
				return fail(key, "field given twice")
			}
			seen[col] = true
			p.ws()
			if !p.eat(':') {
				return fail("", p.syntax("':'"))
			}
			p.ws()
			var reason string
			f[col], reason, ok = p.field(col)
			if !ok {
				return fail("", p.syntax("a value"))
			}
			if reason != "" {
				return fail(key, reason)
			}
			p.ws()
			if p.eat(',') {
				p.ws()
				continue
			}
			if p.eat('}') {
				break
			}
			return fail("", p.syntax("',' or '}'"))
		}
	}
	p.ws()
	if p.i < len(p.s) {
		return fail("", p.syntax("the end of the line after the object"))
	}
	if r.opts.Branch != "" && !inBranch(f[colHomeBranch], f[colBranches], r.opts.Branch) {
		return nil, true, nil
	}
	return f, false, nil
}

// jsonParser reads the JSON values of one snapshot line (RFC 8259).
type jsonParser struct {
	s     string
	i     int
	items []string // list scratch, reused
}

func (p *jsonParser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\r' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *jsonParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *jsonParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// syntax describes a syntax error at the current position.
func (p *jsonParser) syntax(want string) string {
	if p.i >= len(p.s) {
		return fmt.Sprintf("invalid JSON: the line ends where %s should be", want)
	}
	return fmt.Sprintf("invalid JSON at byte %d: want %s", p.i+1, want)
}

// str reads a string. Strings without escapes, nearly all of them, are
// slices of the line; the others are decoded by encoding/json.
func (p *jsonParser) str() (string, bool) {
	if !p.eat('"') {
		return "", false
	}
	start, escaped := p.i, false
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			v := p.s[start:p.i]
			p.i++
			if escaped {
				var out string
				if json.Unmarshal([]byte(p.s[start-1:p.i]), &out) != nil {
					return "", false
				}
				return out, true
			}
			return v, true
		case c < 0x20:
			return "", false
		case c == '\\':
			escaped = true
			if p.i+1 >= len(p.s) {
				return "", false
			}
			switch p.s[p.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i += 2
			case 'u':
				if p.i+6 > len(p.s) || !isHex(p.s[p.i+2:p.i+6]) {
					return "", false
				}
				p.i += 6
			default:
				return "", false
			}
		default:
			p.i++
		}
	}
	return "", false
}

// number reads a number and returns its text.
func (p *jsonParser) number() (string, bool) {
	start := p.i
	p.eat('-')
	switch c := p.peek(); {
	case c == '0':
		p.i++
	case c >= '1' && c <= '9':
		p.digits()
	default:
		return "", false
	}
	if p.eat('.') && !p.digits() {
		return "", false
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.i++
		if c := p.peek(); c == '+' || c == '-' {
			p.i++
		}
		if !p.digits() {
			return "", false
		}
	}
	return p.s[start:p.i], true
}

func (p *jsonParser) digits() bool {
	start := p.i
	for p.i < len(p.s) && isDigit(p.s[p.i]) {
		p.i++
	}
	return p.i > start
}

func (p *jsonParser) literal(word string) bool {
	if strings.HasPrefix(p.s[p.i:], word) {
		p.i += len(word)
		return true
	}
	return false
}

// field reads the value of column col in the CSV form of that column. It
// returns a reason for a valid JSON value of the wrong type, and ok false
// for a syntax error.
func (p *jsonParser) field(col int) (v, reason string, ok bool) {
	var wrong string
	isList := false
	switch col {
	case colMBankIdleDays:
		wrong = "must be a JSON integer, or null for never"
	case colOptOut:
		wrong = "must be 0, 1, false or true"
	case colBranches, colTags, colMaturities, colBankCardTokens:
		wrong, isList = "must be a JSON array of strings or a ;-separated string", true
	default:
		wrong = "must be a JSON string"
	}
	switch c := p.peek(); {
	case c == 'n':
		return "", "", p.literal("null")
	case c == '"':
		v, ok = p.str()
		if col == colMBankIdleDays || col == colOptOut {
			return "", wrong, ok
		}
		return v, "", ok
	case c == '-' || isDigit(c):
		v, ok = p.number()
		if col == colMBankIdleDays || col == colOptOut {
			return v, "", ok // checked like a CSV field: 1.5, 1e2 and -1 are refused there
		}
		return "", wrong, ok
	case c == 't' || c == 'f':
		ok = p.literal("true") || p.literal("false")
		if col != colOptOut || !ok {
			return "", wrong, ok
		}
		if c == 't' {
			return "1", "", true
		}
		return "0", "", true
	case c == '[':
		if !isList {
			return "", wrong, true
		}
		return p.list(wrong)
	case c == '{':
		return "", wrong, true
	}
	return "", "", false
}

// list reads an array of strings and joins the items with ';'.
func (p *jsonParser) list(wrong string) (v, reason string, ok bool) {
	p.i++ // '['
	p.ws()
	if p.eat(']') {
		return "", "", true
	}
	items := p.items[:0]
	defer func() { p.items = items }()
	for {
		if p.peek() != '"' {
			return "", wrong, true
		}
		item, ok := p.str()
		if !ok {
			return "", "", false
		}
		if item == "" || strings.IndexByte(item, ';') >= 0 {
			return "", fmt.Sprintf("item %d is empty or contains ';'", len(items)+1), true
		}
		items = append(items, item)
		p.ws()
		if p.eat(']') {
			break
		}
		if !p.eat(',') {
			return "", "", false
		}
		p.ws()
	}
	if len(items) == 1 {
		return items[0], "", true
	}
	return strings.Join(items, ";"), "", true
}

// customer validates the fields of one row and builds the customer.
func (r *SnapshotReader) customer(f []string, n int) (*huiyan.Customer, *LineError) {
	bad := func(col int, format string, args ...any) *LineError {
		return &LineError{Line: n, Field: column(snapshotColumns, col), Reason: fmt.Sprintf(format, args...)}
	}
	c := &huiyan.Customer{
		ID:          f[colCustomerID],
		DisplayName: f[colDisplayName],
		Tier:        huiyan.Tier(f[colTier]),
		HomeBranch:  f[colHomeBranch],
		Manager:     f[colManager],
		MBankStatus: huiyan.MBankStatus(f[colMBankStatus]),
		Risk:        huiyan.Risk(f[colRisk]),
		AUMBand:     f[colAUMBand],
		Lifecycle:   huiyan.Lifecycle(f[colLifecycle]),
	}
	if reason := checkCustomerID(c.ID); reason != "" {
		return nil, bad(colCustomerID, "%s", reason)
	}
	switch {
	case c.DisplayName == "":
		return nil, bad(colDisplayName, "required")
	case !huiyan.IsMaskedName(c.DisplayName):
		return nil, bad(colDisplayName, "display_name must be masked, e.g. 林*华")
	}
	if !c.Tier.Valid() {
		return nil, badEnum(bad, colTier, "tier", f[colTier])
	}
	switch {
	case c.HomeBranch == "":
		return nil, bad(colHomeBranch, "required")
	case !huiyan.ValidBranchID(c.HomeBranch):
		return nil, bad(colHomeBranch, "invalid branch id %s", quote(c.HomeBranch))
	}

	items, lerr := r.list(f, colBranches, bad)
	if lerr != nil {
		return nil, lerr
	}
	for i, b := range items {
		if !huiyan.ValidBranchID(b) {
			return nil, bad(colBranches, "invalid branch id %s", quote(b))
		}
		if b != c.HomeBranch && !slices.Contains(items[:i], b) {
			c.Branches = append(c.Branches, b)
		}
	}

	if c.Manager != "" && !huiyan.ValidStaffID(c.Manager) {
		return nil, bad(colManager, "invalid staff id %s", quote(c.Manager))
	}
	if !c.MBankStatus.Valid() {
		return nil, badEnum(bad, colMBankStatus, "mbank_status", f[colMBankStatus])
	}
	idle, ok := parseIdleDays(f[colMBankIdleDays])
	if !ok {
		return nil, bad(colMBankIdleDays, "must be a whole number of days from 0 to %d, or empty for never", maxIdleDays)
	}
	if reason := checkIdle(c.MBankStatus, idle); reason != "" {
		return nil, bad(colMBankIdleDays, "%s", reason)
	}
	c.MBankIdleDays = idle
	if !c.Risk.Valid() {
		return nil, badEnum(bad, colRisk, "risk level", f[colRisk])
	}
	if huiyan.AUMBandByCode(c.AUMBand) == nil {
		return nil, badEnum(bad, colAUMBand, "aum_band", c.AUMBand)
	}
	if !c.Lifecycle.Valid() {
		return nil, badEnum(bad, colLifecycle, "lifecycle", f[colLifecycle])
	}
	switch f[colOptOut] {
	case "0":
	case "1":
		c.OptOut = true
	default:
		return nil, bad(colOptOut, "must be 0 or 1, got %s", quote(f[colOptOut]))
	}

	if items, lerr = r.list(f, colTags, bad); lerr != nil {
		return nil, lerr
	}
	if len(items) > 0 {
		c.Tags = make([]int, 0, len(items))
		status := huiyan.StatusTagCode(c.MBankStatus)
		for _, code := range items {
			t := r.dict.ByCode(code)
			switch {
			case t == nil:
				return nil, bad(colTags, "unknown tag %s", quote(code))
			case t.Kind == huiyan.TagStatus && t.Code != status:
				return nil, bad(colTags, "status tag %q contradicts mbank_status %q", t.Code, c.MBankStatus)
			}
			c.Tags = append(c.Tags, t.ID)
		}
		slices.Sort(c.Tags)
		c.Tags = slices.Compact(c.Tags)
	}

	if items, lerr = r.list(f, colMaturities, bad); lerr != nil {
		return nil, lerr
	}
	if len(items) > 0 {
		c.Maturities = make([]huiyan.Maturity, 0, len(items))
		for _, it := range items {
			m, reason := parseMaturity(it)
			if reason != "" {
				return nil, bad(colMaturities, "%s", reason)
			}
			c.Maturities = append(c.Maturities, m)
		}
		slices.SortFunc(c.Maturities, func(a, b huiyan.Maturity) int {
			if d := a.Date.Compare(b.Date); d != 0 {
				return d
			}
			return strings.Compare(a.Product, b.Product)
		})
		c.Maturities = slices.CompactFunc(c.Maturities, func(a, b huiyan.Maturity) bool {
			return a.Product == b.Product && a.Date.Equal(b.Date)
		})
	}

	if lerr := r.identTokens(c, f, bad); lerr != nil {
		return nil, lerr
	}

	if r.ids != nil {
		id, first := r.ids.find(c.ID)
		if first != 0 {
			return nil, bad(colCustomerID, "duplicate customer_id (first on line %d)", first)
		}
		r.hashes = r.hashes[:0]
		for i, tok := range r.toks {
			h, first := r.tokens.find(tok)
			if first != 0 {
				return nil, bad(r.tokCols[i], "token already belongs to the customer on line %d", first)
			}
			r.hashes = append(r.hashes, h)
		}
		r.ids.add(id, lineNo(n))
		for _, h := range r.hashes {
			r.tokens.add(h, lineNo(n))
		}
	}
	return c, nil
}

func lineNo(n int) uint32 {
	if n > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(n)
}

// dupSet remembers values (customer ids or tokens) and the line each was
// first accepted on, for the file-wide duplicate checks. It keeps a keyed
// 96-bit hash of each value, not the value: 16 bytes a value in an
// open-addressing table at most 3/4 full, about 30 bytes a value on
// average, nothing for the garbage collector to scan, and about one cache
// miss a lookup. Maps keyed by the values (a cloned id string, a 32-byte
// token) took about twice the memory and a third more time.
//
// Two different values share a hash with probability 2^-96 per pair: about
// 10^-13 for a file of 30 million customers with four tokens each. The
// seeds are random per set, so no file can be made to collide on purpose,
// and made-up tokens (0…01, 0…02) are as safe as real HMACs.
type dupSet struct {
	seed1, seed2 maphash.Seed
	slots        []dupSlot // a power of two long
	n            int
}

// dupSlot is one entry; line 0 marks it empty (no data row is on line 0).
type dupSlot struct {
	h1   uint64 // also the probe start
	h2   uint32
	line uint32
}

func newDupSet() *dupSet {
	return &dupSet{seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed(), slots: make([]dupSlot, 1024)}
}

// find returns v's hash, for add, and the line v was added on, or 0.
func (s *dupSet) find(v string) (dupSlot, uint32) {
	h := dupSlot{h1: maphash.String(s.seed1, v), h2: uint32(maphash.String(s.seed2, v))}
	mask := uint64(len(s.slots) - 1)
	for i := h.h1 & mask; ; i = (i + 1) & mask {
		e := &s.slots[i]
		if e.line == 0 {
			return h, 0
		}
		if e.h1 == h.h1 && e.h2 == h.h2 {
			return h, e.line
		}
	}
}

// add records the value whose hash find returned, on line (> 0).
func (s *dupSet) add(h dupSlot, line uint32) {
	if (s.n+1)*4 > len(s.slots)*3 {
		old := s.slots
		s.slots = make([]dupSlot, 2*len(old))
		for _, e := range old {
			if e.line != 0 {
				s.put(e)
			}
		}
	}
	h.line = line
	s.put(h)
	s.n++
}

func (s *dupSet) put(e dupSlot) {
	mask := uint64(len(s.slots) - 1)
	i := e.h1 & mask
	for s.slots[i].line != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = e
}

// badFunc makes the *LineError for a column of the current row; a column
// below 0 means the whole row.
type badFunc func(col int, format string, args ...any) *LineError

// identTokens validates the four token columns and sets c.Tokens, in the
// order idcard, bankcard…, mbank, phone. It leaves the tokens and their
// columns in r.toks and r.tokCols for the duplicate check.
func (r *SnapshotReader) identTokens(c *huiyan.Customer, f []string, bad badFunc) *LineError {
	cards, lerr := r.list(f, colBankCardTokens, bad)
	if lerr != nil {
		return lerr
	}
	if len(cards) > MaxBankCardTokens {
		return bad(colBankCardTokens, "%d tokens, at most %d", len(cards), MaxBankCardTokens)
	}
	r.toks, r.tokCols = r.toks[:0], r.tokCols[:0]
	if tok := f[colIDCardToken]; tok != "" {
		r.toks, r.tokCols = append(r.toks, tok), append(r.tokCols, colIDCardToken)
	}
	for _, tok := range cards {
		r.toks, r.tokCols = append(r.toks, tok), append(r.tokCols, colBankCardTokens)
	}
	if tok := f[colMBankToken]; tok != "" {
		r.toks, r.tokCols = append(r.toks, tok), append(r.tokCols, colMBankToken)
	}
	if tok := f[colPhoneToken]; tok != "" {
		r.toks, r.tokCols = append(r.toks, tok), append(r.tokCols, colPhoneToken)
	}
	if len(r.toks) == 0 {
		return bad(-1, "no identity token: at least one of idcard_token, bankcard_tokens, mbank_token, phone_token is required")
	}
	c.Tokens = make([]huiyan.Ident, len(r.toks))
	for i, tok := range r.toks {
		col := r.tokCols[i]
		if !validToken(tok) {
			what := "token"
			if col == colBankCardTokens {
				what = fmt.Sprintf("token %d", i-slices.Index(r.tokCols, col)+1)
			}
			if allDigits(tok) {
				return bad(col, "%s looks like a raw number, not a token (64 lower-case hex characters)", what)
			}
			return bad(col, "%s must be 64 lower-case hex characters", what)
		}
		if j := slices.Index(r.toks[:i], tok); j >= 0 {
			what := "token"
			if col == colBankCardTokens {
				what = fmt.Sprintf("token %d", i-slices.Index(r.tokCols, col)+1)
			}
			return bad(col, "%s repeats the token in %s", what, snapshotColumns[r.tokCols[j]])
		}
		c.Tokens[i] = huiyan.Ident{Kind: tokenKind(col), KeyID: r.opts.KeyID, Token: tok}
	}
	return nil
}

// tokenKind returns the identifier kind of a token column.
func tokenKind(col int) huiyan.IdentKind {
	switch col {
	case colIDCardToken:
		return huiyan.IdentIDCard
	case colBankCardTokens:
		return huiyan.IdentBankCard
	case colMBankToken:
		return huiyan.IdentMBank
	}
	return huiyan.IdentPhone
}

// list splits the ';'-separated list in column col into r.items, which the
// next call reuses. An empty field is an empty list; an empty item is refused.
func (r *SnapshotReader) list(f []string, col int, bad badFunc) ([]string, *LineError) {
	r.items = r.items[:0]
	s := f[col]
	if s == "" {
		return r.items, nil
	}
	for {
		item, rest, more := strings.Cut(s, ";")
		if item == "" {
			return nil, bad(col, "empty item in the ;-separated list")
		}
		r.items = append(r.items, item)
		if !more {
			return r.items, nil
		}
		s = rest
	}
}

// checkCustomerID returns why id cannot be a customer id, or "". DESIGN.md,
// "Data model": HQ's opaque id, never a token or anything derived from an
// identity number, so shapes of those are refused even where they would
// pass huiyan.ValidCustomerID.
func checkCustomerID(id string) string {
	switch {
	case id == "":
		return "required"
	case len(id) == 64 && isHex(id):
		return "customer_id looks like an identity token; use HQ's pseudonymous customer id"
	case looksLikeIDCard(id):
		return "customer_id looks like an ID-card number; use HQ's pseudonymous customer id"
	case !huiyan.ValidCustomerID(id):
		return fmt.Sprintf("customer_id must be 1 to %d characters of 0-9 A-Z a-z . _ -", huiyan.MaxCustomerIDLen)
	}
	return ""
}

// looksLikeIDCard reports whether s has the shape of a resident identity
// card number: 15 digits (first generation) or 18 digits, or 17 digits and
// the check character X.
func looksLikeIDCard(s string) bool {
	switch len(s) {
	case 15:
		return allDigits(s)
	case 18:
		return allDigits(s[:17]) && (isDigit(s[17]) || s[17] == 'X' || s[17] == 'x')
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return len(s) > 0
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// validToken reports whether s is 64 lower-case hex characters.
func validToken(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// badEnum reports an empty or unknown value of an enumerated column.
func badEnum(bad badFunc, col int, what, v string) *LineError {
	if v == "" {
		return bad(col, "required")
	}
	return bad(col, "unknown %s %s", what, quote(v))
}

// quote quotes a value for a reason, cut to 40 bytes so that a stray blob
// does not become a megabyte of error report.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

// parseIdleDays parses mbank_idle_days: "" is never (-1), otherwise an
// integer from 0 to maxIdleDays without sign or leading zeros beyond "0".
func parseIdleDays(s string) (int, bool) {
	if s == "" {
		return -1, true
	}
	if len(s) > 5 || !allDigits(s) || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n, n <= maxIdleDays
}

// checkIdle returns why idle days (-1 for never) contradict the status, or "".
func checkIdle(s huiyan.MBankStatus, idle int) string {
	const d = huiyan.DormantAfterDays
	switch s {
	case huiyan.MBankNone:
		if idle >= 0 {
			return "must be empty for mbank_status none (never registered, so never logged in)"
		}
	case huiyan.MBankRegistered:
		if idle >= 0 {
			return "must be empty for mbank_status registered (registered but never used)"
		}
	case huiyan.MBankDormant:
		if idle < d {
			return fmt.Sprintf("mbank_status dormant needs at least %d days, got %s", d, idleText(idle))
		}
	case huiyan.MBankActive:
		if idle < 0 || idle >= d {
			return fmt.Sprintf("mbank_status active needs 0 to %d days, got %s", d-1, idleText(idle))
		}
	}
	return ""
}

func idleText(idle int) string {
	if idle < 0 {
		return "empty (never)"
	}
	return fmt.Sprint(idle)
}

// parseMaturity parses "product_code:YYYY-MM-DD" into a maturity at
// midnight UTC+8, or returns why it cannot.
func parseMaturity(s string) (huiyan.Maturity, string) {
	code, date, ok := strings.Cut(s, ":")
	if !ok {
		return huiyan.Maturity{}, fmt.Sprintf("maturity %s must be product_code:YYYY-MM-DD", quote(s))
	}
	p := huiyan.ProductByCode(code)
	if p == nil {
		return huiyan.Maturity{}, fmt.Sprintf("unknown product %s", quote(code))
	}
	t, ok := parseDate(date)
	if !ok {
		return huiyan.Maturity{}, fmt.Sprintf("product %s: date %s must be a real date YYYY-MM-DD", p.Code, quote(date))
	}
	if y := t.Year(); y < 1970 || y > 2199 {
		return huiyan.Maturity{}, fmt.Sprintf("product %s: date %s out of range (1970 to 2199)", p.Code, date)
	}
	return huiyan.Maturity{Product: p.Code, Date: t}, ""
}

// parseDate parses YYYY-MM-DD as midnight UTC+8. It does what
// time.ParseInLocation(time.DateOnly, …) does, in a tenth of the time.
func parseDate(s string) (time.Time, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !allDigits(s[:4]) || !allDigits(s[5:7]) || !allDigits(s[8:]) {
		return time.Time{}, false
	}
	num := func(s string) int {
		n := 0
		for i := 0; i < len(s); i++ {
			n = n*10 + int(s[i]-'0')
		}
		return n
	}
	y, m, d := num(s[:4]), time.Month(num(s[5:7])), num(s[8:])
	t := time.Date(y, m, d, 0, 0, 0, 0, shanghai)
	// time.Date normalises 2026-02-30 to March 2: a real date survives.
	if m < time.January || m > time.December || d < 1 || t.Month() != m || t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}

// readerSize holds a line of MaxLineBytes with its CRLF ending.
const readerSize = MaxLineBytes + 2

// bom is the UTF-8 byte-order mark some spreadsheet programs write first.
var bom = []byte("\uFEFF")

// lineReader reads lines of at most MaxLineBytes, counting them.
type lineReader struct {
	br   *bufio.Reader
	line int // the number of the line last read
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, readerSize)}
}

// next returns the next non-blank line without its line ending; the slice
// is valid until the following call. tooLong reports a line over
// MaxLineBytes, which was read past and is not returned. err is io.EOF at
// the end, or a read error (fatal: a truncated gzip stream is one).
func (lr *lineReader) next() (line []byte, tooLong bool, err error) {
	for {
		b, err := lr.br.ReadSlice('\n')
		if len(b) == 0 && err != nil {
			if err != io.EOF {
				err = fmt.Errorf("read line %d: %w", lr.line+1, err)
			}
			return nil, false, err
		}
		lr.line++
		if err == bufio.ErrBufferFull {
			for err == bufio.ErrBufferFull {
				_, err = lr.br.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, false, fmt.Errorf("read line %d: %w", lr.line, err)
			}
			return nil, true, nil
		}
		if err != nil && err != io.EOF {
			return nil, false, fmt.Errorf("read line %d: %w", lr.line, err)
		}
		b = bytes.TrimSuffix(b, []byte{'\n'})
		b = bytes.TrimSuffix(b, []byte{'\r'})
		if lr.line == 1 {
			b = bytes.TrimPrefix(b, bom)
		}
		switch {
		case len(b) > MaxLineBytes:
			return nil, true, nil
		case len(b) > 0:
			return b, false, nil
		}
		// A blank line: skip it.
	}
}

// splitCSV splits one CSV record, a line without its ending, into fields
// (RFC 4180 quoting, no line breaks inside a field). Unquoted fields are
// slices of line; quoted ones are unescaped into *scratch. On a malformed
// field it returns the field's index and the reason; bad is -1 otherwise.
func splitCSV(fields [][]byte, scratch *[]byte, line []byte) (_ [][]byte, bad int, reason string) {
	fields = fields[:0]
	if bytes.IndexByte(line, '"') < 0 {
		for {
			i := bytes.IndexByte(line, ',')
			if i < 0 {
				return append(fields, line), -1, ""
			}
			fields = append(fields, line[:i])
			line = line[i+1:]
		}
	}
	// Unescaped content is never longer than the line, so appending to
	// buf never reallocates and the fields taken from it stay valid.
	buf := slices.Grow((*scratch)[:0], len(line))
	*scratch = buf
	for {
		if len(line) > 0 && line[0] == '"' {
			start := len(buf)
			i := 1
			for {
				j := bytes.IndexByte(line[i:], '"')
				if j < 0 {
					return fields, len(fields), `quoted field not closed on its line (a field may not contain a line break)`
				}
				buf = append(buf, line[i:i+j]...)
				i += j + 1
				if i < len(line) && line[i] == '"' {
					buf = append(buf, '"')
					i++
					continue
				}
				break
			}
			fields = append(fields, buf[start:len(buf):len(buf)])
			line = line[i:]
			if len(line) == 0 {
				return fields, -1, ""
			}
			if line[0] != ',' {
				return fields, len(fields) - 1, `extraneous character after a closing quote`
			}
			line = line[1:]
			continue
		}
		i := bytes.IndexByte(line, ',')
		f := line
		if i >= 0 {
			f = line[:i]
		}
		if bytes.IndexByte(f, '"') >= 0 {
			return fields, len(fields), `bare " in an unquoted field`
		}
		fields = append(fields, f)
		if i < 0 {
			return fields, -1, ""
		}
		line = line[i+1:]
	}
}
