package http

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"huiyan"
	"huiyan/hub"
	"huiyan/hub/prizes"
	"huiyan/hub/store"
)

// POST /v1/imports takes HQ's snapshot, streamed (DESIGN.md, "Hub
// contract"). Two forms:
//
//   - multipart/form-data with a file part "tags" (CSV or JSON Lines,
//     gzip allowed), optionally a file part "staff" (staff.csv) before or
//     after it, optionally a file part "dict" (HQ's tag dictionary,
//     tagdict.csv) before it, since the customers are checked against
//     it, and optionally a file part "prizes" (the prize wheel tables of
//     every branch, prizes.csv; hub/prizes) before or after it: what
//     `huiyan-hub import` sends. Without "prizes" the previous version's
//     tables carry forward;
//   - the tags file alone as the body, with ?format=csv|jsonl (or a file
//     name in ?name=, or Content-Type text/csv or application/x-ndjson),
//     gzip allowed (Content-Encoding: gzip, or detected).
//
// The answer comes when the import is over: 201 with the import when it is
// committed (a new version on a quorum of nodes), 422 with the import and
// its line errors when it is refused (any bad line refuses all of it), 409
// while another import runs. GET /v1/imports/{id} shows an import's
// progress and line errors, from any node; GET /v1/imports lists them.

// importStart bounds the wait for the import's first command.
const importStart = 30 * time.Second

// maxDictBytes bounds an uploaded tag dictionary, held in memory until the
// tags part comes: the shipped one is 15 KB.
const maxDictBytes = 4 << 20

func (s *Server) handleImport(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxUploadBytes)
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var (
		imp *store.Import
		err error
	)
	if mt == "multipart/form-data" {
		imp, err = s.importMultipart(r, multipart.NewReader(r.Body, params["boundary"]))
	} else {
		imp, err = s.importBody(r, mt)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	status := http.StatusCreated
	switch imp.Status {
	case store.StatusRefused:
		status = http.StatusUnprocessableEntity
	case store.StatusFailed:
		status = http.StatusInternalServerError
	}
	writeJSON(w, status, imp)
}

// formatOf finds a tags file's format from an explicit name or a file name.
func formatOf(explicit, filename, contentType string) (hub.Format, bool, error) {
	if explicit != "" {
		f, err := hub.ParseFormat(explicit)
		if err != nil {
			return 0, false, huiyan.Errorf(huiyan.EInvalid, "%v", err)
		}
		return f, false, nil
	}
	if filename != "" {
		if f, gz := hub.DetectFormat(filename); f != hub.FormatUnknown {
			return f, gz, nil
		}
	}
	switch contentType {
	case "text/csv":
		return hub.FormatCSV, false, nil
	case "application/x-ndjson", "application/jsonl", "application/x-jsonlines":
		return hub.FormatJSONL, false, nil
	}
	return 0, false, huiyan.Errorf(huiyan.EInvalid, "unknown snapshot format: name the file .csv or .jsonl (optionally .gz), or pass ?format=csv|jsonl")
}

var gzipMagic = []byte{0x1f, 0x8b}

// maybeGunzip returns a reader of r's content, gunzipped when gz says so
// or the content starts with the gzip magic bytes.
func maybeGunzip(r io.Reader, gz bool) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(len(gzipMagic))
	if !gz && !bytes.Equal(magic, gzipMagic) {
		return br, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, huiyan.Errorf(huiyan.EInvalid, "gzip: %v", err)
	}
	return zr, nil
}

func (s *Server) importBody(r *http.Request, contentType string) (*store.Import, error) {
	q := r.URL.Query()
	format, gz, err := formatOf(q.Get("format"), q.Get("name"), contentType)
	if err != nil {
		return nil, err
	}
	gz = gz || strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip")
	run, err := s.begin(r, q.Get("name"), format)
	if err != nil {
		return nil, err
	}
	tags, err := maybeGunzip(r.Body, gz)
	if err == nil {
		err = run.Tags(r.Context(), tags)
	}
	return s.finish(r, run, err)
}

