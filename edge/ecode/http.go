package ecode

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"huiyan"
)

//go:embed web
var webFiles embed.FS

var displayPage = template.Must(template.ParseFS(webFiles, "web/display.html"))

// TimeLayout is how times are written in the JSON answers (as the PAD
// contract writes them).
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// qrModule is the size of a QR module in the PNGs, in pixels. The page
// scales the image up without smoothing; the PNG stays a few KB.
const qrModule = 8

// HandlerConfig configures the e-code HTTP handler.
type HandlerConfig struct {
	Issuer *Issuer
	// StaffOf returns the staff id of the request's PAD session. An error
	// whose huiyan.ErrorCode is EUnauthorized answers 401, any other 500.
	// Nil: /pad/mycode answers 404.
	StaffOf func(r *http.Request) (string, error)
	Clock   func() time.Time // default time.Now
	Logger  *slog.Logger     // default: discard
}

// Handler serves the e-code displays and the staff code of the PAD app:
//
//	GET /ecode/{display}             the display page: the QR code full-screen
//	GET /ecode/{display}/code.json   the current code (CodeInfo)
//	GET /ecode/{display}/qr.png      its QR code; ?w=N for window N (the current or previous one)
//	GET /ecode/_/{display.js,display.css,icon.svg}  the page's files
//	GET /pad/mycode                  the logged-in staff member's code (CodeInfo)
//	GET /pad/mycode/qr.png           its QR code; ?w=N as above
//
// The display routes need no login (the page hangs on a wall) and reveal
// nothing but what the display shows anyway: the branch id, the display
// id and the current code. Unknown displays are 404.
type Handler struct {
	cfg HandlerConfig
	mux *http.ServeMux
	log *slog.Logger
}

// NewHandler returns the handler.
func NewHandler(cfg HandlerConfig) *Handler {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger}
	static, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embed directive guarantees the folder
	}
	files := http.StripPrefix("/ecode/_/", http.FileServerFS(static))
	// One route per file: a folder route would overlap /ecode/{display}/….
	h.mux.Handle("GET /ecode/_/display.js", files)
	h.mux.Handle("GET /ecode/_/display.css", files)
	h.mux.Handle("GET /ecode/_/icon.svg", files)
	h.mux.HandleFunc("GET /ecode/{display}", h.handlePage)
	h.mux.HandleFunc("GET /ecode/{display}/code.json", h.handleDisplayCode)
	h.mux.HandleFunc("GET /ecode/{display}/qr.png", h.handleDisplayQR)
	h.mux.HandleFunc("GET /pad/mycode", h.handleMyCode)
	h.mux.HandleFunc("GET /pad/mycode/qr.png", h.handleMyQR)
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// A code must never come from a cache: a cached one is a dead one.
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.mux.ServeHTTP(w, r)
}

// CodeInfo is the JSON of code.json and /pad/mycode.
type CodeInfo struct {
	Branch  string `json:"branch"`
	Kind    Kind   `json:"kind"`              // "b" display, "s" staff
	Display string `json:"display,omitempty"` // branch codes
	Staff   string `json:"staff,omitempty"`   // staff codes
	Code    string `json:"code"`              // the code's text
	Content string `json:"content"`           // what the QR code holds
	Window  int64  `json:"window"`
	PeriodS int64  `json:"period_s"`
	// RefreshAt: show the next code from then on; ExpiresAt: the code is
	// refused from then on.
	RefreshAt  string `json:"refresh_at"`
	ExpiresAt  string `json:"expires_at"`
	ServerTime string `json:"server_time"`
	QR         string `json:"qr"` // the path of its QR code PNG
}

func (h *Handler) info(is Issued, qrPath string, now time.Time) CodeInfo {
	c := is.Code
	ci := CodeInfo{Branch: c.Branch, Kind: c.Kind, Code: is.Text, Content: is.Content, Window: c.Window,
		PeriodS: c.Period, RefreshAt: is.RefreshAt.Format(TimeLayout), ExpiresAt: is.ExpiresAt.Format(TimeLayout),
		ServerTime: now.Format(TimeLayout), QR: qrPath + "?w=" + strconv.FormatInt(c.Window, 10)}
	if c.Kind == KindBranch {
		ci.Display = c.Subject
	} else {
		ci.Staff = c.Subject
	}
	return ci
}

// displayCode issues the current code of the request's display, or
// answers 404.
func (h *Handler) displayCode(w http.ResponseWriter, r *http.Request, window int64) (Issued, bool) {
	d := r.PathValue("display")
	if !h.cfg.Issuer.KnownDisplay(d) {
		httpError(w, http.StatusNotFound, huiyan.ENotFound, "no such e-code display")
		return Issued{}, false
	}
	is, err := h.cfg.Issuer.IssueWindow(KindBranch, d, window)
	if err != nil {
		h.log.Error("issue display code", "display", d, "err", err)
		httpError(w, http.StatusInternalServerError, huiyan.EInternal, "internal error")
		return Issued{}, false
	}
	return is, true
}

