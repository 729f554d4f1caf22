package prizes

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"huiyan"
	firmware "huiyan/firmware-contracts"
)

// Errors callers branch on. edge/wheel uses the same values, so that
// errors.Is works whichever package a caller names.
var (
	// ErrInvalid: a prize table breaks a rule (a bad file, or a table
	// built in code that is wrong), never a reason to retry.
	ErrInvalid = errors.New("invalid")
	// ErrNoTable: the prize file has no table for the branch.
	ErrNoTable = errors.New("no prize table for the branch")
)

// CST is China Standard Time, the zone of the dates of prizes.csv and of
// the times Format writes. A fixed zone, as hub/funnel's (which this
// package does not import: it imports nothing of the hub or the edge).
var CST = time.FixedZone("CST", 8*60*60)

// Unlimited is the inventory of an entry that never runs out: the no-prize
// entry always, and a prize whose stock has no end (an e-coupon).
const Unlimited int64 = -1

// Limits of a prize table file. They are far above a real campaign's and
// keep a broken or hostile file from eating the edge's memory.
const (
	MaxTableBytes      = 8 << 20 // bytes of a prizes.csv
	MaxEntries         = 64      // prize rows of one branch, the no-prize row included
	MaxSpinsPerDay     = 1000
	MaxWeightScale     = 1_000_000_000
	DefaultWeightScale = 1_000_000 // weights are per million unless the file says otherwise
	DefaultSpinsPerDay = 1
	maxLineErrors      = 100 // a file with more bad lines reports the first ones
)

// Header is the exact header line of the prize rows of prizes.csv.
const Header = "branch,prize_code,name_zh,name_en,weight,inventory,starts,ends"

var header = strings.Split(Header, ",")

// Setting names of prizes.csv (the rows before the header).
const (
	SettingCampaign    = "campaign"
	SettingStarts      = "starts"
	SettingEnds        = "ends"
	SettingSpinsPerDay = "spins_per_day"
	SettingUnknown     = "unknown_customers"
	SettingWeightScale = "weight_scale"
)

// Entry is one row of a branch's prize table: a prize, or the no-prize
// entry (Code "", 谢谢参与) that takes the weight the prizes leave.
type Entry struct {
	Code   string // the prize code; "" for the no-prize entry
	NameZH string // what the wheel shows, 1 to 64 characters
	NameEN string // the English name, may be empty
	// Weight is the entry's share of the table's Scale: the probability of
	// drawing it is exactly Weight/Scale.
	Weight uint64
	// Inventory is how many of the prize the branch has for the campaign,
	// in all (what was awarded is counted in wheel.db), or Unlimited.
	Inventory int64
	// Starts and Ends bound when the prize can be won, within the
	// campaign; zero for the campaign's own window.
	Starts, Ends time.Time
}

// NoPrize reports whether e is the no-prize entry.
func (e Entry) NoPrize() bool { return e.Code == "" }

// PrizeTable is one branch's prize wheel: its campaign, the entries the
// draw chooses from, and the rules around the draw (package documentation).
type PrizeTable struct {
	Branch   string
	Campaign string // campaign id, [0-9A-Za-z._:-]{1,64}: what awarded counts belong to
	// Starts and Ends bound the campaign: a spin at Starts or later and
	// before Ends is drawn; any other is campaign_closed.
	Starts, Ends time.Time
	SpinsPerDay  int  // per customer per day (China Standard Time)
	AllowUnknown bool // customers the bank does not know may play
	// Scale is the total weight: every entry's probability is
	// Weight/Scale, and the weights add up to exactly Scale.
	Scale uint64
	// Entries in the file's row order, which is also the order of the
	// draw's ranges (package documentation, "The draw"). Exactly one is the
	// no-prize entry.
	Entries []Entry
}

