package hub

import (
	"fmt"
	"io"
)

// csvFile reads one of HQ's small CSV files, the tag dictionary and the
// staff roster, with the snapshot's CSV rules (splitCSV): the header,
// checked against the columns, then rows of exactly that many fields.
// (The snapshot reader has a loop of its own, tuned for millions of rows.)
type csvFile struct {
	lr      *lineReader
	what    string // names the file in errors: "tag dictionary", "staff"
	columns []string
	fields  [][]byte
	scratch []byte
	strs    []string
}

// openCSV reads and checks the header line; header is the line the file
// should start with, named in the error for an empty file. A bad header
// is a *LineError; any other error is a failed read.
func openCSV(r io.Reader, what string, columns []string, header string) (*csvFile, error) {
	f := &csvFile{lr: newLineReader(r), what: what, columns: columns, strs: make([]string, 0, len(columns))}
	line, tooLong, err := f.lr.next()
	switch {
	case err == io.EOF:
		return nil, &LineError{Line: 1, Reason: "empty file, want the header " + header}
	case err != nil:
		return nil, fmt.Errorf("%s: %w", what, err)
	case tooLong:
		return nil, &LineError{Line: f.lr.line, Reason: fmt.Sprintf("header longer than %d bytes", MaxLineBytes)}
	}
	if err := checkHeader(f.lr.line, line, f.columns, &f.fields, &f.scratch); err != nil {
		return nil, err
	}
	return f, nil
}

// next returns the next row's fields (valid until the next call) and its
// line number. A row too long, badly quoted or with another number of
// fields comes back as a *LineError, which the caller records before it
// goes on; the end of the file is io.EOF, and any other error a failed
// read.
func (f *csvFile) next() (row []string, line int, lerr *LineError, err error) {
	raw, tooLong, err := f.lr.next()
	if err == io.EOF {
		return nil, 0, nil, io.EOF
	}
	if err != nil {
		return nil, 0, nil, fmt.Errorf("%s: %w", f.what, err)
	}
	n := f.lr.line
	if tooLong {
		return nil, n, &LineError{Line: n, Reason: fmt.Sprintf("line longer than %d bytes", MaxLineBytes)}, nil
	}
	var bad int
	var reason string
	f.fields, bad, reason = splitCSV(f.fields, &f.scratch, raw)
	if bad >= 0 {
		return nil, n, &LineError{Line: n, Field: column(f.columns, bad), Reason: reason}, nil
	}
	if len(f.fields) != len(f.columns) {
		return nil, n, &LineError{Line: n, Reason: fmt.Sprintf("%d fields, want %d", len(f.fields), len(f.columns))}, nil
	}
	f.strs = toStrings(f.strs[:0], f.fields)
	return f.strs, n, nil, nil
}
