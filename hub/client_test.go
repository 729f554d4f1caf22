package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"huiyan"
	"huiyan/hub"
)

const testToken = "edge-B001-secret"

// countingTransport counts the response body bytes the client reads.
type countingTransport struct {
	rt http.RoundTripper
	n  atomic.Int64
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err == nil {
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &t.n}
	}
	return resp, err
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// MustClient returns a client of srv whose transport counts body bytes.
func MustClient(tb testing.TB, srv *httptest.Server) (*hub.Client, *countingTransport) {
	tb.Helper()
	ct := &countingTransport{rt: srv.Client().Transport}
	c, err := hub.NewClient(srv.URL, testToken, &http.Client{Transport: ct})
	if err != nil {
		tb.Fatal(err)
	}
	return c, ct
}

func ctx(tb testing.TB) context.Context {
	tb.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	tb.Cleanup(cancel)
	return c
}

// writeError answers as the hub does.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(hub.ErrorResponse{Code: code, Message: msg})
}

func TestNewClient(t *testing.T) {
	for _, tt := range []struct {
		url, token string
		ok         bool
	}{
		{"http://127.0.0.1:9000", "t", true},
		{"https://hub.example:9000/prefix/", "t", true},
		{"127.0.0.1:9000", "t", true},
		{"127.0.0.1:9000", "", true},
		{"ftp://hub", "t", false},
		{"http://", "t", false},
		{"http://hub?x=1", "t", false},
		{"http://user:pw@hub", "t", false},
		{"http://hub", "bad token", false},
		{"http://hub", "bad\ntoken", false},
	} {
		_, err := hub.NewClient(tt.url, tt.token, nil)
		if tt.ok != (err == nil) {
			t.Errorf("NewClient(%q, %q) = %v, want ok=%v", tt.url, tt.token, err, tt.ok)
		}
		if err != nil && tt.token != "t" && strings.Contains(err.Error(), tt.token) {
			t.Errorf("error %q shows the token", err)
		}
	}
}

func TestClient_Manifest(t *testing.T) {
	env := mustSign(t, MustKey(t, "hub-1"), testManifest())
	var mu sync.Mutex
	var gotAuth, gotPath, gotHave string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotAuth, gotPath, gotHave = r.Header.Get("Authorization"), r.URL.Path, r.URL.Query().Get("have")
		mu.Unlock()
		switch r.URL.Query().Get("have") {
		case "4":
			w.Header().Set("Content-Type", "application/json")
			w.Write(env)
		case "5":
			w.WriteHeader(http.StatusNoContent)
		case "6":
			w.WriteHeader(http.StatusNotModified)
		case "40":
			writeError(w, 401, huiyan.EUnauthorized, "unknown credential")
		case "41":
			writeError(w, 403, huiyan.EForbidden, "this credential is for branch B002")
		case "42":
			writeError(w, 404, huiyan.ENotFound, "no data for the branch\nFAKE LOG LINE")
		case "43":
			writeError(w, 503, huiyan.EUnavailable, "no leader")
		case "44":
			w.WriteHeader(500)
			io.WriteString(w, "<html>oops</html>")
		case "45":
			w.Write(bytes.Repeat([]byte("x"), hub.MaxEnvelopeBytes+10))
		}
	}))
	defer srv.Close()
	c, _ := MustClient(t, srv)

	data, err := c.Manifest(ctx(t), "B001", 4)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, env) {
		t.Fatalf("Manifest = %q, want the envelope", data)
	}
	if _, err := hub.Verify(data, MustKeySet(t, MustKey(t, "hub-1")), "B001", 4, now); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if gotAuth != "Bearer "+testToken || gotPath != "/v1/branches/B001/manifest" || gotHave != "4" {
		t.Fatalf("request: auth %q, path %q, have %q", gotAuth, gotPath, gotHave)
	}
	mu.Unlock()

	for _, tt := range []struct {
		name string
		have int64
		want error
		sub  string
	}{
		{"ErrNotNewer/204", 5, hub.ErrNotNewer, ""},
		{"ErrNotNewer/304", 6, hub.ErrNotNewer, ""},
		{"ErrUnauthorized", 40, hub.ErrUnauthorized, "unknown credential"},
		{"ErrForbidden", 41, hub.ErrForbidden, "branch B002"},
		{"ErrNotFound", 42, hub.ErrNotFound, "no data for the branch"},
		{"ErrUnavailable", 43, hub.ErrUnavailable, "no leader"},
		{"Status500", 44, nil, ": 500"},
		{"ErrMalformed/TooLarge", 45, hub.ErrMalformed, "larger than"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data, err := c.Manifest(ctx(t), "B001", tt.have)
			if err == nil || data != nil {
				t.Fatalf("Manifest = %d bytes, %v; want an error", len(data), err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.sub) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.sub)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %q carries a line break from the hub", err)
			}
			var se *hub.StatusError
			if tt.have >= 40 && tt.have <= 44 && (!errors.As(err, &se) || se.StatusCode < 400) {
				t.Fatalf("err = %v, want a *StatusError", err)
			}
		})
	}

	if _, err := c.Manifest(ctx(t), "../keys", 0); err == nil {
		t.Fatal("an invalid branch id was sent")
	}
}

