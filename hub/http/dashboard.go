package http

import (
	"embed"
	"io/fs"
	"net/http"
)

// The HQ dashboard (issue 6): one page and its script and style, embedded
// in the hub binary so that a node serves it with no external assets. It
// reads the /v1 API with the admin token the user types in; the page
// itself is open and holds no data.

//go:embed web
var webFiles embed.FS

// dashboardCSP allows the page its own script, style and API calls and
// nothing else: no inline script, no third-party origin, no framing.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' blob: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// registerDashboard serves the dashboard at / (exactly: other unknown paths
// stay 404) and its two assets.
func (s *Server) registerDashboard(m *http.ServeMux) {
	web, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embed directive guarantees the folder
	}
	files := http.FileServerFS(web)
	h := func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", dashboardCSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}
	m.HandleFunc("GET /{$}", h)
	m.HandleFunc("GET /dash.js", h)
	m.HandleFunc("GET /dash.css", h)
}