// Validate checks a table (one built in code; Parse checks its own
// better, line by line) and returns a huiyan.EInvalid error naming the
// first problem.
func (t *PrizeTable) Validate() error {
	bad := func(format string, args ...any) error {
		return huiyan.Errorf(huiyan.EInvalid, "prize table: "+format, args...)
	}
	switch {
	case !huiyan.ValidBranchID(t.Branch):
		return bad("branch must be a branch id")
	case !firmware.ValidPrizeCode(t.Campaign):
		return bad("campaign must be 1 to %d characters of [0-9A-Za-z._:-]", firmware.MaxPrizeLen)
	case t.Starts.IsZero() || t.Ends.IsZero() || !t.Ends.After(t.Starts):
		return bad("the campaign needs a start before its end")
	case t.SpinsPerDay < 1 || t.SpinsPerDay > MaxSpinsPerDay:
		return bad("spins per day must be 1 to %d", MaxSpinsPerDay)
	case t.Scale < 1 || t.Scale > MaxWeightScale:
		return bad("weight scale must be 1 to %d", MaxWeightScale)
	case len(t.Entries) == 0 || len(t.Entries) > MaxEntries:
		return bad("a table has 1 to %d entries", MaxEntries)
	}
	var sum uint64
	none := 0
	seen := map[string]bool{}
	for i, e := range t.Entries {
		switch {
		case e.NoPrize():
			none++
			if e.Inventory != Unlimited {
				return bad("entry %d: the no-prize entry's inventory is unlimited", i)
			}
		case !firmware.ValidPrizeCode(e.Code):
			return bad("entry %d: prize code must be 1 to %d characters of [0-9A-Za-z._:-]", i, firmware.MaxPrizeLen)
		case seen[e.Code]:
			return bad("entry %d: prize code %s twice", i, e.Code)
		case e.Weight == 0:
			return bad("entry %d: a prize needs a weight above 0", i)
		case e.Inventory < Unlimited:
			return bad("entry %d: inventory must be 0 or more, or unlimited", i)
		}
		seen[e.Code] = true
		switch {
		case e.NameZH == "" || !firmware.ValidPrizeName(e.NameZH) || !firmware.ValidPrizeName(e.NameEN):
			return bad("entry %d: names must be at most %d characters without control characters, name_zh not empty", i, firmware.MaxPrizeNameLen)
		case !e.Starts.IsZero() && !e.Ends.IsZero() && !e.Ends.After(e.Starts):
			return bad("entry %d: the prize's window ends before it starts", i)
		case e.Weight > t.Scale-sum:
			return bad("entry %d: the weights add up to more than the scale %d", i, t.Scale)
		}
		sum += e.Weight
	}
	switch {
	case none != 1:
		return bad("a table has exactly one no-prize entry, not %d", none)
	case sum != t.Scale:
		return bad("the weights add up to %d, not the scale %d", sum, t.Scale)
	}
	return nil
}

// NoPrize returns the no-prize entry of a valid table.
func (t *PrizeTable) NoPrize() Entry {
	for _, e := range t.Entries {
		if e.NoPrize() {
			return e
		}
	}
	return Entry{NameZH: "谢谢参与", NameEN: "Thanks for playing", Inventory: Unlimited}
}

// Entry returns the entry of the prize code.
func (t *PrizeTable) Entry(code string) (Entry, bool) {
	for _, e := range t.Entries {
		if e.Code == code {
			return e, true
		}
	}
	return Entry{}, false
}

// Fingerprint identifies the table's content: the first 16 hex characters
// of the SHA-256 of its canonical form (the settings and the rows as
// Format writes them). Every audit record carries it, so that an auditor
// can tell which approved table a spin was drawn from.
func (t *PrizeTable) Fingerprint() string {
	var b bytes.Buffer
	if err := t.Format(&b); err != nil {
		return "" // a bytes.Buffer does not fail
	}
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:8])
}

// Canonical returns the table's canonical form: what Format writes, the
// text Fingerprint hashes and the hub ships to the branch's edge.
func (t *PrizeTable) Canonical() string {
	var b strings.Builder
	if err := t.Format(&b); err != nil {
		return "" // a strings.Builder does not fail
	}
	return b.String()
}