func TestClient_Redirect(t *testing.T) {
	var leaderAuth atomic.Value
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaderAuth.Store(r.Header.Get("Authorization"))
		var b hub.EventBatch
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil || len(b.Events) != 1 {
			writeError(w, 400, huiyan.EInvalid, "bad body")
			return
		}
		json.NewEncoder(w).Encode(hub.EventAck{Accepted: 1})
	}))
	defer leader.Close()
	// The follower is on "localhost", the leader on 127.0.0.1: to net/http
	// another host, to which it would not forward the credential.
	follower := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, leader.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer follower.Close()
	c, err := hub.NewClient(strings.Replace(follower.URL, "127.0.0.1", "localhost", 1), testToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	ack, err := c.PostEvents(ctx(t), "B001", hub.EventBatch{Events: []hub.EventWire{testEvent("e1")}})
	if err != nil {
		t.Fatal(err)
	}
	if ack.Accepted != 1 || leaderAuth.Load() != "Bearer "+testToken {
		t.Fatalf("ack %+v, leader saw Authorization %q", ack, leaderAuth.Load())
	}

	t.Run("Loop", func(t *testing.T) {
		var loop *httptest.Server
		loop = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, loop.URL+r.URL.Path, http.StatusTemporaryRedirect)
		}))
		defer loop.Close()
		c, _ := MustClient(t, loop)
		if _, err := c.Manifest(ctx(t), "B001", 0); err == nil || !strings.Contains(err.Error(), "redirects") {
			t.Fatalf("err = %v, want too many redirects", err)
		}
	})
	t.Run("HTTPSToHTTP", func(t *testing.T) {
		tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, leader.URL+r.URL.Path, http.StatusTemporaryRedirect)
		}))
		defer tlsSrv.Close()
		c, err := hub.NewClient(tlsSrv.URL, testToken, tlsSrv.Client())
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Manifest(ctx(t), "B001", 0)
		if err == nil || !strings.Contains(err.Error(), "https to http") {
			t.Fatalf("err = %v, want the downgrade refused", err)
		}
	})
}

// chunkServer serves one chunk with ServeChunk, with a hook to misbehave
// per request, and counts requests and body bytes written.
type chunkServer struct {
	*httptest.Server
	chunk    hub.Chunk
	requests atomic.Int64
	written  atomic.Int64
	mu       sync.Mutex
	ranges   []string // the Range header of each request
	// hook answers request n (1-based) itself when it returns true.
	hook func(n int64, w http.ResponseWriter, r *http.Request) bool
}