func (s *Server) importMultipart(r *http.Request, mr *multipart.Reader) (*store.Import, error) {
	var (
		run      *store.ImportRun
		staff    []byte // a roster that came before the tags
		gotStaff bool
		dict     []byte // the tag dictionary, which comes before the tags
		gotDict  bool
		prz      []byte // prize tables that came before the tags
		gotPrz   bool
	)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if run != nil {
				return s.finish(r, run, err)
			}
			return nil, huiyan.Errorf(huiyan.EInvalid, "multipart: %v", err)
		}
		switch part.FormName() {
		case "tags":
			if run != nil {
				return s.finish(r, run, huiyan.Errorf(huiyan.EInvalid, "two tags files in one upload"))
			}
			ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
			format, gz, err := formatOf(r.URL.Query().Get("format"), part.FileName(), ct)
			if err != nil {
				return nil, err
			}
			if run, err = s.begin(r, part.FileName(), format); err != nil {
				return nil, err
			}
			if gotDict {
				if err := run.Dict(r.Context(), bytes.NewReader(dict)); err != nil {
					return s.finish(r, run, err)
				}
			}
			tags, err := maybeGunzip(part, gz)
			if err == nil {
				err = run.Tags(r.Context(), tags)
			}
			if err != nil {
				return s.finish(r, run, err)
			}
			if gotStaff {
				if err := run.Staff(r.Context(), bytes.NewReader(staff)); err != nil {
					return s.finish(r, run, err)
				}
			}
			if gotPrz {
				if err := run.Prizes(r.Context(), bytes.NewReader(prz)); err != nil {
					return s.finish(r, run, err)
				}
			}
		case "prizes":
			if gotPrz {
				return s.abort(r, run, huiyan.Errorf(huiyan.EInvalid, "two prize table files in one upload"))
			}
			gotPrz = true
			prz, err = readPrizes(part)
			if run != nil {
				if err == nil {
					err = run.Prizes(r.Context(), bytes.NewReader(prz))
				}
				if err != nil {
					return s.finish(r, run, err)
				}
				continue
			}
			if err != nil {
				return nil, err
			}
		case "staff":
			if gotStaff {
				return s.abort(r, run, huiyan.Errorf(huiyan.EInvalid, "two staff files in one upload"))
			}
			gotStaff = true
			staff, err = io.ReadAll(io.LimitReader(part, s.opts.MaxStaffBytes+1))
			if run != nil {
				// After the tags: the same size limit as before them, so
				// that a runaway roster never becomes one huge raft entry.
				if err == nil && int64(len(staff)) > s.opts.MaxStaffBytes {
					err = huiyan.Errorf(huiyan.ETooLarge, "staff roster over %d bytes", s.opts.MaxStaffBytes)
				}
				if err == nil {
					err = run.Staff(r.Context(), bytes.NewReader(staff))
				}
				if err != nil {
					return s.finish(r, run, err)
				}
				continue
			}
			if err == nil && int64(len(staff)) > s.opts.MaxStaffBytes {
				err = huiyan.Errorf(huiyan.ETooLarge, "staff roster over %d bytes", s.opts.MaxStaffBytes)
			}
			if err != nil {
				return nil, err
			}
		case "dict":
			if gotDict {
				return s.abort(r, run, huiyan.Errorf(huiyan.EInvalid, "two tag dictionaries in one upload"))
			}
			gotDict = true
			dict, err = readDict(part)
			if run != nil {
				// After the tags: too late to check them against it, which
				// run.Dict reports as a bad line of the dictionary.
				if err == nil {
					err = run.Dict(r.Context(), bytes.NewReader(dict))
				}
				if err != nil {
					return s.finish(r, run, err)
				}
				continue
			}
			if err != nil {
				return nil, err
			}
		default:
			// Unknown parts are skipped: a browser form may add fields.
			_, _ = io.Copy(io.Discard, part)
		}
	}
	if run == nil {
		return nil, huiyan.Errorf(huiyan.EInvalid, `no "tags" file part in the upload`)
	}
	return s.finish(r, run, nil)
}

// abort ends an upload that is wrong as a whole: the open import fails
// with the reason, or, before the tags part opened one, the request does.
func (s *Server) abort(r *http.Request, run *store.ImportRun, err error) (*store.Import, error) {
	if run == nil {
		return nil, err
	}
	return s.finish(r, run, err)
}

// readDict reads a tag dictionary part, gzipped or not, up to maxDictBytes.
func readDict(part io.Reader) ([]byte, error) {
	zr, err := maybeGunzip(part, false)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(zr, maxDictBytes+1))
	if err == nil && len(b) > maxDictBytes {
		err = huiyan.Errorf(huiyan.ETooLarge, "tag dictionary over %d bytes", maxDictBytes)
	}
	return b, err
}

// readPrizes reads a prize tables part, gzipped or not, up to one byte
// more than prizes.MaxTableBytes: a larger file is then refused by
// prizes.Parse as a line error of the file, like any other bad prizes.csv.
func readPrizes(part io.Reader) ([]byte, error) {
	zr, err := maybeGunzip(part, false)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(zr, prizes.MaxTableBytes+1))
}

// begin opens the import on the leader.
func (s *Server) begin(r *http.Request, name string, format hub.Format) (*store.ImportRun, error) {
	ctx, cancel := context.WithTimeout(r.Context(), importStart)
	defer cancel()
	if len(name) > 256 {
		name = name[:256]
	}
	return s.st.BeginImport(ctx, store.ImportOptions{Name: name, Format: format, KeyID: s.opts.KeyID})
}

// finish commits or refuses the import, or fails it after a read error
// (an interrupted upload, a broken gzip stream). It runs on a context of
// its own: the client may be gone, and the import must not stay open.
func (s *Server) finish(r *http.Request, run *store.ImportRun, readErr error) (*store.Import, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Minute)
	defer cancel()
	if readErr != nil {
		msg := "the upload could not be read: " + readErr.Error()
		var mbe *http.MaxBytesError
		if errors.As(readErr, &mbe) {
			msg = fmt.Sprintf("the upload is over %d bytes", s.opts.MaxUploadBytes)
		}
		if he := (*huiyan.Error)(nil); errors.As(readErr, &he) {
			msg = he.Message
		}
		s.log.Warn("import upload failed", "import", run.ID(), "err", readErr)
		return run.Fail(ctx, msg)
	}
	return run.Finish(ctx)
}

func (s *Server) handleGetImport(w http.ResponseWriter, r *http.Request) {
	imp, err := s.st.Import(r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, imp)
}

func (s *Server) handleImports(w http.ResponseWriter, r *http.Request) {
	imps, err := s.st.Imports(100)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if imps == nil {
		imps = []store.Import{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"imports": imps})
}
