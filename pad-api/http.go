package pad

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"huiyan"
)

// AsyncAPI is the AsyncAPI 3.0 document of the PAD contract, served at
// GET /pad/asyncapi.yaml.
//
//go:embed asyncapi.yaml
var AsyncAPI []byte

//go:embed web
var webFiles embed.FS

// maxLoginBody bounds the login request body.
const maxLoginBody = 4 << 10

// maxPINLen bounds the PIN we hash: anything longer is wrong anyway.
const maxPINLen = 64

const msgBadLogin = "工号或密码错误 / wrong staff id or PIN"

// LoginRequest is the body of POST /pad/login.
type LoginRequest struct {
	Staff string `json:"staff"`
	PIN   string `json:"pin"`
}

// SessionInfo answers POST /pad/login and GET /pad/me: who is logged in.
// ExpiresAt (an extension to DESIGN.md) lets the app warn before the
// session ends.
type SessionInfo struct {
	Staff     Staff  `json:"staff"`
	Branch    string `json:"branch"`
	ExpiresAt string `json:"expires_at"`
}

// StaffList answers GET /pad/staff: the display names the PAD shows for
// "claimed by" (visits carry staff ids only).
type StaffList struct {
	Staff []Staff `json:"staff"`
}

// HTTPError is the body of every HTTP error answer. RetryAfterS is set with
// code rate_limited (and the Retry-After header).
type HTTPError struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	RetryAfterS int    `json:"retry_after_s,omitempty"`
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /pad/login", s.handleLogin)
	mux.HandleFunc("POST /pad/logout", s.handleLogout)
	mux.HandleFunc("GET /pad/me", s.handleMe)
	mux.HandleFunc("GET /pad/staff", s.handleStaff)
	mux.HandleFunc("GET /pad/report", s.handleReport)
	mux.HandleFunc("GET /pad/ws", s.serveWS)
	mux.HandleFunc("GET /pad/asyncapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
		_, _ = w.Write(AsyncAPI)
	})
	web, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embed directive guarantees the folder
	}
	files := http.FileServerFS(web)
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		files.ServeHTTP(w, r)
	})
	return securityHeaders(mux)
}

// securityHeaders sets the headers every answer carries. Cache-Control
// no-store on everything, the app's files included: a shared tablet keeps
// nothing of a session in its cache after logout (issue 4, "Privacy"), and
// the files are small and served over the branch LAN.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// handleLogin is POST /pad/login (DESIGN.md, "PAD login").
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, huiyan.EForbidden, "cross-site request refused")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, huiyan.EInvalid, "send JSON with Content-Type: application/json")
		return
	}
	var req LoginRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLoginBody)).Decode(&req); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, huiyan.ETooLarge, "request body over 4 KiB")
			return
		}
		writeError(w, http.StatusBadRequest, huiyan.EInvalid, `body must be {"staff":"…","pin":"…"}`)
		return
	}
	if req.Staff == "" || req.PIN == "" {
		writeError(w, http.StatusBadRequest, huiyan.EInvalid, "staff and pin are required")
		return
	}

	// A malformed staff id is answered like a wrong PIN, but only the
	// address is charged for it: made-up ids do not fill the limiter.
	wellFormed := huiyan.ValidStaffID(req.Staff) && len(req.PIN) <= maxPINLen
	keys := []string{addrKey(r.RemoteAddr)}
	if wellFormed {
		keys = append(keys, staffKey(req.Staff))
	}
	if wait, ok := s.limiter.acquire(s.opts.Clock(), keys...); !ok {
		s.m.loginLimited.Inc()
		s.log.Warn("pad login rate limited", "remote", r.RemoteAddr, "retry_after", wait.Round(time.Second))
		writeRateLimited(w, wait)
		return
	}
	if !wellFormed {
		s.loginFailed(w, r, keys, "")
		return
	}
	select {
	case s.loginSem <- struct{}{}:
	case <-r.Context().Done():
		s.limiter.passed(keys)
		return
	}
	sess, err := s.backend.Login(r.Context(), req.Staff, req.PIN)
	<-s.loginSem
	switch {
	case err == nil:
		s.limiter.passed(keys, staffKey(req.Staff))
	case huiyan.ErrorCode(err) == huiyan.EUnauthorized:
		s.loginFailed(w, r, keys, req.Staff)
		return
	default:
		s.limiter.passed(keys)
		s.log.Error("pad login failed", "staff", req.Staff, "err", err)
		writeCodeError(w, err)
		return
	}
	s.remember(sess)
	s.setCookie(w, sess.Token, s.cookieMaxAge(sess))
	writeJSON(w, http.StatusOK, s.sessionInfo(sess))
}

func (s *Server) loginFailed(w http.ResponseWriter, r *http.Request, keys []string, staff string) {
	s.limiter.failed(s.opts.Clock(), keys...)
	s.m.loginFailures.Inc()
	s.log.Info("pad login refused", "staff", staff, "remote", r.RemoteAddr)
	writeError(w, http.StatusUnauthorized, huiyan.EUnauthorized, msgBadLogin)
}

func writeRateLimited(w http.ResponseWriter, wait time.Duration) {
	secs := int((wait + time.Second - 1) / time.Second)
	mins := (secs + 59) / 60
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, HTTPError{
		Code:        ERateLimited,
		Message:     fmt.Sprintf("密码错误次数过多，请%d分钟后再试 / too many wrong PINs, try again in %d min", mins, mins),
		RetryAfterS: secs,
	})
}