func newChunkServer(tb testing.TB, c hub.Chunk) *chunkServer {
	tb.Helper()
	cs := &chunkServer{chunk: c}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cs.requests.Add(1)
		cs.mu.Lock()
		cs.ranges = append(cs.ranges, r.Header.Get("Range"))
		cs.mu.Unlock()
		switch {
		case r.Header.Get("Authorization") != "Bearer "+testToken:
			writeError(w, 401, huiyan.EUnauthorized, "no credential")
			return
		case r.URL.Path == "/v1/branches/B002/chunks/"+c.SHA256:
			writeError(w, 403, huiyan.EForbidden, "not your branch")
			return
		case r.URL.Path != "/v1/branches/B001/chunks/"+c.SHA256:
			writeError(w, 404, huiyan.ENotFound, "no such chunk")
			return
		case r.Header.Get("Accept-Encoding") != "identity":
			writeError(w, 400, huiyan.EInvalid, "want Accept-Encoding identity")
			return
		}
		if cs.hook != nil && cs.hook(n, &countingWriter{ResponseWriter: w, n: &cs.written}, r) {
			return
		}
		hub.ServeChunk(&countingWriter{ResponseWriter: w, n: &cs.written}, r, c.SHA256, bytes.NewReader(c.Data))
	}))
	tb.Cleanup(cs.Close)
	return cs
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n.Add(int64(n))
	return n, err
}

func (w *countingWriter) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

func testChunk(tb testing.TB) hub.Chunk {
	tb.Helper()
	chunks := mustBuild(tb, testRecords(tb, 400, 21), 0)
	if len(chunks) != 1 || chunks[0].Size < 20_000 {
		tb.Fatalf("want one chunk of some size, got %d", len(chunks))
	}
	return chunks[0]
}

