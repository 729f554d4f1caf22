package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"huiyan"
)

// API paths (DESIGN.md, "Hub contract"). The applied endpoint is this
// package's addition: DESIGN.md asks that /v1/branches show which version
// every branch holds and since when, and the edge is the one that knows.
const (
	pathKeys     = "/v1/keys"
	pathBranches = "/v1/branches/"
)

// ManifestPath returns the path of a branch's manifest endpoint.
func ManifestPath(branch string) string { return pathBranches + branch + "/manifest" }

// ChunkPath returns the path of a chunk of a branch.
func ChunkPath(branch, sha string) string { return pathBranches + branch + "/chunks/" + sha }

// EventsPath returns the path an edge posts its EventBatch to.
func EventsPath(branch string) string { return pathBranches + branch + "/events" }

// AppliedPath returns the path an edge posts its AppliedReport to.
func AppliedPath(branch string) string { return pathBranches + branch + "/applied" }

// StatusPath is the path of a branch's edge heartbeat.
func StatusPath(branch string) string { return pathBranches + branch + "/status" }

// maxErrorBody bounds what the Client reads of an error answer, and
// maxSmallBody of the answers to events and keys.
const (
	maxErrorBody = 4 << 10
	maxSmallBody = 64 << 10
)

// maxRedirects bounds the redirects a request follows (a follower pointing
// at the leader).
const maxRedirects = 3

// Client talks to a hub for one edge (or a tool): the manifest and chunks
// of a branch, the upstream events, the applied report. Every call takes
// its deadline from ctx. Every request carries Authorization: Bearer
// {token}, also after a redirect to another cluster member, which
// net/http would drop; a redirect from https to http is refused. A Client
// is safe for concurrent use, except that two Chunk calls must not
// download the same chunk into the same directory at once.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
}

// NewClient returns a client of the hub at baseURL: http://host:port or
// https://host:port, optionally with a path prefix, or a bare host:port
// (http is assumed, as for huiyan-hub -join). token is the edge's
// credential or the admin token; it may be empty for the calls that need
// none (Keys). httpClient may be nil for a client with no timeout of its
// own (the contexts set the deadlines); its CheckRedirect is not used.
func NewClient(baseURL, token string, httpClient *http.Client) (*Client, error) {
	s := baseURL
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("hub client: base URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("hub client: base URL %q: want http or https", baseURL)
	case u.Host == "":
		return nil, fmt.Errorf("hub client: base URL %q has no host", baseURL)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("hub client: base URL %q: no user, query or fragment allowed", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	for i := 0; i < len(token); i++ {
		if token[i] <= ' ' || token[i] > '~' {
			// Never echo the token: it is a secret.
			return nil, errors.New("hub client: token must be printable ASCII without spaces")
		}
	}
	var hc http.Client
	if httpClient != nil {
		hc = *httpClient
	}
	// Redirects are followed by do, which keeps the credential.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{base: u, token: token, hc: &hc}, nil
}

// request is one API call.
type request struct {
	method string
	path   string
	query  url.Values
	body   []byte // JSON, nil for none
	header http.Header
}

// do sends the request, following up to maxRedirects redirects (301, 302,
// 303, 307 and 308 for GET; 307 and 308 for POST) with the same method,
// body and credential. The caller closes the answer's body.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	u := *c.base
	u.Path += r.path
	u.RawQuery = r.query.Encode()
	target := &u
	for hop := 0; ; hop++ {
		var body io.Reader
		if r.body != nil {
			body = bytes.NewReader(r.body)
		}
		req, err := http.NewRequestWithContext(ctx, r.method, target.String(), body)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
		}
		for k, v := range r.header {
			req.Header[k] = v
		}
		if r.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
		}
		if !isRedirect(r.method, resp.StatusCode) {
			return resp, nil
		}
		loc, err := resp.Location()
		resp.Body.Close()
		switch {
		case err != nil:
			return nil, fmt.Errorf("%s %s: redirect %d without a usable Location: %w", r.method, r.path, resp.StatusCode, err)
		case hop >= maxRedirects:
			return nil, fmt.Errorf("%s %s: more than %d redirects", r.method, r.path, maxRedirects)
		case loc.Scheme != "http" && loc.Scheme != "https":
			return nil, fmt.Errorf("%s %s: redirect to a %q URL", r.method, r.path, loc.Scheme)
		case target.Scheme == "https" && loc.Scheme != "https":
			return nil, fmt.Errorf("%s %s: redirect from https to http refused: it would send the credential in clear", r.method, r.path)
		}
		target = loc
	}
}

func isRedirect(method string, status int) bool {
	switch status {
	case http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther:
		return method == http.MethodGet
	}
	return false
}

