package hub

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"huiyan"
)

// HQ's tag dictionary travels with an import like the staff roster
// (DESIGN.md, "Data model": "HQ can add tags; ids are never reused"). The
// file is tagdict.csv as the hub ships it (huiyan.TagDictHeader); what is
// checked here beyond huiyan.ParseTagDict is the history: a dictionary
// replaces the previous one, and the customers the edges hold carry tag
// ids, so an id must mean the same tag forever.

// MaxTagID is the largest tag id a dictionary may use: far above the
// shipped ranges (branch 1–154, predictive 201–208, status 301–304), and
// small enough that an id never needs more than an int32 anywhere.
const MaxTagID = 999_999

// MaxTagNameRunes is the longest tag name, in characters (the shipped
// English names reach 41): a name is a chip on a PAD card, not a sentence.
const MaxTagNameRunes = 64

// RequiredTags are the tag codes an uploaded dictionary may not drop: the
// edge's shipped suggested-action rules and the reports name them, and
// the mobile-banking status tags stand for huiyan.MBankStatus values.
var RequiredTags = []string{
	huiyan.TagPotentialVIP, huiyan.TagChurnRiskVIP,
	huiyan.TagMBankNone, huiyan.TagMBankRegister, huiyan.TagMBankDormant, huiyan.TagMBankActive,
}

// Columns of a dictionary row, in huiyan.TagDictHeader order.
const (
	dictColID = iota
	dictColCode
	dictColNameZH
	dictColNameEN
	dictColKind
	dictColCategory
	dictColPriority
	numDictCols
)

var dictColumns = strings.Split(huiyan.TagDictHeader, ",")

// TagHistory is every tag a cluster's dictionaries ever had: what an id
// meant and which id a code had, so that a new dictionary can be checked
// against retired tags too, not only the current ones.
type TagHistory struct {
	byID   map[int]historyTag
	byCode map[string]historyTag
}

type historyTag struct {
	huiyan.Tag
	dict int // the newest dictionary version that had it
}

// NewTagHistory returns the history of the dictionaries, in any order.
func NewTagHistory(dicts ...*huiyan.TagDict) *TagHistory {
	h := &TagHistory{byID: map[int]historyTag{}, byCode: map[string]historyTag{}}
	for _, d := range dicts {
		if d == nil {
			continue
		}
		for _, t := range d.Tags() {
			ht := historyTag{Tag: t, dict: d.Version()}
			if old, ok := h.byID[t.ID]; !ok || old.dict < ht.dict {
				h.byID[t.ID] = ht
			}
			if old, ok := h.byCode[t.Code]; !ok || old.dict < ht.dict {
				h.byCode[t.Code] = ht
			}
		}
	}
	return h
}

// Check returns the column ("id", "code" or "kind") and the reason why t
// contradicts the history, or "", "" when it does not: an id keeps its
// code and its kind, a code keeps its id, and a new tag of kind status
// must be the status tag of a huiyan.MBankStatus (the statuses are fixed,
// so no customer could carry another). Names, category and priority may
// change.
func (h *TagHistory) Check(t huiyan.Tag) (field, reason string) {
	if old, ok := h.byID[t.ID]; ok {
		switch {
		case old.Code != t.Code:
			return dictColumns[dictColID], fmt.Sprintf("id %d is tag %s in dictionary version %d: an id keeps its code for ever (give a new tag an id never used)", t.ID, quote(old.Code), old.dict)
		case old.Kind != t.Kind:
			return dictColumns[dictColKind], fmt.Sprintf("tag %s is of kind %s in dictionary version %d: a tag keeps its kind", t.Code, old.Kind, old.dict)
		}
		return "", ""
	}
	if old, ok := h.byCode[t.Code]; ok {
		return dictColumns[dictColID], fmt.Sprintf("tag %s has id %d in dictionary version %d: a tag keeps its id", quote(t.Code), old.ID, old.dict)
	}
	if t.Kind == huiyan.TagStatus && !slices.Contains(statusTags, t.Code) {
		return dictColumns[dictColKind], "kind status is only for the mobile-banking status tags " + strings.Join(statusTags, ", ") + ": the statuses are fixed, so no customer could carry another"
	}
	return "", ""
}

// statusTags are the codes a tag of kind status may have: one per
// huiyan.MBankStatus.
var statusTags = func() []string {
	var out []string
	for _, s := range huiyan.MBankStatuses {
		out = append(out, huiyan.StatusTagCode(s))
	}
	return out
}()