func TestClient_Chunk(t *testing.T) {
	c := testChunk(t)
	srv := newChunkServer(t, c)
	cl, _ := MustClient(t, srv.Server)

	t.Run("OK/Memory", func(t *testing.T) {
		data, err := cl.Chunk(ctx(t), "B001", c.SHA256, c.Size, "")
		if err != nil || !bytes.Equal(data, c.Data) {
			t.Fatalf("Chunk = %d bytes, %v", len(data), err)
		}
	})
	t.Run("OK/DirAndCache", func(t *testing.T) {
		dir := t.TempDir()
		data, err := cl.Chunk(ctx(t), "B001", c.SHA256, c.Size, dir)
		if err != nil || !bytes.Equal(data, c.Data) {
			t.Fatalf("Chunk = %d bytes, %v", len(data), err)
		}
		if _, err := os.Stat(filepath.Join(dir, c.SHA256)); err != nil {
			t.Fatalf("no verified file: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, c.SHA256+".part")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("partial file left: %v", err)
		}
		before := srv.requests.Load()
		if data, err := cl.Chunk(ctx(t), "B001", c.SHA256, c.Size, dir); err != nil || !bytes.Equal(data, c.Data) {
			t.Fatalf("cached Chunk = %d bytes, %v", len(data), err)
		}
		if srv.requests.Load() != before {
			t.Fatal("a verified chunk was downloaded again")
		}
		// A corrupted cached file is not trusted.
		os.WriteFile(filepath.Join(dir, c.SHA256), c.Data[:10], 0o600)
		if data, err := cl.Chunk(ctx(t), "B001", c.SHA256, c.Size, dir); err != nil || !bytes.Equal(data, c.Data) {
			t.Fatalf("Chunk after corruption = %d bytes, %v", len(data), err)
		}
	})
	for _, tt := range []struct {
		name   string
		branch string
		sha    string
		token  string
		want   error
	}{
		{"ErrUnauthorized", "B001", c.SHA256, "wrong", hub.ErrUnauthorized},
		{"ErrForbidden", "B002", c.SHA256, testToken, hub.ErrForbidden},
		{"ErrNotFound", "B001", strings.Repeat("0", 64), testToken, hub.ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cl, err := hub.NewClient(srv.URL, tt.token, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cl.Chunk(ctx(t), tt.branch, tt.sha, c.Size, t.TempDir()); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("ErrMalformed/Args", func(t *testing.T) {
		for _, args := range []struct {
			sha  string
			size int64
		}{{"nothex", 10}, {c.SHA256, 0}, {c.SHA256, hub.MaxChunkBytes + 1}} {
			if _, err := cl.Chunk(ctx(t), "B001", args.sha, args.size, ""); !errors.Is(err, hub.ErrMalformed) {
				t.Errorf("Chunk(%q, %d) = %v, want ErrMalformed", args.sha, args.size, err)
			}
		}
	})
}

func TestClient_ChunkHash(t *testing.T) {
	c := testChunk(t)
	srv := newChunkServer(t, c)
	srv.hook = func(_ int64, w http.ResponseWriter, r *http.Request) bool {
		bad := bytes.Clone(c.Data)
		bad[len(bad)-100] ^= 1
		hub.ServeChunk(w, r, c.SHA256, bytes.NewReader(bad))
		return true
	}
	cl, _ := MustClient(t, srv.Server)
	dir := t.TempDir()
	if _, err := cl.Chunk(ctx(t), "B001", c.SHA256, c.Size, dir); !errors.Is(err, hub.ErrChunkHash) {
		t.Fatalf("err = %v, want ErrChunkHash", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files left after a bad hash: %v", entries)
	}
	if _, err := cl.Chunk(ctx(t), "B001", c.SHA256, c.Size, ""); !errors.Is(err, hub.ErrChunkHash) {
		t.Fatalf("memory: err = %v, want ErrChunkHash", err)
	}
}

// TestClient_ChunkResume: the connection is cut after cutAt bytes; the next
// call asks only for the rest, with Range and If-Range.
func TestClient_ChunkResume(t *testing.T) {
	c := testChunk(t)
	const cutAt = 8000
	srv := newChunkServer(t, c)
	srv.hook = func(n int64, w http.ResponseWriter, r *http.Request) bool {
		if n != 1 {
			return false
		}
		w.Header().Set("Content-Length", strconv.FormatInt(c.Size, 10))
		w.Header().Set("ETag", hub.ChunkETag(c.SHA256))
		w.WriteHeader(200)
		w.Write(c.Data[:cutAt])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // cut the connection
	}
	cl, _ := MustClient(t, srv.Server)
	dir := t.TempDir()

	_, err := cl.Chunk(ctx(t), "B001", c.SHA256, c.Size, dir)
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("first try: err = %v, want an unexpected EOF", err)
	}
	fi, err := os.Stat(filepath.Join(dir, c.SHA256+".part"))
	if err != nil || fi.Size() == 0 || fi.Size() > cutAt {
		t.Fatalf("partial file: %v, %v; want 1 to %d bytes", fi, err, cutAt)
	}
	got := fi.Size()

	data, err := cl.Chunk(ctx(t), "B001", c.SHA256, c.Size, dir)
	if err != nil || !bytes.Equal(data, c.Data) {
		t.Fatalf("second try: %d bytes, %v", len(data), err)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if want := fmt.Sprintf("bytes=%d-", got); len(srv.ranges) != 2 || srv.ranges[0] != "" || srv.ranges[1] != want {
		t.Fatalf("Range headers = %q, want none then %q", srv.ranges, want)
	}
	if w := srv.written.Load(); w != cutAt+c.Size-got {
		t.Fatalf("server wrote %d bytes, want %d (the chunk once, and what was lost)", w, cutAt+c.Size-got)
	}
}

func TestClient_ChunkResumeFallbacks(t *testing.T) {
	c := testChunk(t)
	t.Run("ServerIgnoresRange", func(t *testing.T) {
		srv := newChunkServer(t, c)
		srv.hook = func(_ int64, w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Length", strconv.FormatInt(c.Size, 10))
			w.Write(c.Data) // 200, the whole chunk
			return true
		}
		cl, _ := MustClient(t, srv.Server)
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, c.SHA256+".part"), c.Data[:500], 0o600)
		if data, err := cl.Chunk(ctx(t), "B001", c.SHA256, c.Size, dir); err != nil || !bytes.Equal(data, c.Data) {
			t.Fatalf("Chunk = %d bytes, %v", len(data), err)
		}
	})
	t.Run("StalePartial", func(t *testing.T) {
		// A partial file of other bytes: the hash fails, the file goes,
		// the next call starts from scratch.
		srv := newChunkServer(t, c)
		cl, _ := MustClient(t, srv.Server)
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, c.SHA256+".part"), bytes.Repeat([]byte{0}, 500), 0o600)
		if _, err := cl.Chunk(ctx(t), "B001", c.SHA256, c.Size, dir); !errors.Is(err, hub.ErrChunkHash) {
			t.Fatalf("err = %v, want ErrChunkHash", err)
		}
		if data, err := cl.Chunk(ctx(t), "B001", c.SHA256, c.Size, dir); err != nil || !bytes.Equal(data, c.Data) {
			t.Fatalf("retry: %d bytes, %v", len(data), err)
		}
	})
	t.Run("PartialLongerThanChunk", func(t *testing.T) {
		srv := newChunkServer(t, c)
		cl, _ := MustClient(t, srv.Server)
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, c.SHA256+".part"), make([]byte, c.Size+10), 0o600)
		if data, err := cl.Chunk(ctx(t), "B001", c.SHA256, c.Size, dir); err != nil || !bytes.Equal(data, c.Data) {
			t.Fatalf("Chunk = %d bytes, %v", len(data), err)
		}
	})
	t.Run("RangeNotSatisfiable", func(t *testing.T) {
		srv := newChunkServer(t, c)
		srv.hook = func(n int64, w http.ResponseWriter, r *http.Request) bool {
			if n == 1 {
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
				return true
			}
			return false
		}
		cl, _ := MustClient(t, srv.Server)
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, c.SHA256+".part"), c.Data[:500], 0o600)
		if _, err := cl.Chunk(ctx(t), "B001", c.SHA256, c.Size, dir); !errors.Is(err, hub.ErrChunkSize) {
			t.Fatalf("err = %v, want ErrChunkSize", err)
		}
		if data, err := cl.Chunk(ctx(t), "B001", c.SHA256, c.Size, dir); err != nil || !bytes.Equal(data, c.Data) {
			t.Fatalf("retry: %d bytes, %v", len(data), err)
		}
	})
}