// statusError reads the error answer of a request into a *StatusError.
func statusError(r request, resp *http.Response) error {
	e := &StatusError{Method: r.method, Path: r.path, StatusCode: resp.StatusCode}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var er ErrorResponse
	if json.Unmarshal(data, &er) == nil {
		e.Code, e.Message = clean(er.Code, 40), clean(er.Message, 200)
	}
	return e
}

// clean cuts s to max bytes of valid UTF-8 and drops control characters,
// so that an answer cannot forge log lines.
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > max {
		s = s[:max]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

// checkBranch refuses a branch id that is not one, before it becomes a
// path segment.
func checkBranch(branch string) error {
	if !huiyan.ValidBranchID(branch) {
		return fmt.Errorf("hub client: invalid branch id %s", quote(branch))
	}
	return nil
}

// Manifest asks for the signed manifest that takes the branch from version
// have to the newest (GET /v1/branches/{branch}/manifest?have={have}) and
// returns the envelope's bytes, at most MaxEnvelopeBytes, for Verify. It
// does not verify them. 204 or 304 (nothing newer) is ErrNotNewer; 401,
// 403, 404 (no data for the branch yet) and the rest are a *StatusError
// wrapping ErrUnauthorized, ErrForbidden, ErrNotFound or ErrUnavailable.
func (c *Client) Manifest(ctx context.Context, branch string, have int64) ([]byte, error) {
	if err := checkBranch(branch); err != nil {
		return nil, err
	}
	if have < 0 {
		return nil, fmt.Errorf("hub client: have %d is negative", have)
	}
	r := request{method: http.MethodGet, path: ManifestPath(branch),
		query:  url.Values{"have": {strconv.FormatInt(have, 10)}},
		header: http.Header{"Accept": {"application/json"}}}
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("hub client: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNoContent, http.StatusNotModified:
		return nil, fmt.Errorf("hub client: branch %s has nothing newer than version %d: %w", branch, have, ErrNotNewer)
	default:
		return nil, fmt.Errorf("hub client: %w", statusError(r, resp))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxEnvelopeBytes+1))
	if err != nil {
		return nil, fmt.Errorf("hub client: %s %s: %w", r.method, r.path, err)
	}
	if len(data) > MaxEnvelopeBytes {
		return nil, fmt.Errorf("hub client: manifest larger than %d bytes: %w", MaxEnvelopeBytes, ErrMalformed)
	}
	return data, nil
}

// Chunk downloads a chunk of the branch (GET
// /v1/branches/{branch}/chunks/{sha256}), checks it against the manifest's
// size and SHA-256 and returns its bytes.
//
// It never reads more than size+1 bytes of an answer: an answer whose
// Content-Length is larger than what is missing, or that goes on past
// size, is ErrChunkSize. A complete download whose hash differs is
// ErrChunkHash. 404 (the hub no longer has it: fetch a new manifest) and
// the other statuses are as for Manifest.
//
// With dir set, the download is resumable: the bytes go to
// {dir}/{sha256}.part as they arrive, and a later call after a failure
// (a lost connection, a cancelled ctx) asks only for the rest, with Range
// and If-Range: ChunkETag(sha256); a hub that answers 200 instead of 206
// sends the whole chunk again. A verified chunk is renamed to
// {dir}/{sha256} and a later call returns it from there without a
// request; the caller removes the files it no longer needs. A partial or
// complete file that fails the checks is removed. Chunk does not retry:
// the caller's sync loop does, with backoff. With dir empty the chunk is
// downloaded into memory.
func (c *Client) Chunk(ctx context.Context, branch, sha string, size int64, dir string) ([]byte, error) {
	if err := checkBranch(branch); err != nil {
		return nil, err
	}
	if !validSHA256(sha) {
		return nil, fmt.Errorf("hub client: chunk sha256 must be 64 lower-case hex characters: %w", ErrMalformed)
	}
	if size < 1 || size > MaxChunkBytes {
		return nil, fmt.Errorf("hub client: chunk size %d, want 1 to %d: %w", size, MaxChunkBytes, ErrMalformed)
	}
	if dir == "" {
		var buf bytes.Buffer
		if err := c.fetchChunk(ctx, branch, sha, size, &memSink{buf: &buf}); err != nil {
			return nil, fmt.Errorf("hub client: %w", err)
		}
		if err := VerifyChunk(buf.Bytes(), sha, size); err != nil {
			return nil, fmt.Errorf("hub client: %w", err)
		}
		return buf.Bytes(), nil
	}
	data, err := c.chunkFile(ctx, branch, sha, size, dir)
	if err != nil {
		return nil, fmt.Errorf("hub client: %w", err)
	}
	return data, nil
}

