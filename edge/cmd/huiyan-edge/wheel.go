package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/wheel"
	"huiyan/hub/funnel"
	pad "huiyan/pad-api"
)

// wheelFile is the prize wheel's own bbolt file in the data dir, apart
// from edge.db (edge/wheel package documentation).
const wheelFile = "wheel.db"

// openWheel opens {data_dir}/wheel.db and gives it the branch's table
// (edge.WheelPrizes): the one the data set carries from the hub, else the
// one of wheel_prizes, else none (every spin is recorded and answered
// campaign_closed). A bad wheel_prizes, or one without the branch, stops
// the start even when the hub's table wins: HQ approved that file, and a
// config that names a broken one is a mistake to fix, not to run past.
func (m *Main) openWheel(ctx context.Context, log *slog.Logger, reg prometheus.Registerer) (*wheel.Wheel, error) {
	c := m.Config
	var local *wheel.PrizeTable
	if c.WheelPrizes != "" {
		var err error
		if local, err = wheel.Load(c.WheelPrizes, c.Branch); err != nil {
			return nil, usageError{fmt.Errorf("wheel_prizes: %w", err)}
		}
	}
	w, err := wheel.Open(filepath.Join(c.DataDir, wheelFile), nil, wheel.Options{Logger: log, Metrics: wheel.NewMetrics(reg)})
	if err != nil {
		return nil, fmt.Errorf("open wheel: %w", err)
	}
	m.prizes = &edge.WheelPrizes{Wheel: w, Branch: c.Branch, Local: local, Logger: log}
	if err := m.prizes.Reload(ctx, m.DB); err != nil {
		// The stored table passed the syncer's checks, so this is another
		// build's table (a downgrade) or a damaged file: the wheel runs
		// none, which gives nothing away, and the branch keeps serving
		// arrivals; the next synced version brings the table again.
		log.Error("the data set's prize table cannot be run: no wheel until the next sync", "err", err)
	}
	return w, nil
}

// afterSync runs after the hub syncer applied a version: the node reloads
// its dictionary and the wheel its table, at once, without a restart.
func (m *Main) afterSync(ctx context.Context) error {
	return errors.Join(m.Node.Reload(ctx), m.prizes.Reload(ctx, m.DB))
}

// mountWheel serves the auditors' export of the wheel's audit log,
// GET /pad/wheel/audit.csv?from=&to=, to the branch supervisor's PAD
// session.
func (m *Main) mountWheel(mux *http.ServeMux, log *slog.Logger) {
	mux.HandleFunc("GET /pad/wheel/audit.csv", func(w http.ResponseWriter, r *http.Request) {
		m.handleWheelAudit(w, r, log)
	})
}

// handleWheelAudit writes the audit records of the spins from from to to
// (edge/wheel Export: CSV, hash-chained, checked by wheel.Verify). from
// and to are days (YYYY-MM-DD, China Standard Time, both inclusive) or
// RFC 3339 instants (to excluded); either may be left out. Only the
// supervisor role: the log is the campaign's books, not a tool for the
// lobby.
func (m *Main) handleWheelAudit(w http.ResponseWriter, r *http.Request, log *slog.Logger) {
	ck, err := r.Cookie(pad.CookieName)
	if err != nil || ck.Value == "" || len(ck.Value) > 512 {
		writeHTTPError(w, huiyan.Errorf(huiyan.EUnauthorized, "请先登录 / log in first"))
		return
	}
	s, err := m.Node.Session(r.Context(), ck.Value)
	if err != nil {
		writeHTTPError(w, err)
		return
	}
	if s.Staff.Role != huiyan.RoleSupervisor {
		writeHTTPError(w, huiyan.Errorf(huiyan.EForbidden, "只有网点负责人可以导出转盘审计 / only the branch supervisor can export the wheel audit"))
		return
	}
	from, err := auditTime(r.URL.Query().Get("from"), false)
	if err != nil {
		writeHTTPError(w, huiyan.Errorf(huiyan.EInvalid, "from: %v", err))
		return
	}
	to, err := auditTime(r.URL.Query().Get("to"), true)
	if err != nil {
		writeHTTPError(w, huiyan.Errorf(huiyan.EInvalid, "to: %v", err))
		return
	}
	// Buffered: an error half-way must be a 500, not a truncated CSV that
	// an auditor could take for the whole log.
	var buf bytes.Buffer
	n, err := m.Wheel.Export(r.Context(), &buf, from, to)
	if err != nil {
		log.Error("wheel audit export", "staff", s.Staff.ID, "err", err)
		writeHTTPError(w, err)
		return
	}
	log.Info("wheel audit exported", "staff", s.Staff.ID, "records", n, "from", r.URL.Query().Get("from"), "to", r.URL.Query().Get("to"))
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{
		"filename": fmt.Sprintf("wheel-audit-%s-%s.csv", m.Config.Branch, time.Now().In(funnel.CST).Format("20060102T150405"))}))
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// auditTime parses a bound of the audit export: "" (open), a day in China
// Standard Time (its start, or for an inclusive end the next day's start)
// or an RFC 3339 instant.
func auditTime(v string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseInLocation(time.DateOnly, v, funnel.CST); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("want a day as YYYY-MM-DD or an RFC 3339 time")
	}
	return t, nil
}

// writeHTTPError answers err as the PAD API does: its code and message
// (generic for anything that is not a *huiyan.Error) with the matching
// status.
func writeHTTPError(w http.ResponseWriter, err error) {
	code := huiyan.ErrorCode(err)
	if code == "" {
		code = huiyan.EInternal
	}
	msg := huiyan.ErrorMessage(err)
	if msg == "" {
		msg = "internal error"
	}
	status := http.StatusInternalServerError
	switch code {
	case huiyan.EInvalid:
		status = http.StatusBadRequest
	case huiyan.EUnauthorized:
		status = http.StatusUnauthorized
	case huiyan.EForbidden:
		status = http.StatusForbidden
	case huiyan.ENotFound:
		status = http.StatusNotFound
	case huiyan.EUnavailable:
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(pad.HTTPError{Code: code, Message: msg})
}