// ParseCanonical reads one branch's table in canonical form (Canonical),
// as the hub ships it to that branch's edge: a valid prizes.csv holding
// exactly one table, the branch's, whose canonical form is text byte for
// byte. So the first 16 hex characters of the SHA-256 of text are the
// table's Fingerprint, and a text that parses but is not what Format
// writes (hand-edited, or from a build that formats differently) is
// refused rather than run under another fingerprint than the one the hub
// published. Errors wrap ErrInvalid (and ErrNoTable when the text holds
// no table of the branch).
func ParseCanonical(text, branch string) (*PrizeTable, error) {
	ts, err := Parse(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	t, ok := ts[branch]
	switch {
	case !ok:
		return nil, fmt.Errorf("prize table: branch %s: %w: %w", branch, ErrInvalid, ErrNoTable)
	case len(ts) != 1:
		return nil, fmt.Errorf("prize table: %d branches, want only %s: %w", len(ts), branch, ErrInvalid)
	case t.Canonical() != text:
		return nil, fmt.Errorf("prize table: not in canonical form: %w", ErrInvalid)
	}
	return t, nil
}

// Format writes the table in the file form Parse reads: its settings, all
// with the branch, then the header and its rows.
func (t *PrizeTable) Format(w io.Writer) error {
	cw := csv.NewWriter(w)
	tm := func(x time.Time) string {
		if x.IsZero() {
			return ""
		}
		return x.In(CST).Format(time.RFC3339Nano)
	}
	unknown := "deny"
	if t.AllowUnknown {
		unknown = "allow"
	}
	rows := [][]string{
		{SettingCampaign, t.Campaign, t.Branch},
		{SettingStarts, tm(t.Starts), t.Branch},
		{SettingEnds, tm(t.Ends), t.Branch},
		{SettingSpinsPerDay, strconv.Itoa(t.SpinsPerDay), t.Branch},
		{SettingUnknown, unknown, t.Branch},
		{SettingWeightScale, strconv.FormatUint(t.Scale, 10), t.Branch},
		header,
	}
	for _, e := range t.Entries {
		inv := strconv.FormatInt(e.Inventory, 10)
		if e.Inventory == Unlimited {
			inv = "unlimited"
		}
		rows = append(rows, []string{t.Branch, e.Code, e.NameZH, e.NameEN, strconv.FormatUint(e.Weight, 10), inv, tm(e.Starts), tm(e.Ends)})
	}
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("prize table: %w", err)
	}
	return nil
}

// LineError is one bad line of a prizes.csv: the line (1 is the first; 0
// the whole file), the field when one is to blame, and why. It has the
// fields of hub.LineError, with which HQ's other files are reported, so
// that the hub converts one into the other (hub.LineError(*le)) while this
// package imports nothing of the hub.
type LineError struct {
	Line   int
	Field  string
	Reason string
}

// Error implements the error interface: "line 7: field weight: …".
func (e *LineError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: field %s: %s", e.Line, e.Field, e.Reason)
}

// ParseError is a refused prizes.csv: every bad line (up to 100), each a
// *LineError as HQ's snapshot import reports them. The file is refused
// whole: a wheel must not run half of an approved table.
type ParseError struct {
	Lines []*LineError
	More  bool // there were more bad lines than Lines holds
}

// Error implements the error interface with the first bad line and a count.
func (e *ParseError) Error() string {
	if len(e.Lines) == 1 {
		return "prizes.csv: " + e.Lines[0].Error()
	}
	more := ""
	if e.More {
		more = " or more"
	}
	return fmt.Sprintf("prizes.csv: %d%s bad lines, the first %s", len(e.Lines), more, e.Lines[0].Error())
}

// Unwrap makes errors.Is(err, ErrInvalid) true: a refused file is a bad
// input, not a failure of the edge.
func (e *ParseError) Unwrap() error { return ErrInvalid }

// Load reads the prize tables of path (a prizes.csv, as Parse) and
// returns the one of branch, or an error wrapping ErrNoTable when the file
// has none for it.
func Load(path, branch string) (*PrizeTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("prize table: %w", err)
	}
	defer f.Close()
	ts, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t, ok := ts[branch]
	if !ok {
		return nil, fmt.Errorf("%s: branch %s: %w", path, branch, ErrNoTable)
	}
	return t, nil
}

// Parse reads a prizes.csv (package documentation, "prizes.csv") and
// returns its tables by branch. It is strict: any bad line refuses the
// whole file with a *ParseError listing the bad lines.
func Parse(r io.Reader) (map[string]*PrizeTable, error) {
	p := &parser{settings: map[string]map[string]setting{}, tables: map[string]*PrizeTable{}, first: map[string]int{}}
	return p.parse(r)
}

type setting struct {
	value string
	line  int
}