func (c *Client) chunkFile(ctx context.Context, branch, sha string, size int64, dir string) ([]byte, error) {
	final := filepath.Join(dir, sha)
	part := final + ".part"
	if data, err := readFileMax(final, size); err == nil {
		if VerifyChunk(data, sha, size) == nil {
			return data, nil
		}
		if err := os.Remove(final); err != nil {
			return nil, fmt.Errorf("chunk %.12s: %w", sha, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("chunk %.12s: %w", sha, err)
	}

	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("chunk %.12s: %w", sha, err)
	}
	defer f.Close()
	fs := &fileSink{f: f}
	if err := fs.open(size); err != nil {
		return nil, fmt.Errorf("chunk %.12s: %w", sha, err)
	}
	if fs.n < size {
		if err := c.fetchChunk(ctx, branch, sha, size, fs); err != nil {
			if errors.Is(err, ErrChunkSize) {
				os.Remove(part)
			}
			return nil, err
		}
	}
	data, err := readAllMax(f, size)
	if err == nil {
		err = VerifyChunk(data, sha, size)
	}
	if err != nil {
		f.Close()
		os.Remove(part)
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("chunk %.12s: %w", sha, err)
	}
	if err := os.Rename(part, final); err != nil {
		return nil, fmt.Errorf("chunk %.12s: %w", sha, err)
	}
	return data, nil
}

// sink is where a chunk's bytes go: from offset n on, or from 0 after
// reset.
type sink interface {
	io.Writer
	offset() int64
	reset() error
}

type memSink struct{ buf *bytes.Buffer }

func (m *memSink) Write(p []byte) (int, error) { return m.buf.Write(p) }
func (m *memSink) offset() int64               { return int64(m.buf.Len()) }
func (m *memSink) reset() error                { m.buf.Reset(); return nil }

// fileSink appends to a partial file.
type fileSink struct {
	f *os.File
	n int64
}

// open takes the partial file as it is: its length is where the download
// resumes, unless it is longer than the chunk.
func (s *fileSink) open(size int64) error {
	fi, err := s.f.Stat()
	if err != nil {
		return err
	}
	s.n = fi.Size()
	if s.n > size {
		return s.reset()
	}
	_, err = s.f.Seek(s.n, io.SeekStart)
	return err
}

func (s *fileSink) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	s.n += int64(n)
	return n, err
}

func (s *fileSink) offset() int64 { return s.n }

func (s *fileSink) reset() error {
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	s.n = 0
	_, err := s.f.Seek(0, io.SeekStart)
	return err
}

// fetchChunk downloads what the sink is missing of the chunk: everything,
// or from its offset on with a range request.
func (c *Client) fetchChunk(ctx context.Context, branch, sha string, size int64, s sink) error {
	r := request{method: http.MethodGet, path: ChunkPath(branch, sha), header: http.Header{
		// identity: the chunk is gzip bytes to be hashed as they are;
		// net/http must neither ask for nor undo a transfer encoding.
		"Accept-Encoding": {"identity"},
	}}
	off := s.offset()
	if off > 0 {
		r.header.Set("Range", fmt.Sprintf("bytes=%d-", off))
		r.header.Set("If-Range", ChunkETag(sha))
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if off > 0 {
			if err := s.reset(); err != nil {
				return fmt.Errorf("chunk %.12s: %w", sha, err)
			}
			off = 0
		}
	case http.StatusPartialContent:
		if off == 0 || !contentRangeFrom(resp.Header.Get("Content-Range"), off, size) {
			// Not the range asked for: start again on the next call.
			if err := s.reset(); err != nil {
				return fmt.Errorf("chunk %.12s: %w", sha, err)
			}
			return fmt.Errorf("chunk %.12s: 206 with Content-Range %q, asked for bytes %d- of %d: %w",
				sha, clean(resp.Header.Get("Content-Range"), 60), off, size, ErrMalformed)
		}
	case http.StatusRequestedRangeNotSatisfiable:
		// The hub's chunk is not as long as the partial file: the partial
		// file is not a prefix of it. Start again on the next call.
		if err := s.reset(); err != nil {
			return fmt.Errorf("chunk %.12s: %w", sha, err)
		}
		return fmt.Errorf("chunk %.12s: range from %d not satisfiable: %w", sha, off, ErrChunkSize)
	default:
		return statusError(r, resp)
	}

	want := size - off
	if resp.ContentLength > want {
		return fmt.Errorf("chunk %.12s: hub sends %d bytes, %d missing: %w", sha, resp.ContentLength, want, ErrChunkSize)
	}
	// Read exactly what is missing, then one byte more to see whether the
	// answer goes on: never more than size+1 bytes in all.
	n, err := io.CopyN(s, resp.Body, want)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("chunk %.12s: %d of %d bytes: %w", sha, off+n, size, err)
	}
	var one [1]byte
	if k, _ := io.ReadFull(resp.Body, one[:]); k > 0 {
		return fmt.Errorf("chunk %.12s: the hub sends more than %d bytes: %w", sha, size, ErrChunkSize)
	}
	return nil
}

