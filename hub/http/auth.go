package http

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"huiyan"
	"huiyan/hub/store"
)

// Who made a request: the admin (HQ's tools, the operator) or the edge of
// one branch.
type principal struct {
	admin  bool
	branch string
}

func (p principal) String() string {
	if p.admin {
		return "admin"
	}
	return "edge:" + p.branch
}

func parsePrincipal(s string) (principal, bool) {
	if s == "admin" {
		return principal{admin: true}, true
	}
	if b, ok := strings.CutPrefix(s, "edge:"); ok && huiyan.ValidBranchID(b) {
		return principal{branch: b}, true
	}
	return principal{}, false
}

type principalKey struct{}

func principalFrom(ctx context.Context) principal {
	p, _ := ctx.Value(principalKey{}).(principal)
	return p
}

// Headers of a request a follower proxies to the leader. The follower
// checked the credential; the leader trusts the principal it names when the
// signature is good (and, with cluster TLS, the connection carries a
// member's certificate: see Forwarding). The signature is an HMAC under a
// key derived from the cluster secret, so each node keeps its own admin
// token (DESIGN.md, "Commands"). A loopback demo without a cluster secret
// derives the key from the cluster's signing key instead, which every
// member holds; a hub whose raft leaves loopback must have cluster TLS and
// with it a cluster secret, so that path never crosses a network.
const (
	hdrPrincipal  = "X-Huiyan-Principal"
	hdrForwardBy  = "X-Huiyan-Forwarded-By"
	hdrForwardAt  = "X-Huiyan-Forwarded-At"
	hdrForwardSig = "X-Huiyan-Forward-Signature"
	// hdrForwardNonce makes every forwarded request single-use: the leader
	// refuses a nonce it has seen within forwardSkew, so a captured
	// forwarded request cannot be replayed (with its body or another).
	hdrForwardNonce = "X-Huiyan-Forward-Nonce"
)

// forwardSkew bounds the age of a forwarded request's signature.
const forwardSkew = time.Minute

var errForward = errors.New("bad forwarded request")

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}

func (s *Server) isAdmin(token string) bool {
	if token == "" || s.opts.AdminToken == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(s.opts.AdminToken))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// authenticate finds who made the request. A missing or unknown
// credential is 401 (DESIGN.md, "Hub contract").
func (s *Server) authenticate(r *http.Request) (principal, error) {
	if r.Header.Get(hdrForwardSig) != "" {
		p, err := s.verifyForward(r)
		if err != nil {
			s.refuse(r, "forward", err.Error())
			return principal{}, huiyan.Errorf(huiyan.EUnauthorized, "bad forwarded request")
		}
		return p, nil
	}
	token := bearer(r)
	switch {
	case token == "":
		s.refuse(r, "missing", "no credential")
		return principal{}, huiyan.Errorf(huiyan.EUnauthorized, "missing credential: send Authorization: Bearer {token}")
	case s.isAdmin(token):
		return principal{admin: true}, nil
	}
	if b, ok := s.st.Authenticate(token); ok {
		return principal{branch: b}, nil
	}
	s.refuse(r, "unknown", "unknown credential")
	return principal{}, huiyan.Errorf(huiyan.EUnauthorized, "unknown credential")
}