// ReadTagDict reads a tag dictionary upload: the header
// huiyan.TagDictHeader, then one tag per line, with the CSV rules of
// SnapshotReader (RFC 4180 quoting without line breaks, CRLF or LF,
// byte-order mark and blank lines ignored, lines of at most MaxLineBytes).
//
// A valid row has an id from 1 to MaxTagID (digits only) and a
// huiyan.IsLowerSnake code, neither used by an earlier row; names of 1 to
// MaxTagNameRunes printable characters; a kind of branch, predictive or
// status; a lower_snake category; a priority from 0 to 9999; and it agrees
// with history (TagHistory.Check; history may be nil). The file must keep
// every tag of RequiredTags: a missing one is a *LineError on line 0, the
// whole file.
//
// It returns the dictionary of the rows that are valid on their own, with
// the version given, even when there are line errors (those that only
// contradict the history included): checking the snapshot of the same
// upload against it gives HQ the snapshot's own errors rather than one per
// new tag. The caller refuses the upload if there is any *LineError. The
// error is for a bad header or a failed read; then nothing else is
// returned.
func ReadTagDict(r io.Reader, version int, history *TagHistory) (*huiyan.TagDict, []*LineError, error) {
	if version < 1 {
		return nil, nil, fmt.Errorf("tag dictionary: version %d, want at least 1", version)
	}
	if history == nil {
		history = NewTagHistory()
	}
	cf, err := openCSV(r, "tag dictionary", dictColumns, huiyan.TagDictHeader)
	if err != nil {
		return nil, nil, err
	}
	var (
		tags   []huiyan.Tag
		errs   []*LineError
		idLine = map[int]int{}
		cdLine = map[string]int{}
	)
	for {
		row, n, lerr, err := cf.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if lerr != nil {
			errs = append(errs, lerr)
			continue
		}
		t, col, reason := parseTag(row)
		if col < 0 {
			if first, ok := idLine[t.ID]; ok {
				col, reason = dictColID, fmt.Sprintf("duplicate id %d (first on line %d)", t.ID, first)
			} else if first, ok := cdLine[t.Code]; ok {
				col, reason = dictColCode, fmt.Sprintf("duplicate code %s (first on line %d)", quote(t.Code), first)
			}
		}
		if col >= 0 {
			errs = append(errs, &LineError{Line: n, Field: dictColumns[col], Reason: reason})
			continue
		}
		idLine[t.ID], cdLine[t.Code] = n, n
		tags = append(tags, t)
		if field, reason := history.Check(t); reason != "" {
			errs = append(errs, &LineError{Line: n, Field: field, Reason: reason})
		}
	}
	for _, code := range RequiredTags {
		if _, ok := cdLine[code]; !ok {
			errs = append(errs, &LineError{Line: 0, Field: dictColumns[dictColCode],
				Reason: fmt.Sprintf("tag %s is missing: it may not be removed, the suggested actions and the mobile-banking statuses need it", code)})
		}
	}
	d, err := huiyan.NewTagDict(version, tags)
	if err != nil {
		// Every row was checked above: this is a bug, not a bad file.
		return nil, nil, fmt.Errorf("tag dictionary: %w", err)
	}
	return d, errs, nil
}

// parseTag validates one row; col is -1 when it is valid.
func parseTag(f []string) (huiyan.Tag, int, string) {
	t := huiyan.Tag{Code: f[dictColCode], NameZH: f[dictColNameZH], NameEN: f[dictColNameEN],
		Kind: huiyan.TagKind(f[dictColKind]), Category: f[dictColCategory]}
	id, ok := parseBounded(f[dictColID], MaxTagID)
	switch {
	case f[dictColID] == "":
		return t, dictColID, "required"
	case !ok || id == 0:
		return t, dictColID, fmt.Sprintf("id must be a whole number from 1 to %d", MaxTagID)
	}
	t.ID = id
	switch {
	case t.Code == "":
		return t, dictColCode, "required"
	case !huiyan.IsLowerSnake(t.Code):
		return t, dictColCode, fmt.Sprintf("code %s must be lower_snake (a-z, 0-9, single underscores, at most 64 bytes)", quote(t.Code))
	}
	for _, c := range []int{dictColNameZH, dictColNameEN} {
		if reason := checkTagName(f[c]); reason != "" {
			return t, c, reason
		}
	}
	switch {
	case f[dictColKind] == "":
		return t, dictColKind, "required"
	case !t.Kind.Valid():
		return t, dictColKind, fmt.Sprintf("unknown kind %s, want branch, predictive or status", quote(f[dictColKind]))
	case t.Category == "":
		return t, dictColCategory, "required"
	case !huiyan.IsLowerSnake(t.Category):
		return t, dictColCategory, fmt.Sprintf("category %s must be lower_snake", quote(t.Category))
	}
	p, ok := parseBounded(f[dictColPriority], 9999)
	if !ok {
		return t, dictColPriority, "priority must be a whole number from 0 to 9999"
	}
	t.Priority = p
	return t, -1, ""
}

// parseBounded parses digits only, without leading zeros, up to max.
func parseBounded(s string, max int) (int, bool) {
	if s == "" || len(s) > 7 || !allDigits(s) || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n, n <= max
}

func checkTagName(name string) string {
	switch {
	case strings.TrimSpace(name) == "":
		return "required"
	case !utf8.ValidString(name):
		return "not valid UTF-8"
	case utf8.RuneCountInString(name) > MaxTagNameRunes:
		return fmt.Sprintf("longer than %d characters", MaxTagNameRunes)
	case strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return "contains a control or non-printing character"
	}
	return ""
}

// SameTags reports whether two dictionaries hold the same tags, whatever
// their versions: an upload of the dictionary the cluster already has is
// not a new dictionary version.
func SameTags(a, b *huiyan.TagDict) bool {
	return slices.Equal(a.Tags(), b.Tags())
}