type pageData struct {
	Branch, Display, QR, Code string
	RefreshAt, ExpiresAt      int64 // unix ms
	ServerTime                int64
	PeriodS                   int64
	RefreshInS                int64 // for the page without script
}

func (h *Handler) handlePage(w http.ResponseWriter, r *http.Request) {
	now := h.cfg.Clock()
	is, ok := h.displayCode(w, r, h.cfg.Issuer.Window(now))
	if !ok {
		return
	}
	ci := h.info(is, "/ecode/"+is.Code.Subject+"/qr.png", now)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	err := displayPage.Execute(w, pageData{Branch: ci.Branch, Display: ci.Display, QR: ci.QR, Code: ci.Code,
		RefreshAt: is.RefreshAt.UnixMilli(), ExpiresAt: is.ExpiresAt.UnixMilli(), ServerTime: now.UnixMilli(), PeriodS: ci.PeriodS,
		RefreshInS: int64(is.RefreshAt.Sub(now)/time.Second) + 1})
	if err != nil {
		h.log.Error("display page", "display", ci.Display, "err", err)
	}
}

func (h *Handler) handleDisplayCode(w http.ResponseWriter, r *http.Request) {
	now := h.cfg.Clock()
	is, ok := h.displayCode(w, r, h.cfg.Issuer.Window(now))
	if !ok {
		return
	}
	writeJSON(w, h.info(is, "/ecode/"+is.Code.Subject+"/qr.png", now))
}

func (h *Handler) handleDisplayQR(w http.ResponseWriter, r *http.Request) {
	w0, ok := h.qrWindow(w, r)
	if !ok {
		return
	}
	if is, ok := h.displayCode(w, r, w0); ok {
		h.writeQR(w, is)
	}
}

// qrWindow is the window a QR request asks for: ?w=N when N is the
// current or the previous window (the page asked just before a rotation),
// else the current one. Older or later windows are never drawn, so the
// endpoint cannot be used to collect codes ahead of time.
func (h *Handler) qrWindow(w http.ResponseWriter, r *http.Request) (int64, bool) {
	cur := h.cfg.Issuer.Window(h.cfg.Clock())
	q := r.URL.Query().Get("w")
	if q == "" {
		return cur, true
	}
	n, err := strconv.ParseInt(q, 10, 64)
	if err != nil {
		httpError(w, http.StatusBadRequest, huiyan.EInvalid, "w must be a window number")
		return 0, false
	}
	if n == cur || n == cur-1 {
		return n, true
	}
	return cur, true
}

func (h *Handler) writeQR(w http.ResponseWriter, is Issued) {
	png, err := QRPNG(is.Content)
	if err != nil {
		h.log.Error("qr code", "err", err)
		httpError(w, http.StatusInternalServerError, huiyan.EInternal, "internal error")
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Length", strconv.Itoa(len(png)))
	_, _ = w.Write(png)
}

// staffCode issues the code of the request's staff member for window, or
// answers 401/404/500.
func (h *Handler) staffCode(w http.ResponseWriter, r *http.Request, window int64) (Issued, bool) {
	if h.cfg.StaffOf == nil {
		http.NotFound(w, r)
		return Issued{}, false
	}
	staff, err := h.cfg.StaffOf(r)
	switch {
	case huiyan.ErrorCode(err) == huiyan.EUnauthorized:
		httpError(w, http.StatusUnauthorized, huiyan.EUnauthorized, "请先登录 / please log in")
		return Issued{}, false
	case err != nil:
		h.log.Error("pad session lookup failed", "err", err)
		httpError(w, http.StatusInternalServerError, huiyan.EInternal, "internal error")
		return Issued{}, false
	}
	is, err := h.cfg.Issuer.IssueWindow(KindStaff, staff, window)
	if err != nil {
		h.log.Error("issue staff code", "staff", staff, "err", err)
		httpError(w, http.StatusInternalServerError, huiyan.EInternal, "internal error")
		return Issued{}, false
	}
	return is, true
}

func (h *Handler) handleMyCode(w http.ResponseWriter, r *http.Request) {
	now := h.cfg.Clock()
	if is, ok := h.staffCode(w, r, h.cfg.Issuer.Window(now)); ok {
		writeJSON(w, h.info(is, "/pad/mycode/qr.png", now))
	}
}

func (h *Handler) handleMyQR(w http.ResponseWriter, r *http.Request) {
	w0, ok := h.qrWindow(w, r)
	if !ok {
		return
	}
	if is, ok := h.staffCode(w, r, w0); ok {
		h.writeQR(w, is)
	}
}

// QRPNG draws content as a QR code (error correction level M, 15 %: a
// screen seen at an angle, a smudge) with its quiet zone, qrModule pixels
// a module.
func QRPNG(content string) ([]byte, error) {
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	return q.PNG(-qrModule)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v) // an error: the client went away
}

func httpError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}{code, message})
}