// refuse logs and counts a refused request: who asked for what, never the
// credential.
func (s *Server) refuse(r *http.Request, reason, msg string) {
	s.metrics.authFails.WithLabelValues(reason).Inc()
	s.log.Warn("request refused", "reason", reason, "detail", msg, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
}

// joinPattern is the route of a join. With cluster TLS a join must come
// from a machine holding a cluster certificate, not only the admin token:
// a voter that cannot speak raft (its certificate refused) would only
// weaken the cluster's quorum.
const joinPattern = "POST /v1/join"

// admin guards an admin endpoint: an edge credential is 403.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !p.admin {
			s.refuse(r, "forbidden", p.String()+" on an admin endpoint")
			s.writeError(w, r, huiyan.Errorf(huiyan.EForbidden, "admin only"))
			return
		}
		if r.Pattern == joinPattern && !s.fromMember(r) {
			s.refuse(r, "forbidden", "join without a cluster certificate")
			s.writeError(w, r, huiyan.Errorf(huiyan.EForbidden, "a node joins with its cluster certificate (cluster_tls)"))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

// edge guards an endpoint of {branch}: that branch's edge, or the admin.
// Another branch's credential is 403.
func (s *Server) edge(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		branch := r.PathValue("branch")
		if !huiyan.ValidBranchID(branch) {
			s.writeError(w, r, huiyan.Errorf(huiyan.EInvalid, "invalid branch id"))
			return
		}
		p, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !p.admin && p.branch != branch {
			s.refuse(r, "forbidden", p.String()+" asked for branch "+branch)
			s.writeError(w, r, huiyan.Errorf(huiyan.EForbidden, "this credential is for another branch"))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}

// leader runs h on the leader and proxies the request there from a
// follower. Proxying rather than redirecting (307) keeps the cluster one
// address for its clients: an edge or HQ tool configured with any member
// works without reaching every member, and a streamed upload is sent once
// (a 307 makes the client send the whole body again, which a pipe cannot).
func (s *Server) leader(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.st.IsLeader() {
			h(w, r)
			return
		}
		if r.Header.Get(hdrForwardBy) != "" {
			// Forwarded to a node that is no longer the leader: do not
			// bounce it around; the client retries.
			s.writeError(w, r, store.ErrNotLeader)
			return
		}
		s.forward(w, r)
	}
}

// forwardKey returns the key this node signs forwarded requests with.
func (s *Server) forwardKey() ([]byte, error) {
	keys, err := s.forwardKeys()
	if err != nil {
		return nil, err
	}
	return keys[0], nil
}

// forwardKeys returns the keys a forwarded request may be signed with:
// those of the cluster secrets, or, on a loopback demo without one, the
// key derived from the signing key.
func (s *Server) forwardKeys() ([][]byte, error) {
	if f := s.opts.Forwarding; f != nil && len(f.keys) > 0 {
		return f.keys, nil
	}
	priv, _, err := s.st.SigningKey()
	if err != nil {
		return nil, err
	}
	return [][]byte{deriveForwardKey(priv.Seed(), "huiyan hub forward v1")}, nil
}

// forwardMAC signs what identifies a forwarded request: method, URI, who
// it is for, who forwarded it and when, its nonce, and the type and length
// of its body (a streamed upload cannot be hashed before it is sent; the
// nonce and, in production, TLS between members cover the rest).
func forwardMAC(key []byte, r *http.Request, p, by, at string) string {
	m := hmac.New(sha256.New, key)
	for _, s := range []string{r.Method, r.URL.RequestURI(), p, by, at, r.Header.Get(hdrForwardNonce),
		r.Header.Get("Content-Type"), strconv.FormatInt(r.ContentLength, 10)} {
		m.Write([]byte(s))
		m.Write([]byte{'\n'})
	}
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) verifyForward(r *http.Request) (principal, error) {
	if !s.fromMember(r) {
		return principal{}, fmt.Errorf("%w: not over a connection with a cluster certificate", errForward)
	}
	keys, err := s.forwardKeys()
	if err != nil {
		return principal{}, err
	}
	p, by, at := r.Header.Get(hdrPrincipal), r.Header.Get(hdrForwardBy), r.Header.Get(hdrForwardAt)
	sec, err := strconv.ParseInt(at, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > forwardSkew {
		return principal{}, errForward
	}
	good := false
	for _, key := range keys {
		want := forwardMAC(key, r, p, by, at)
		good = good || hmac.Equal([]byte(want), []byte(r.Header.Get(hdrForwardSig)))
	}
	if !good {
		return principal{}, errForward
	}
	pr, ok := parsePrincipal(p)
	if !ok {
		return principal{}, errForward
	}
	if !s.nonces.fresh(r.Header.Get(hdrForwardNonce), time.Now()) {
		return principal{}, fmt.Errorf("%w: nonce missing or already used", errForward)
	}
	return pr, nil
}

// nonceCache remembers the nonces of forwarded requests for twice the
// allowed clock skew, which is as long as their signatures are accepted.
type nonceCache struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

// fresh records nonce and reports whether it was new (and well formed).
func (c *nonceCache) fresh(nonce string, now time.Time) bool {
	if len(nonce) != 32 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen == nil {
		c.seen = map[string]time.Time{}
	}
	if len(c.seen) > 4096 {
		for n, at := range c.seen {
			if now.Sub(at) > 2*forwardSkew {
				delete(c.seen, n)
			}
		}
	}
	if _, ok := c.seen[nonce]; ok {
		return false
	}
	c.seen[nonce] = now
	return true
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// forward proxies the request to the leader, streaming both ways.
func (s *Server) forward(w http.ResponseWriter, r *http.Request) {
	addr, err := s.st.LeaderHTTP()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	key, err := s.forwardKey()
	if err != nil {
		s.writeError(w, r, huiyan.Errorf(huiyan.EUnavailable, "the cluster is starting; try again"))
		return
	}
	target := &url.URL{Scheme: "http", Host: addr}
	var transport http.RoundTripper
	if f := s.opts.Forwarding; f != nil {
		target.Scheme, transport = f.scheme, f.transport
	}
	p := principalFrom(r.Context()).String()
	rp := &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			pr.Out.Header.Del("Authorization")
			at := strconv.FormatInt(time.Now().Unix(), 10)
			pr.Out.Header.Set(hdrPrincipal, p)
			pr.Out.Header.Set(hdrForwardBy, s.st.ID())
			pr.Out.Header.Set(hdrForwardAt, at)
			pr.Out.Header.Set(hdrForwardNonce, newNonce())
			pr.Out.Header.Set(hdrForwardSig, forwardMAC(key, pr.Out, p, s.st.ID(), at))
		},
		FlushInterval: -1,
		ModifyResponse: func(*http.Response) error {
			s.metrics.forwarded.WithLabelValues("ok").Inc()
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.metrics.forwarded.WithLabelValues("error").Inc()
			s.log.Warn("forward to the leader failed", "leader", addr, "path", r.URL.Path, "err", err)
			s.writeError(w, r, huiyan.Errorf(huiyan.EUnavailable, "the leader is not reachable; try again"))
		},
	}
	rp.ServeHTTP(w, r)
}
