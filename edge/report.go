package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"huiyan"
	"huiyan/hub/funnel"
	pad "huiyan/pad-api"
)

// The branch report (issue 6, "Reports"; edge/DESIGN.md, "Branch report"):
// the supervisor's screen shows the funnel of this branch computed from the
// funnel facts the edge folds in the transaction that fills its outbox
// (foldFunnel), with the same aggregation the hub uses (funnel.Aggregator).
// So it needs no hub, is right the moment a change commits, and agrees with
// HQ's report for the branch once the outbox has drained.

var _ pad.Reporter = (*Node)(nil)

// BranchReport is the report the supervisor's screen shows: the funnel
// (funnel.Report, its fields inline) with the display names of the staff
// on the leaderboard and the outbox backlog, by which HQ's figures for the
// branch lag this screen.
type BranchReport struct {
	Branch      string    `json:"branch"`
	GeneratedAt time.Time `json:"generated_at"`
	Today       string    `json:"today"` // the branch's today, as the edge's clock says
	*funnel.Report
	// StaffNames maps the leaderboard's staff ids to their masked display
	// names from the roster; a staff member who left it is shown by id.
	StaffNames  map[string]string `json:"staff_names"`
	OutboxDepth int               `json:"outbox_depth"`
}

// FunnelReport computes the funnel of the visits that opened from day
// from through to (YYYY-MM-DD, CST, inclusive) from the store's funnel
// facts, with rows split by group.
func FunnelReport(ctx context.Context, store Store, from, to string, group funnel.Group) (*funnel.Report, error) {
	var rep *funnel.Report
	err := store.View(ctx, func(tx Tx) error {
		var err error
		rep, err = funnelReport(tx, from, to, group)
		return err
	})
	return rep, err
}

func funnelReport(tx Tx, from, to string, group funnel.Group) (*funnel.Report, error) {
	agg := funnel.NewAggregator(group, funnel.CST, from, to)
	err := tx.FunnelVisits(from, to, func(v *funnel.Visit) error {
		agg.Add(v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("funnel report %s to %s: %w", from, to, err)
	}
	return agg.Report(), nil
}

// BranchReport returns the branch report for the days from through to.
func (n *Node) BranchReport(ctx context.Context, from, to string, group funnel.Group) (*BranchReport, error) {
	now := n.cfg.Clock()
	br := &BranchReport{Branch: n.cfg.Branch, GeneratedAt: now, Today: funnel.Day(now, funnel.CST), StaffNames: map[string]string{}}
	err := n.store.View(ctx, func(tx Tx) error {
		var err error
		if br.Report, err = funnelReport(tx, from, to, group); err != nil {
			return err
		}
		for _, s := range br.Report.Staff {
			st, err := tx.Staff(s.Staff)
			switch {
			case err == nil:
				br.StaffNames[s.Staff] = st.DisplayName
			case !errors.Is(err, ErrNotFound):
				return err
			}
		}
		ob, err := tx.OutboxStats()
		br.OutboxDepth = ob.Depth
		return err
	})
	if err != nil {
		return nil, err
	}
	return br, nil
}

// Report implements pad.Reporter: the branch report as JSON (a
// BranchReport) or CSV (funnel.WriteCSV or, with table staff,
// funnel.WriteStaffCSV), for the days the query names in the branch's
// time zone.
func (n *Node) Report(ctx context.Context, q pad.ReportQuery) (pad.ReportAnswer, error) {
	from, to, err := reportDays(n.cfg.Clock(), q)
	if err != nil {
		return pad.ReportAnswer{}, err
	}
	group := funnel.ByNone
	if q.By == "day" {
		group = funnel.ByDay
	}
	br, err := n.BranchReport(ctx, from, to, group)
	if err != nil {
		return pad.ReportAnswer{}, err
	}
	var buf bytes.Buffer
	switch q.Format {
	case "csv":
		write, name := funnel.WriteCSV, "funnel"
		if q.Table == "staff" {
			write, name = funnel.WriteStaffCSV, "staff"
		}
		if err := write(&buf, br.Report); err != nil {
			return pad.ReportAnswer{}, fmt.Errorf("report csv: %w", err)
		}
		return pad.ReportAnswer{ContentType: "text/csv; charset=utf-8", Body: buf.Bytes(),
			Filename: fmt.Sprintf("%s-%s-%s-%s.csv", name, n.cfg.Branch, from, to)}, nil
	default:
		if err := json.NewEncoder(&buf).Encode(br); err != nil {
			return pad.ReportAnswer{}, fmt.Errorf("report json: %w", err)
		}
		return pad.ReportAnswer{ContentType: "application/json; charset=utf-8", Body: buf.Bytes()}, nil
	}
}

// reportDays resolves the query's days: To defaults to today (CST, as of
// now), From to Days-1 days before To.
func reportDays(now time.Time, q pad.ReportQuery) (from, to string, err error) {
	to = q.To
	if to == "" {
		to = funnel.Day(now, funnel.CST)
	}
	last, err := time.ParseInLocation(funnel.DayLayout, to, funnel.CST)
	if err != nil {
		return "", "", huiyan.Errorf(huiyan.EInvalid, "to: want a day as YYYY-MM-DD")
	}
	from = q.From
	if from == "" {
		from = last.AddDate(0, 0, -(max(q.Days, 1) - 1)).Format(funnel.DayLayout)
	}
	first, err := time.ParseInLocation(funnel.DayLayout, from, funnel.CST)
	switch {
	case err != nil:
		return "", "", huiyan.Errorf(huiyan.EInvalid, "from: want a day as YYYY-MM-DD")
	case first.After(last):
		return "", "", huiyan.Errorf(huiyan.EInvalid, "from: %s is after to %s", from, to)
	case first.AddDate(0, 0, pad.MaxReportDays).Compare(last) <= 0:
		return "", "", huiyan.Errorf(huiyan.EInvalid, "from, to: at most %d days", pad.MaxReportDays)
	}
	return from, to, nil
}
