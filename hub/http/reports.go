package http

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"huiyan"
	"huiyan/hub/funnel"
	"huiyan/hub/store"
)

// GET /v1/reports/funnel (admin token) answers the branch funnel
// (DESIGN.md, "Hub contract"; definitions in package hub/funnel):
//
//	branch  one branch id; empty or absent: every branch
//	from    first day, YYYY-MM-DD in China Standard Time; default: to
//	to      last day, inclusive; default: today (CST). At most
//	        funnel.MaxDays (366) days from from.
//	by      rows: branch, day, branch_day, or staff (the staff
//	        leaderboard); absent: the total only. Every answer carries the
//	        total and the leaderboard; by=staff only changes the CSV.
//	format  json (default) or csv; without it, Accept: text/csv asks for
//	        CSV. The CSV (funnel.CountsHeader, or funnel.StaffHeader for
//	        by=staff) comes as an attachment named after the query.
//
// Anything else in the query, a parameter given twice, a bad day, a
// range backwards or too long is 400 with a message naming it. The report
// is computed from the answering node's own state: a follower may trail
// the leader by the few entries it has not applied yet (milliseconds on
// a healthy cluster), so two members may briefly differ by the newest
// events.
func (s *Server) handleFunnel(w http.ResponseWriter, r *http.Request) {
	q, staff, csv, err := parseFunnelQuery(r.URL.Query(), r.Header.Get("Accept"), time.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rep, err := s.st.Funnel(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !csv {
		writeJSON(w, http.StatusOK, rep)
		return
	}
	by := string(q.Group)
	if staff {
		by = "staff"
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, csvName(q, by)))
	w.WriteHeader(http.StatusOK)
	write := funnel.WriteCSV
	if staff {
		write = funnel.WriteStaffCSV
	}
	if err := write(w, rep); err != nil {
		// The status is sent; a client that went away is all this can be.
		s.log.Warn("funnel CSV not fully written", "err", err)
	}
}

// csvName is the attachment's file name: funnel_{branch|all}_{from}_{to}
// and the grouping, made only of characters a branch id and a day use.
func csvName(q store.FunnelQuery, by string) string {
	b := q.Branch
	if b == "" {
		b = "all"
	}
	name := "funnel_" + b + "_" + q.From + "_" + q.To
	if by != "" {
		name += "_" + by
	}
	return name + ".csv"
}

// parseFunnelQuery reads the report's parameters (see handleFunnel). It
// returns the store query, whether the staff leaderboard was asked for,
// and whether the answer is CSV.
func parseFunnelQuery(v url.Values, accept string, now time.Time) (q store.FunnelQuery, staff, csv bool, err error) {
	bad := func(format string, a ...any) error { return huiyan.Errorf(huiyan.EInvalid, format, a...) }
	for k, vs := range v {
		switch k {
		case "branch", "from", "to", "by", "format":
		default:
			return q, false, false, bad("unknown parameter %q: the funnel report takes branch, from, to, by and format", k)
		}
		if len(vs) > 1 {
			return q, false, false, bad("parameter %q given %d times", k, len(vs))
		}
	}
	q.Branch = v.Get("branch")
	if q.Branch != "" && !huiyan.ValidBranchID(q.Branch) {
		return q, false, false, bad("branch %q is not a branch id ([0-9A-Za-z-]{1,32})", q.Branch)
	}
	q.To = v.Get("to")
	if q.To == "" {
		q.To = funnel.Day(now, nil)
	}
	q.From = v.Get("from")
	if q.From == "" {
		q.From = q.To
	}
	if _, err := funnel.Days(q.From, q.To); err != nil {
		return q, false, false, bad("%v", err)
	}
	switch by := v.Get("by"); by {
	case "staff":
		staff = true
	default:
		if g := funnel.Group(by); g.Valid() {
			q.Group = g
		} else {
			return q, false, false, bad("by %q: want branch, day, branch_day or staff", by)
		}
	}
	switch f := v.Get("format"); f {
	case "json":
	case "csv":
		csv = true
	case "":
		csv = acceptsCSV(accept)
	default:
		return q, false, false, bad("format %q: want json or csv", f)
	}
	return q, staff, csv, nil
}

// acceptsCSV reports whether an Accept header asks for CSV before JSON:
// text/csv listed, and not after application/json. Quality values are
// not weighed; a client that wants one format names it with format=.
func acceptsCSV(accept string) bool {
	c := strings.Index(accept, "text/csv")
	if c < 0 {
		return false
	}
	j := strings.Index(accept, "application/json")
	return j < 0 || c < j
}
