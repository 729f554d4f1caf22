package devsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// E-code scans need the code a customer's phone would read. With an edge
// to ask (SimConfig.Edge), the simulator reads what the branch shows: the
// display's current code from GET /ecode/{display}/code.json, and a staff
// member's from GET /pad/mycode after logging in as them with the demo PIN,
// as their PAD would. Some scans replay a code the run saw earlier, once
// the edge says it has expired: a photo scanned from home, which the edge
// must count as not present. Without an edge the scans carry the old
// placeholder, which an edge with rotating e-codes refuses as forged.

// ScanKind says which code an e-code scan carried.
type ScanKind string

// Scan kinds.
const (
	ScanBranch      ScanKind = "branch"      // the display's current code
	ScanStaff       ScanKind = "staff"       // a staff member's current code
	ScanReplay      ScanKind = "replay"      // a code the edge already called expired
	ScanPlaceholder ScanKind = "placeholder" // no edge to ask
)

// codeInfo is the part of the edge's code.json and /pad/mycode answers
// the simulator reads (edge/ecode.CodeInfo).
type codeInfo struct {
	Content   string `json:"content"`
	ExpiresAt string `json:"expires_at"`
}

// seenCode is a code the run was shown, kept for replay.
type seenCode struct {
	content string
	expires time.Time
}

// codeSource fetches codes from the edge.
type codeSource struct {
	base   string // http://host:port
	branch string
	pin    string
	staff  []string // whose codes customers scan
	client *http.Client

	mu       sync.Mutex
	sessions map[string]*http.Cookie // staff id → PAD session
	seen     []seenCode              // oldest first, a few
}

// maxSeen bounds the codes kept for replay.
const maxSeen = 16

func newCodeSource(base, branch, pin string) (*codeSource, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("edge %q is not an http(s) URL like http://127.0.0.1:8080", base)
	}
	return &codeSource{base: strings.TrimRight(base, "/"), branch: branch, pin: pin,
		staff:    []string{"lobby-" + branch, "wealth-" + branch, "account-" + branch},
		client:   &http.Client{Timeout: 10 * time.Second},
		sessions: map[string]*http.Cookie{}}, nil
}

// code returns the text of a scan of kind: for ScanStaff, of the staff
// member number pick (modulo their number). A ScanReplay with nothing
// expired to replay becomes a ScanBranch; the kind returned is what was
// sent.
func (cs *codeSource) code(ctx context.Context, kind ScanKind, display string, pick int) (string, ScanKind, error) {
	if kind == ScanReplay {
		if c, ok := cs.expired(time.Now()); ok {
			return c, ScanReplay, nil
		}
		kind = ScanBranch
	}
	var ci codeInfo
	var err error
	if kind == ScanStaff {
		ci, err = cs.staffCode(ctx, cs.staff[pick%len(cs.staff)])
	} else {
		ci, err = cs.get(ctx, "/ecode/"+url.PathEscape(display)+"/code.json", nil)
	}
	if err != nil {
		return "", kind, err
	}
	cs.remember(ci)
	return ci.Content, kind, nil
}

// remember keeps a code for a later replay.
func (cs *codeSource) remember(ci codeInfo) {
	exp, err := time.Parse(time.RFC3339Nano, ci.ExpiresAt)
	if err != nil {
		return
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, s := range cs.seen {
		if s.content == ci.Content {
			return
		}
	}
	if len(cs.seen) == maxSeen {
		// Keep the oldest (the first to expire, the one a replay needs)
		// and drop the newest kept.
		cs.seen = cs.seen[:maxSeen-1]
	}
	cs.seen = append(cs.seen, seenCode{ci.Content, exp})
}

// expired returns a code the edge said expires before now.
func (cs *codeSource) expired(now time.Time) (string, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, s := range cs.seen {
		if now.After(s.expires) {
			return s.content, true
		}
	}
	return "", false
}

// staffCode logs in as staff (once; again when the session ended) and
// fetches their code.
func (cs *codeSource) staffCode(ctx context.Context, staff string) (codeInfo, error) {
	for attempt := 0; attempt < 2; attempt++ {
		cs.mu.Lock()
		ck := cs.sessions[staff]
		cs.mu.Unlock()
		if ck == nil {
			var err error
			if ck, err = cs.login(ctx, staff); err != nil {
				return codeInfo{}, err
			}
		}
		ci, err := cs.get(ctx, "/pad/mycode", ck)
		if !errors.Is(err, errUnauthorized) {
			return ci, err
		}
		cs.mu.Lock()
		delete(cs.sessions, staff)
		cs.mu.Unlock()
	}
	return codeInfo{}, fmt.Errorf("staff code of %s: %w", staff, errUnauthorized)
}

var errUnauthorized = errors.New("edge: 401 unauthorized")

func (cs *codeSource) login(ctx context.Context, staff string) (*http.Cookie, error) {
	body, _ := json.Marshal(map[string]string{"staff": staff, "pin": cs.pin})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cs.base+"/pad/login", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := cs.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("log in as %s: %w", staff, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("log in as %s: %s", staff, resp.Status)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "huiyan_pad" { // pad.CookieName; firmware may not import pad
			cs.mu.Lock()
			cs.sessions[staff] = c
			cs.mu.Unlock()
			return c, nil
		}
	}
	return nil, fmt.Errorf("log in as %s: no session cookie", staff)
}

func (cs *codeSource) get(ctx context.Context, path string, ck *http.Cookie) (codeInfo, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cs.base+path, nil)
	if err != nil {
		return codeInfo{}, err
	}
	if ck != nil {
		req.AddCookie(ck)
	}
	resp, err := cs.client.Do(req)
	if err != nil {
		return codeInfo{}, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case err != nil:
		return codeInfo{}, fmt.Errorf("GET %s: %w", path, err)
	case resp.StatusCode == http.StatusUnauthorized:
		return codeInfo{}, errUnauthorized
	case resp.StatusCode != http.StatusOK:
		return codeInfo{}, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	var ci codeInfo
	if err := json.Unmarshal(b, &ci); err != nil || ci.Content == "" {
		return codeInfo{}, fmt.Errorf("GET %s: not a code", path)
	}
	return ci, nil
}

// scanKind picks the kind of an e-code scan: a share of staff codes and
// of replays, the rest the display's code.
func scanKind(r *rand.Rand, staffShare, replayShare float64) ScanKind {
	x := r.Float64()
	switch {
	case x < replayShare:
		return ScanReplay
	case x < replayShare+staffShare:
		return ScanStaff
	}
	return ScanBranch
}
