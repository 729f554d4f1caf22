package funnel

import (
	"encoding/csv"
	"io"
	"strconv"

	"huiyan"
)

// CountsHeader is the header of the funnel CSV: one row per report row (or
// the total alone when the report has no grouping), then a last row with
// branch and day "total".
var CountsHeader = func() []string {
	h := []string{"branch", "day", "arrivals"}
	for _, ch := range huiyan.Channels {
		h = append(h, "arrivals_"+string(ch))
	}
	h = append(h, "recognised", "new_faces", "claimed", "served",
		"need_activation", "activated", "activation_rate", "no_mbank", "new_users", "new_user_rate",
		"claim_median_s", "claim_p90_s")
	for _, o := range huiyan.Outcomes {
		h = append(h, "outcome_"+string(o))
	}
	for _, ch := range huiyan.Channels {
		h = append(h, "signals_"+string(ch))
	}
	return append(h, "refused_scans")
}()

// StaffHeader is the header of the staff CSV.
var StaffHeader = func() []string {
	h := []string{"branch", "staff", "claims", "served", "activated", "new_users", "claim_median_s"}
	for _, o := range huiyan.Outcomes {
		h = append(h, "outcome_"+string(o))
	}
	return h
}()

// WriteCSV writes the report's rows and its total as CSV (CountsHeader).
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CountsHeader); err != nil {
		return err
	}
	for i := range r.Rows {
		if err := cw.Write(countsRecord(&r.Rows[i], r.Rows[i].Branch, r.Rows[i].Day)); err != nil {
			return err
		}
	}
	if err := cw.Write(countsRecord(&r.Total, "total", "total")); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// WriteStaffCSV writes the report's staff rows as CSV (StaffHeader).
func WriteStaffCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(StaffHeader); err != nil {
		return err
	}
	for _, s := range r.Staff {
		rec := []string{cell(s.Branch), cell(s.Staff), itoa(s.Claims), itoa(s.Served), itoa(s.Activated),
			itoa(s.NewUsers), ftoa(s.ClaimMedianS)}
		for _, o := range huiyan.Outcomes {
			rec = append(rec, itoa(s.Outcomes[string(o)]))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func countsRecord(c *Counts, branch, day string) []string {
	rec := []string{cell(branch), day, itoa(c.Arrivals)}
	for _, ch := range huiyan.Channels {
		rec = append(rec, itoa(c.ByChannel[string(ch)]))
	}
	rec = append(rec, itoa(c.Recognised), itoa(c.NewFaces), itoa(c.Claimed), itoa(c.Served),
		itoa(c.NeedActivation), itoa(c.Activated), ftoa(c.ActivationRate),
		itoa(c.NoMBank), itoa(c.NewUsers), ftoa(c.NewUserRate),
		ftoa(c.ClaimMedianS), ftoa(c.ClaimP90S))
	for _, o := range huiyan.Outcomes {
		rec = append(rec, itoa(c.Outcomes[string(o)]))
	}
	for _, ch := range huiyan.Channels {
		rec = append(rec, itoa(c.Signals[string(ch)]))
	}
	return append(rec, itoa(c.RefusedScans))
}

// cell keeps an id from being read as a formula by a spreadsheet (ids may
// start with '-'): such a value gets a leading apostrophe.
func cell(s string) string {
	if s != "" {
		switch s[0] {
		case '=', '+', '-', '@':
			return "'" + s
		}
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