// contentRangeFrom reports whether a Content-Range header is "bytes
// off-(size-1)/size".
func contentRangeFrom(h string, off, size int64) bool {
	return h == fmt.Sprintf("bytes %d-%d/%d", off, size-1, size)
}

// readFileMax reads a file of at most max bytes (one more is read to tell
// a longer file).
func readFileMax(name string, max int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAllMax(f, max)
}

// readAllMax reads f from its start, at most max+1 bytes.
func readAllMax(f *os.File, max int64) ([]byte, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	data := make([]byte, 0, max+1)
	buf := bytes.NewBuffer(data)
	_, err := io.Copy(buf, io.LimitReader(f, max+1))
	return buf.Bytes(), err
}

// PostEvents sends a batch of visit events (POST
// /v1/branches/{branch}/events). The batch is validated first. The hub
// stores each event once by id, so the same batch may be sent again after
// a failure.
func (c *Client) PostEvents(ctx context.Context, branch string, batch EventBatch) (EventAck, error) {
	if err := checkBranch(branch); err != nil {
		return EventAck{}, err
	}
	if err := batch.Validate(); err != nil {
		return EventAck{}, fmt.Errorf("hub client: %w", err)
	}
	var ack EventAck
	if err := c.postJSON(ctx, EventsPath(branch), &batch, &ack); err != nil {
		return EventAck{}, fmt.Errorf("hub client: %w", err)
	}
	return ack, nil
}

// ReportApplied tells the hub which version the edge now holds (POST
// /v1/branches/{branch}/applied with an AppliedReport). The report is
// validated first.
func (c *Client) ReportApplied(ctx context.Context, branch string, report AppliedReport) error {
	if err := checkBranch(branch); err != nil {
		return err
	}
	if err := report.Validate(); err != nil {
		return fmt.Errorf("hub client: %w", err)
	}
	if err := c.postJSON(ctx, AppliedPath(branch), &report, nil); err != nil {
		return fmt.Errorf("hub client: %w", err)
	}
	return nil
}

// ReportStatus sends the edge's heartbeat (POST /v1/branches/{branch}/status
// with an EdgeStatus). The status is validated first.
func (c *Client) ReportStatus(ctx context.Context, branch string, status EdgeStatus) error {
	if err := checkBranch(branch); err != nil {
		return err
	}
	if err := status.Validate(); err != nil {
		return fmt.Errorf("hub client: %w", err)
	}
	if err := c.postJSON(ctx, StatusPath(branch), &status, nil); err != nil {
		return fmt.Errorf("hub client: %w", err)
	}
	return nil
}

// Keys fetches GET /v1/keys and checks it (KeysResponse.KeySet). It is for
// operators and for an edge to warn that the hub signs with a key it has
// not pinned; an edge never pins what it fetched.
func (c *Client) Keys(ctx context.Context) (KeySet, error) {
	r := request{method: http.MethodGet, path: pathKeys, header: http.Header{"Accept": {"application/json"}}}
	var kr KeysResponse
	if err := c.roundTrip(ctx, r, &kr); err != nil {
		return KeySet{}, fmt.Errorf("hub client: %w", err)
	}
	ks, err := kr.KeySet()
	if err != nil {
		return KeySet{}, fmt.Errorf("hub client: %w", err)
	}
	return ks, nil
}

// postJSON posts in as JSON and decodes a 200 answer into out (if not
// nil); 204 is a success with no body.
func (c *Client) postJSON(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	r := request{method: http.MethodPost, path: path, body: body, header: http.Header{"Accept": {"application/json"}}}
	return c.roundTrip(ctx, r, out)
}

// roundTrip sends r and decodes a 2xx answer into out, if not nil.
func (c *Client) roundTrip(ctx context.Context, r request, out any) error {
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusError(r, resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxSmallBody+1))
	if err != nil {
		return fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	if len(data) > maxSmallBody {
		return fmt.Errorf("%s %s: answer larger than %d bytes: %w", r.method, r.path, maxSmallBody, ErrMalformed)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: %v: %w", r.method, r.path, err, ErrMalformed)
	}
	return nil
}