// TestClient_ChunkOversize: a hub that sends more than the manifest's size
// is refused, and the client never reads more than size+1 bytes.
func TestClient_ChunkOversize(t *testing.T) {
	c := testChunk(t)
	for _, tt := range []struct {
		name      string
		declare   bool // send a Content-Length
		resumeAt  int64
		wantAtMax int64 // the most body bytes the client may read
	}{
		{"ContentLength", true, 0, 0},
		{"Streamed", false, 0, c.Size + 1},
		{"StreamedResume", false, 1000, c.Size - 1000 + 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newChunkServer(t, c)
			srv.hook = func(_ int64, w http.ResponseWriter, r *http.Request) bool {
				if tt.resumeAt > 0 {
					w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", tt.resumeAt, c.Size-1, c.Size))
				}
				if tt.declare {
					w.Header().Set("Content-Length", strconv.FormatInt(10*c.Size, 10))
				}
				if tt.resumeAt > 0 {
					w.WriteHeader(http.StatusPartialContent)
				}
				// An endless body: the chunk, then more, until the client
				// goes away (bounded, so that a broken client fails the
				// test instead of hanging it).
				buf := bytes.Repeat([]byte("A"), 32<<10)
				for i := 0; i < 2048 && r.Context().Err() == nil; i++ {
					if _, err := w.Write(buf); err != nil {
						return true
					}
				}
				return true
			}
			cl, ct := MustClient(t, srv.Server)
			dir := t.TempDir()
			if tt.resumeAt > 0 {
				os.WriteFile(filepath.Join(dir, c.SHA256+".part"), c.Data[:tt.resumeAt], 0o600)
			}
			_, err := cl.Chunk(ctx(t), "B001", c.SHA256, c.Size, dir)
			if !errors.Is(err, hub.ErrChunkSize) {
				t.Fatalf("err = %v, want ErrChunkSize", err)
			}
			if n := ct.n.Load(); n > tt.wantAtMax {
				t.Fatalf("client read %d body bytes, want at most %d", n, tt.wantAtMax)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("files left after an oversize answer: %v", entries)
			}
		})
	}
}

