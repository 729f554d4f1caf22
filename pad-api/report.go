package pad

import (
	"mime"
	"net/http"
	"strconv"
	"time"

	"huiyan"
)

// reportDayLayout is how a report day is written (hub/funnel.DayLayout,
// which this package may not import).
const reportDayLayout = "2006-01-02"

// handleReport is GET /pad/report: the branch funnel for the supervisor's
// screen (issue 6, "Reports"), from the edge's own facts. Query:
// from, to (YYYY-MM-DD, inclusive; to defaults to today, from to days-1
// days before to), days (1 to MaxReportDays), by ("" or "day"), format
// ("json" or "csv"), table (with csv: "funnel" or "staff"). Only the
// supervisor role may see it: the leaderboard names staff, and the other
// roles work from the cards.
func (s *Server) handleReport(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.requireSession(w, r)
	if !ok {
		return
	}
	if sess.Staff.Role != huiyan.RoleSupervisor {
		writeError(w, http.StatusForbidden, huiyan.EForbidden, "只有网点负责人可以查看报表 / only the branch supervisor can see reports")
		return
	}
	rp, ok := s.backend.(Reporter)
	if !ok {
		writeError(w, http.StatusNotFound, huiyan.ENotFound, "本网点不提供报表 / this edge has no reports")
		return
	}
	q, err := parseReportQuery(r)
	if err != nil {
		writeCodeError(w, err)
		return
	}
	ans, err := rp.Report(r.Context(), q)
	if err != nil {
		if code := huiyan.ErrorCode(err); code != huiyan.EInvalid {
			s.log.Error("pad report failed", "staff", sess.Staff.ID, "err", err)
		}
		writeCodeError(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ans.ContentType)
	if ans.Filename != "" {
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": ans.Filename}))
	}
	h.Set("Content-Length", strconv.Itoa(len(ans.Body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(ans.Body)
}

// parseReportQuery checks the query's syntax; errors are EInvalid and say
// which parameter is wrong.
func parseReportQuery(r *http.Request) (ReportQuery, error) {
	v := r.URL.Query()
	q := ReportQuery{From: v.Get("from"), To: v.Get("to"), By: v.Get("by"), Format: v.Get("format"), Table: v.Get("table")}
	var from, to time.Time
	for _, d := range []struct {
		name string
		val  string
		t    *time.Time
	}{{"from", q.From, &from}, {"to", q.To, &to}} {
		if d.val == "" {
			continue
		}
		t, err := time.Parse(reportDayLayout, d.val)
		if err != nil || t.Format(reportDayLayout) != d.val {
			return q, huiyan.Errorf(huiyan.EInvalid, "%s: want a day as YYYY-MM-DD", d.name)
		}
		*d.t = t
	}
	if !from.IsZero() && !to.IsZero() {
		switch {
		case from.After(to):
			return q, huiyan.Errorf(huiyan.EInvalid, "from: %s is after to %s", q.From, q.To)
		case to.Sub(from) >= MaxReportDays*24*time.Hour:
			return q, huiyan.Errorf(huiyan.EInvalid, "from, to: at most %d days", MaxReportDays)
		}
	}
	if days := v.Get("days"); days != "" {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > MaxReportDays {
			return q, huiyan.Errorf(huiyan.EInvalid, "days: want 1 to %d", MaxReportDays)
		}
		if q.From != "" {
			return q, huiyan.Errorf(huiyan.EInvalid, "days: give from or days, not both")
		}
		q.Days = n
	}
	switch q.By {
	case "", "day":
	default:
		return q, huiyan.Errorf(huiyan.EInvalid, `by: want "day" or nothing`)
	}
	switch q.Format {
	case "":
		q.Format = "json"
	case "json", "csv":
	default:
		return q, huiyan.Errorf(huiyan.EInvalid, "format: want json or csv")
	}
	switch q.Table {
	case "":
		if q.Format == "csv" {
			q.Table = "funnel"
		}
	case "funnel", "staff":
		if q.Format != "csv" {
			return q, huiyan.Errorf(huiyan.EInvalid, "table: only with format=csv")
		}
	default:
		return q, huiyan.Errorf(huiyan.EInvalid, "table: want funnel or staff")
	}
	return q, nil
}