// handleLogout is POST /pad/logout: it ends the session, closes its
// websockets and clears the cookie. Without a session it just clears.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, huiyan.EForbidden, "cross-site request refused")
		return
	}
	if ck, err := r.Cookie(CookieName); err == nil && ck.Value != "" {
		err := s.backend.Logout(r.Context(), ck.Value)
		if err != nil && huiyan.ErrorCode(err) != huiyan.EUnauthorized {
			s.log.Error("pad logout failed", "err", err)
			writeCodeError(w, err)
			return
		}
		s.endSession(ck.Value)
	}
	s.setCookie(w, "", -1)
	w.WriteHeader(http.StatusNoContent)
}

// handleMe is GET /pad/me: who is logged in, for the app after a reload.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.requireSession(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.sessionInfo(sess))
}

// handleStaff is GET /pad/staff: the staff of the session's branch this
// server has seen log in or connect since it started, by id, so that the
// PAD can show who claimed a visit by name. It is cheap (no roster read)
// and complete enough: a claim comes over a websocket, so its claimer has
// been seen; after an edge restart a name appears again when its owner's
// PAD reconnects, and until then the PAD shows the staff id.
func (s *Server) handleStaff(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.requireSession(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, StaffList{Staff: s.seenStaff(s.branchOf(sess))})
}

// requireSession returns the request's live session, or answers 401.
func (s *Server) requireSession(w http.ResponseWriter, r *http.Request) (Session, bool) {
	ck, err := r.Cookie(CookieName)
	if err != nil || ck.Value == "" || len(ck.Value) > 512 {
		writeError(w, http.StatusUnauthorized, huiyan.EUnauthorized, "请先登录 / please log in")
		return Session{}, false
	}
	sess, err := s.backend.Session(r.Context(), ck.Value)
	if err == nil && !s.opts.Clock().Before(sess.Expires) {
		err = huiyan.Errorf(huiyan.EUnauthorized, msgSessionEnded)
	}
	switch {
	case err == nil:
		s.remember(sess)
		return sess, true
	case huiyan.ErrorCode(err) == huiyan.EUnauthorized:
		s.setCookie(w, "", -1)
		writeError(w, http.StatusUnauthorized, huiyan.EUnauthorized, msgSessionEnded)
	default:
		s.log.Error("pad session lookup failed", "err", err)
		writeCodeError(w, err)
	}
	return Session{}, false
}

func (s *Server) branchOf(sess Session) string {
	if sess.Branch != "" {
		return sess.Branch
	}
	return s.opts.Branch
}

func (s *Server) sessionInfo(sess Session) SessionInfo {
	st := sess.Staff
	return SessionInfo{
		Staff:     Staff{ID: st.ID, Name: st.DisplayName, Role: st.Role},
		Branch:    s.branchOf(sess),
		ExpiresAt: FormatTime(sess.Expires),
	}
}

func (s *Server) cookieMaxAge(sess Session) int {
	if d := sess.Expires.Sub(s.opts.Clock()); d > 0 {
		return int(d / time.Second)
	}
	return int(SessionTTL / time.Second)
}

func (s *Server) setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.opts.Secure,
		SameSite: http.SameSiteStrictMode,
	})
}

// sameOrigin allows a request without an Origin header (not a browser, or a
// same-origin GET from an old one) and one whose Origin names the host the
// request was sent to; it refuses any other, and "null". Browsers always
// send Origin on websocket upgrades and on cross-site POSTs, so a page of
// another site can neither open /pad/ws with the staff member's cookie nor
// log them in or out. Behind a reverse proxy the proxy must pass Host on.
func sameOrigin(r *http.Request) bool {
	origin := r.Header["Origin"]
	if len(origin) == 0 {
		return true
	}
	u, err := url.Parse(origin[0])
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, HTTPError{Code: code, Message: message})
}

// writeCodeError answers a backend error: its code, its message (generic
// for anything that is not a *huiyan.Error) and the matching status.
func writeCodeError(w http.ResponseWriter, err error) {
	code := huiyan.ErrorCode(err)
	writeError(w, statusForCode(code), code, huiyan.ErrorMessage(err))
}

var codeStatus = map[string]int{
	huiyan.EInvalid:      http.StatusBadRequest,
	huiyan.EUnauthorized: http.StatusUnauthorized,
	huiyan.EForbidden:    http.StatusForbidden,
	huiyan.ENotFound:     http.StatusNotFound,
	huiyan.EConflict:     http.StatusConflict,
	huiyan.ETooLarge:     http.StatusRequestEntityTooLarge,
	ERateLimited:         http.StatusTooManyRequests,
	huiyan.EUnavailable:  http.StatusServiceUnavailable,
	huiyan.EInternal:     http.StatusInternalServerError,
}

func statusForCode(code string) int {
	if st, ok := codeStatus[code]; ok {
		return st
	}
	return http.StatusInternalServerError
}

func codeForStatus(status int) string {
	for code, st := range codeStatus {
		if st == status {
			return code
		}
	}
	if status >= 400 && status < 500 {
		return huiyan.EInvalid
	}
	return huiyan.EInternal
}