func testEvent(id string) hub.EventWire {
	return hub.EventWire{ID: id, Kind: hub.EventOpened, At: now, Visit: "v-1", Channel: huiyan.ChannelCounter,
		Recognised: true, MBankAtOpen: huiyan.MBankDormant, Tier: huiyan.TierGold}
}

func TestClient_PostEventsAndApplied(t *testing.T) {
	var mu sync.Mutex
	bodies := map[string]map[string]any{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
			r.Header.Get("Authorization") != "Bearer "+testToken {
			writeError(w, 400, huiyan.EInvalid, "bad request")
			return
		}
		var m map[string]any
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		bodies[r.URL.Path] = m
		mu.Unlock()
		switch r.URL.Path {
		case "/v1/branches/B001/events":
			json.NewEncoder(w).Encode(hub.EventAck{Accepted: 1, Duplicates: 1})
		case "/v1/branches/B001/applied":
			w.WriteHeader(http.StatusNoContent)
		default:
			writeError(w, 404, huiyan.ENotFound, "no route")
		}
	}))
	defer srv.Close()
	cl, _ := MustClient(t, srv)

	ack, err := cl.PostEvents(ctx(t), "B001", hub.EventBatch{Events: []hub.EventWire{testEvent("e1"), testEvent("e2")}})
	if err != nil || ack != (hub.EventAck{Accepted: 1, Duplicates: 1}) {
		t.Fatalf("PostEvents = %+v, %v", ack, err)
	}
	err = cl.ReportApplied(ctx(t), "B001", hub.AppliedReport{Version: 7, AppliedAt: now, Full: true, DictVersion: 1, Customers: 100})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	ev := bodies["/v1/branches/B001/events"]["events"].([]any)[0].(map[string]any)
	if ev["id"] != "e1" || ev["kind"] != "opened" || ev["visit"] != "v-1" || ev["channel"] != "counter" ||
		ev["recognised"] != true || ev["mbank_at_open"] != "dormant" || ev["tier"] != "gold" || ev["at"] != "2026-11-23T03:00:00Z" {
		t.Errorf("event JSON = %v", ev)
	}
	ap := bodies["/v1/branches/B001/applied"]
	if ap["version"] != 7.0 || ap["applied_at"] != "2026-11-23T03:00:00Z" || ap["full"] != true || ap["customers"] != 100.0 {
		t.Errorf("applied JSON = %v", ap)
	}

	// Invalid input never leaves the edge.
	before := len(bodies)
	if _, err := cl.PostEvents(ctx(t), "B001", hub.EventBatch{}); !errors.Is(err, hub.ErrMalformed) {
		t.Errorf("empty batch: %v", err)
	}
	if err := cl.ReportApplied(ctx(t), "B001", hub.AppliedReport{}); !errors.Is(err, hub.ErrMalformed) {
		t.Errorf("empty report: %v", err)
	}
	if len(bodies) != before {
		t.Error("an invalid request was sent")
	}
}