type parser struct {
	errs     []*LineError
	more     bool
	settings map[string]map[string]setting // branch ("" for all) → name → value
	tables   map[string]*PrizeTable
	order    []string       // branches in file order
	first    map[string]int // branch → line of its first row
}

func (p *parser) fail(line int, field, format string, args ...any) {
	if len(p.errs) >= maxLineErrors {
		p.more = true
		return
	}
	p.errs = append(p.errs, &LineError{Line: line, Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (p *parser) parse(r io.Reader) (map[string]*PrizeTable, error) {
	br := bufio.NewReader(io.LimitReader(r, MaxTableBytes+1))
	// Excel writes a byte order mark; it is not part of the first field.
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	lr := &limitedReader{r: br}
	cr := csv.NewReader(lr)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1 // settings have 2 or 3 fields, rows 8: checked here
	inRows := false
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if lr.over {
			return nil, &ParseError{Lines: []*LineError{{Line: 0, Reason: fmt.Sprintf("the file is over %d bytes", MaxTableBytes)}}}
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			p.fail(perr.StartLine, "", "not valid CSV: %v", perr.Err)
			if !errors.Is(perr.Err, csv.ErrFieldCount) {
				// The reader cannot find the next record reliably after
				// a quoting error: the rest of the file is unreadable.
				break
			}
			continue
		} else if err != nil {
			return nil, fmt.Errorf("prizes.csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		for i, f := range rec {
			if !utf8.ValidString(f) {
				p.fail(line, fieldName(inRows, i), "not valid UTF-8")
				rec = nil
				break
			}
		}
		switch {
		case rec == nil:
		case !inRows && slices.Equal(rec, header):
			inRows = true
		case !inRows:
			p.setting(line, rec)
		default:
			p.row(line, rec)
		}
	}
	if lr.over {
		return nil, &ParseError{Lines: []*LineError{{Line: 0, Reason: fmt.Sprintf("the file is over %d bytes", MaxTableBytes)}}}
	}
	if !inRows && len(p.errs) == 0 {
		p.fail(1, "", "no header line %q", Header)
	}
	p.finish()
	if len(p.errs) == 0 {
		// The same checks as for a table built in code: a safety net
		// under the line-by-line ones above.
		for _, b := range p.order {
			if err := p.tables[b].Validate(); err != nil {
				p.fail(p.first[b], "", "%s", huiyan.ErrorMessage(err))
			}
		}
	}
	if len(p.errs) > 0 {
		return nil, &ParseError{Lines: p.errs, More: p.more}
	}
	return p.tables, nil
}

func fieldName(inRows bool, i int) string {
	if inRows && i < len(header) {
		return header[i]
	}
	return ""
}

var settingNames = []string{SettingCampaign, SettingStarts, SettingEnds, SettingSpinsPerDay, SettingUnknown, SettingWeightScale}

// setting reads "name,value" or "name,value,branch".
func (p *parser) setting(line int, rec []string) {
	if len(rec) < 2 || len(rec) > 3 {
		if len(rec) > 0 && rec[0] == "branch" {
			p.fail(line, "", "the header must be exactly %q", Header)
			return
		}
		p.fail(line, "", "a setting line is name,value or name,value,branch (%d fields); the prize rows come after the header %q", len(rec), Header)
		return
	}
	name, value, branch := rec[0], rec[1], ""
	if len(rec) == 3 {
		branch = rec[2]
		if !huiyan.ValidBranchID(branch) {
			p.fail(line, name, "the third field must be a branch id")
			return
		}
	}
	if !slices.Contains(settingNames, name) {
		p.fail(line, "", "unknown setting %q (known: %s)", truncate(name), strings.Join(settingNames, ", "))
		return
	}
	if _, err := p.settingValue(name, value); err != nil {
		p.fail(line, name, "%v", err)
		return
	}
	m := p.settings[branch]
	if m == nil {
		m = map[string]setting{}
		p.settings[branch] = m
	}
	if prev, ok := m[name]; ok {
		p.fail(line, name, "set twice (first on line %d)", prev.line)
		return
	}
	m[name] = setting{value: value, line: line}
}

// settingValue checks a setting's value and returns it parsed.
func (p *parser) settingValue(name, v string) (any, error) {
	switch name {
	case SettingCampaign:
		if !firmware.ValidPrizeCode(v) {
			return nil, fmt.Errorf("must be 1 to %d characters of [0-9A-Za-z._:-]", firmware.MaxPrizeLen)
		}
		return v, nil
	case SettingStarts, SettingEnds:
		return parseTime(v, name == SettingEnds)
	case SettingSpinsPerDay:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxSpinsPerDay {
			return nil, fmt.Errorf("must be a whole number from 1 to %d", MaxSpinsPerDay)
		}
		return n, nil
	case SettingUnknown:
		switch v {
		case "allow":
			return true, nil
		case "deny":
			return false, nil
		}
		return nil, errors.New("must be allow or deny")
	case SettingWeightScale:
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n < 1 || n > MaxWeightScale {
			return nil, fmt.Errorf("must be a whole number from 1 to %d", MaxWeightScale)
		}
		return n, nil
	}
	return nil, errors.New("unknown setting")
}

// parseTime reads a window bound: a date (YYYY-MM-DD, a whole day in China
// Standard Time: a start at its first moment, an end after its last) or
// an RFC 3339 time with an offset (that instant).
func parseTime(v string, end bool) (time.Time, error) {
	if t, err := time.ParseInLocation(time.DateOnly, v, CST); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, errors.New("must be a date (YYYY-MM-DD, China Standard Time) or an RFC 3339 time with an offset")
	}
	return t, nil
}

func (p *parser) row(line int, rec []string) {
	if len(rec) != len(header) {
		p.fail(line, "", "a prize row has %d fields, not %d", len(rec), len(header))
		return
	}
	branch, code, nameZH, nameEN, weight, inv, starts, ends := rec[0], rec[1], rec[2], rec[3], rec[4], rec[5], rec[6], rec[7]
	if !huiyan.ValidBranchID(branch) {
		p.fail(line, "branch", "must be a branch id, [0-9A-Za-z-]{1,32}")
		return
	}
	ok := true
	bad := func(field, format string, args ...any) {
		p.fail(line, field, format, args...)
		ok = false
	}
	e := Entry{Code: code, NameZH: nameZH, NameEN: nameEN}
	if code != "" && !firmware.ValidPrizeCode(code) {
		bad("prize_code", "must be empty (the no-prize row) or 1 to %d characters of [0-9A-Za-z._:-]", firmware.MaxPrizeLen)
	}
	if nameZH == "" || !firmware.ValidPrizeName(nameZH) {
		bad("name_zh", "must be 1 to %d characters without control characters", firmware.MaxPrizeNameLen)
	}
	if !firmware.ValidPrizeName(nameEN) {
		bad("name_en", "must be at most %d characters without control characters", firmware.MaxPrizeNameLen)
	}
	rest := false
	switch {
	case weight == "rest" && code == "":
		rest = true
	case weight == "rest":
		bad("weight", "only the no-prize row (empty prize_code) takes the rest")
	default:
		n, err := strconv.ParseUint(weight, 10, 64)
		switch {
		case err != nil || n > MaxWeightScale:
			bad("weight", "must be a whole number up to %d, or rest for the no-prize row", MaxWeightScale)
		case n == 0 && code != "":
			bad("weight", "a prize's weight must be above 0: leave out a prize that cannot be won")
		}
		e.Weight = n
	}
	switch {
	case inv == "unlimited" || inv == "" && code == "":
		e.Inventory = Unlimited
	case code == "":
		bad("inventory", "the no-prize row's inventory is unlimited (or empty)")
	default:
		n, err := strconv.ParseInt(inv, 10, 64)
		if err != nil || n < 0 || n > 1<<40 {
			bad("inventory", "must be a whole number 0 or more, or unlimited")
		}
		e.Inventory = n
	}
	var err error
	if starts != "" {
		if e.Starts, err = parseTime(starts, false); err != nil {
			bad("starts", "%v", err)
		}
	}
	if ends != "" {
		if e.Ends, err = parseTime(ends, true); err != nil {
			bad("ends", "%v", err)
		}
	}
	if !e.Starts.IsZero() && !e.Ends.IsZero() && !e.Ends.After(e.Starts) {
		bad("ends", "must be after starts")
	}
	t := p.tables[branch]
	if t == nil {
		t = &PrizeTable{Branch: branch}
		p.tables[branch] = t
		p.order = append(p.order, branch)
		p.first[branch] = line
	}
	for _, o := range t.Entries {
		switch {
		case o.Code == code && code == "":
			bad("prize_code", "a second no-prize row for branch %s", branch)
		case o.Code == code:
			bad("prize_code", "prize %s twice for branch %s", code, branch)
		}
	}
	if len(t.Entries) >= MaxEntries {
		bad("", "branch %s has more than %d rows", branch, MaxEntries)
	}
	if !ok {
		return
	}
	if rest {
		e.Weight = restWeight // filled in by finish
	}
	t.Entries = append(t.Entries, e)
}

// restWeight marks the no-prize row's "rest" until finish knows the sum.
const restWeight = ^uint64(0)

// finish applies the settings to every branch's table and checks what
// needs the whole file: the no-prize row, the sum of the weights, the
// required settings, settings for branches without rows.
func (p *parser) finish() {
	for branch, m := range p.settings {
		if branch == "" {
			continue
		}
		if _, ok := p.tables[branch]; !ok {
			for name, s := range m {
				p.fail(s.line, name, "setting for branch %s, which has no prize rows", branch)
			}
		}
	}
	for _, branch := range p.order {
		t, line := p.tables[branch], p.first[branch]
		get := func(name string) (setting, bool) {
			if s, ok := p.settings[branch][name]; ok {
				return s, true
			}
			s, ok := p.settings[""][name]
			return s, ok
		}
		val := func(name string) any {
			s, ok := get(name)
			if !ok {
				return nil
			}
			v, _ := p.settingValue(name, s.value) // checked when read
			return v
		}
		t.SpinsPerDay, t.Scale = DefaultSpinsPerDay, DefaultWeightScale
		for _, name := range []string{SettingCampaign, SettingStarts, SettingEnds} {
			if _, ok := get(name); !ok {
				p.fail(line, name, "branch %s has no %s setting", branch, name)
			}
		}
		if v, ok := val(SettingCampaign).(string); ok {
			t.Campaign = v
		}
		if v, ok := val(SettingStarts).(time.Time); ok {
			t.Starts = v
		}
		if v, ok := val(SettingEnds).(time.Time); ok {
			t.Ends = v
		}
		if !t.Starts.IsZero() && !t.Ends.IsZero() && !t.Ends.After(t.Starts) {
			s, _ := get(SettingEnds)
			p.fail(s.line, SettingEnds, "the campaign of branch %s ends before it starts", branch)
		}
		if v, ok := val(SettingSpinsPerDay).(int); ok {
			t.SpinsPerDay = v
		}
		if v, ok := val(SettingUnknown).(bool); ok {
			t.AllowUnknown = v
		}
		if v, ok := val(SettingWeightScale).(uint64); ok {
			t.Scale = v
		}
		var sum uint64
		rest, none := -1, 0
		for i, e := range t.Entries {
			if e.NoPrize() {
				none++
			}
			if e.Weight == restWeight {
				rest = i
				continue
			}
			sum += e.Weight // each at most MaxWeightScale, MaxEntries of them: no overflow
		}
		switch {
		case none == 0:
			p.fail(line, "prize_code", "branch %s has no no-prize row (empty prize_code, e.g. 谢谢参与 with weight rest)", branch)
		case sum > t.Scale:
			p.fail(line, "weight", "the weights of branch %s add up to %d, over the scale %d", branch, sum, t.Scale)
		case rest >= 0:
			t.Entries[rest].Weight = t.Scale - sum
		case sum != t.Scale:
			p.fail(line, "weight", "the weights of branch %s add up to %d, not the scale %d (write rest as the no-prize row's weight)", branch, sum, t.Scale)
		}
	}
}

func truncate(s string) string {
	if utf8.RuneCountInString(s) > 32 {
		return string([]rune(s)[:32]) + "…"
	}
	return s
}

// limitedReader reads at most MaxTableBytes and notes whether there was more.
type limitedReader struct {
	r    io.Reader
	n    int64
	over bool
}

func (l *limitedReader) Read(b []byte) (int, error) {
	n, err := l.r.Read(b)
	l.n += int64(n)
	if l.n > MaxTableBytes {
		l.over = true
		return 0, io.EOF
	}
	return n, err
}