func TestEventWire_Validate(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*hub.EventWire)
		ok   bool
	}{
		{"OK", func(*hub.EventWire) {}, true},
		{"OK/NewFace", func(e *hub.EventWire) { e.Recognised, e.MBankAtOpen, e.Tier = false, "", "" }, true},
		{"OK/Claimed", func(e *hub.EventWire) {
			*e = hub.EventWire{ID: "e", Kind: hub.EventClaimed, At: now, Visit: "v", Staff: "lobby-B001"}
		}, true},
		{"OK/Converted", func(e *hub.EventWire) {
			*e = hub.EventWire{ID: "e", Kind: hub.EventConverted, At: now, Visit: "v", Conversion: huiyan.ConversionNewUser}
		}, true},
		{"NoID", func(e *hub.EventWire) { e.ID = "" }, false},
		{"IDWithSpace", func(e *hub.EventWire) { e.ID = "a b" }, false},
		{"LongID", func(e *hub.EventWire) { e.ID = strings.Repeat("a", hub.MaxEventIDLen+1) }, false},
		{"UnknownKind", func(e *hub.EventWire) { e.Kind = "vanished" }, false},
		{"NoTime", func(e *hub.EventWire) { e.At = time.Time{} }, false},
		{"NoVisit", func(e *hub.EventWire) { e.Visit = "" }, false},
		{"NoChannel", func(e *hub.EventWire) { e.Channel = "" }, false},
		{"RecognisedWithoutStatus", func(e *hub.EventWire) { e.MBankAtOpen = "" }, false},
		{"StatusOnNewFace", func(e *hub.EventWire) { e.Recognised = false }, false},
		{"ClaimWithoutStaff", func(e *hub.EventWire) {
			*e = hub.EventWire{ID: "e", Kind: hub.EventClaimed, At: now, Visit: "v"}
		}, false},
		{"OutcomeUnknown", func(e *hub.EventWire) {
			*e = hub.EventWire{ID: "e", Kind: hub.EventOutcome, At: now, Visit: "v", Staff: "s", Outcome: "won"}
		}, false},
		{"ConversionNone", func(e *hub.EventWire) {
			*e = hub.EventWire{ID: "e", Kind: hub.EventConverted, At: now, Visit: "v"}
		}, false},
		{"OK/RefusedScan", func(e *hub.EventWire) {
			*e = hub.EventWire{ID: "e", Kind: hub.EventTouch, At: now, Visit: "v", Channel: huiyan.ChannelECode, Refused: "expired"}
		}, true},
		{"RefusedCounter", func(e *hub.EventWire) {
			*e = hub.EventWire{ID: "e", Kind: hub.EventTouch, At: now, Visit: "v", Channel: huiyan.ChannelCounter, Refused: "expired"}
		}, false},
		{"RefusedOpening", func(e *hub.EventWire) { e.Channel, e.Refused = huiyan.ChannelECode, "forged" }, false},
		{"RefusedNotACode", func(e *hub.EventWire) {
			*e = hub.EventWire{ID: "e", Kind: hub.EventTouch, At: now, Visit: "v", Channel: huiyan.ChannelECode, Refused: "Expired!"}
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := testEvent("e1")
			tt.edit(&e)
			err := e.Validate()
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, hub.ErrMalformed)) {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	dup := hub.EventBatch{Events: []hub.EventWire{testEvent("e1"), testEvent("e1")}}
	if err := dup.Validate(); !errors.Is(err, hub.ErrMalformed) {
		t.Fatalf("repeated id: %v", err)
	}
	big := hub.EventBatch{Events: make([]hub.EventWire, hub.MaxEventBatch+1)}
	if err := big.Validate(); !errors.Is(err, hub.ErrMalformed) {
		t.Fatalf("big batch: %v", err)
	}
}

func TestClient_Keys(t *testing.T) {
	ks := MustKeySet(t, MustKey(t, "hub-1"), MustKey(t, "hub-2"))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/keys" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(hub.NewKeysResponse(ks))
	}))
	defer srv.Close()
	cl, err := hub.NewClient(srv.URL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cl.Keys(ctx(t))
	if err != nil || !slicesEqual(got.IDs(), ks.IDs()) {
		t.Fatalf("Keys = %v, %v; want %v", got.IDs(), err, ks.IDs())
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

// TestClient_ContextDeadline: a hub that never answers is given up on when
// ctx ends.
func TestClient_ContextDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	cl, _ := MustClient(t, srv)
	c, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := cl.Manifest(c, "B001", 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}
