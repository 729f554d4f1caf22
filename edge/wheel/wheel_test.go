package wheel_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"huiyan/edge/wheel"
	firmware "huiyan/firmware-contracts"
	"huiyan/hub/funnel"
)

// t0 is inside every test campaign (2026-11-01 to 2026-12-31, CST).
var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, funnel.CST)

const campaign = "campaign,c1\nstarts,2026-11-01\nends,2026-12-31\n"

// mustTable parses a prizes.csv of branch B001: settings, then rows after
// the header.
func mustTable(tb testing.TB, settings, rows string) *wheel.PrizeTable {
	tb.Helper()
	ts, err := wheel.Parse(strings.NewReader(settings + wheel.Header + "\n" + rows))
	if err != nil {
		tb.Fatal(err)
	}
	return ts["B001"]
}

// mustOpen opens a wheel on a new wheel.db in a temporary directory.
func mustOpen(tb testing.TB, table *wheel.PrizeTable, opts wheel.Options) (*wheel.Wheel, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "wheel.db")
	w, err := wheel.Open(path, table, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = w.Close() })
	return w, path
}

// req is a spin of a known, present customer at t0.
func req(n int, customer string) wheel.SpinRequest {
	return wheel.SpinRequest{Device: "wh-01", Spin: fmt.Sprintf("spin-%d", n), Event: fmt.Sprintf("wh-01-%06d", n),
		Customer: customer, Present: true, At: t0}
}

// records returns the whole audit log.
func records(tb testing.TB, w *wheel.Wheel) []wheel.Record {
	tb.Helper()
	var out []wheel.Record
	if err := w.Records(context.Background(), func(r *wheel.Record) error {
		out = append(out, *r)
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
	return out
}

// checkMatches fails unless rec is the audit record of res.
func checkMatches(tb testing.TB, res wheel.Result, rec wheel.Record) {
	tb.Helper()
	if rec.Seq != res.Seq || rec.Device != res.Device || rec.Spin != res.Spin || rec.Event != res.Event ||
		rec.Prize != res.Prize || rec.Reason != res.Reason || rec.InventoryAfter != res.InventoryAfter ||
		!rec.At.Equal(res.At) || res.Won != (res.Prize != "") {
		tb.Fatalf("audit record %+v does not match result %+v", rec, res)
	}
}

func TestSpin_Rules(t *testing.T) {
	type step struct {
		change func(*wheel.SpinRequest)
		reason string // "" for a win
		prize  string
		left   int64 // InventoryAfter
		drawn  bool  // the audit record has a draw
	}
	known := func(c string) func(*wheel.SpinRequest) { return func(r *wheel.SpinRequest) { r.Customer = c } }
	unknown := func(s string) func(*wheel.SpinRequest) {
		return func(r *wheel.SpinRequest) { r.Customer, r.Subject = "", s }
	}
	at := func(x time.Time) func(*wheel.SpinRequest) { return func(r *wheel.SpinRequest) { r.At = x } }
	cup := "B001,cup,保温杯,Thermos cup,1000000,2,,\nB001,,谢谢参与,Thanks for playing,rest,,,\n"
	const u = wheel.Unlimited
	for _, tt := range []struct {
		name     string
		settings string // "" with rows "" for no table
		rows     string
		steps    []step
	}{
		{"NoTable", "", "", []step{{known("c1"), wheel.ReasonCampaignClosed, "", u, false}}},
		{"CampaignNotYet", campaign, cup, []step{
			{at(time.Date(2026, 10, 31, 23, 59, 59, 0, funnel.CST)), wheel.ReasonCampaignClosed, "", u, false},
			{at(time.Date(2026, 11, 1, 0, 0, 0, 0, funnel.CST)), "", "cup", 1, true},
		}},
		{"CampaignOver", campaign, cup, []step{
			{at(time.Date(2027, 1, 1, 0, 0, 0, 0, funnel.CST)), wheel.ReasonCampaignClosed, "", u, false},
			{at(time.Date(2026, 12, 31, 23, 59, 59, 0, funnel.CST)), "", "cup", 1, true},
		}},
		{"NotPresent", campaign, cup, []step{
			{func(r *wheel.SpinRequest) { r.Present = false }, wheel.ReasonNotPresent, "", u, false},
			{nil, "", "cup", 1, true}, // the refusal did not count towards the limit
		}},
		{"UnknownDenied", campaign, cup, []step{
			{unknown("token-a"), wheel.ReasonUnknownCustomer, "", u, false},
		}},
		{"UnknownAllowed", campaign + "unknown_customers,allow\nspins_per_day,1\n",
			"B001,,谢谢参与,,rest,,,\n", []step{
				{unknown("token-a"), wheel.ReasonNoPrize, "", u, true},
				{unknown("token-a"), wheel.ReasonLimitReached, "", u, false},
				{unknown("token-b"), wheel.ReasonNoPrize, "", u, true},
			}},
		{"LimitPerDay", campaign + "spins_per_day,2\n", "B001,,谢谢参与,,rest,,,\n", []step{
			{nil, wheel.ReasonNoPrize, "", u, true},
			{nil, wheel.ReasonNoPrize, "", u, true},
			{nil, wheel.ReasonLimitReached, "", u, false},
			{known("c2"), wheel.ReasonNoPrize, "", u, true},
			// 23:59 CST is still the same day; 00:00 CST the next.
			{at(time.Date(2026, 11, 23, 23, 59, 0, 0, funnel.CST)), wheel.ReasonLimitReached, "", u, false},
			{at(time.Date(2026, 11, 24, 0, 0, 0, 0, funnel.CST)), wheel.ReasonNoPrize, "", u, true},
		}},
		{"InventoryRunsOut", campaign + "spins_per_day,10\n", cup, []step{
			{nil, "", "cup", 1, true},
			{nil, "", "cup", 0, true},
			{nil, wheel.ReasonInventoryOut, "", 0, true},
		}},
		{"InventoryZero", campaign, "B001,cup,保温杯,,1000000,0,,\nB001,,谢谢参与,,rest,,,\n", []step{
			{nil, wheel.ReasonInventoryOut, "", 0, true},
		}},
		{"Unlimited", campaign + "spins_per_day,3\n", "B001,coupon,电子券,,1000000,unlimited,,\nB001,,谢谢参与,,rest,,,\n", []step{
			{nil, "", "coupon", u, true},
			{nil, "", "coupon", u, true},
		}},
		{"PrizeClosed", campaign, "B001,cup,保温杯,,1000000,5,2026-12-01,\nB001,,谢谢参与,,rest,,,\n", []step{
			{nil, wheel.ReasonPrizeClosed, "", 5, true},
			{known("c2"), wheel.ReasonPrizeClosed, "", 5, true},
			{func(r *wheel.SpinRequest) { r.Customer, r.At = "c3", time.Date(2026, 12, 1, 0, 0, 0, 0, funnel.CST) }, "", "cup", 4, true},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var table *wheel.PrizeTable
			if tt.settings != "" {
				table = mustTable(t, tt.settings, tt.rows)
			}
			w, _ := mustOpen(t, table, wheel.Options{})
			ctx := context.Background()
			var got []wheel.Result
			for i, s := range tt.steps {
				r := req(i, "c1")
				if s.change != nil {
					s.change(&r)
				}
				res, err := w.Spin(ctx, r)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if res.Reason != s.reason || res.Prize != s.prize || res.Won != (s.prize != "") || res.InventoryAfter != s.left || res.Duplicate {
					t.Fatalf("step %d: result %+v, want reason=%q prize=%q left=%d", i, res, s.reason, s.prize, s.left)
				}
				if want := "谢谢参与"; s.prize == "" && res.NameZH != want {
					t.Fatalf("step %d: name %q, want %q", i, res.NameZH, want)
				}
				got = append(got, res)
			}
			recs := records(t, w)
			if len(recs) != len(tt.steps) {
				t.Fatalf("%d audit records, want %d", len(recs), len(tt.steps))
			}
			for i, rec := range recs {
				checkMatches(t, got[i], rec)
				if (rec.Draw >= 0) != tt.steps[i].drawn {
					t.Fatalf("step %d: draw=%d, want a draw: %v", i, rec.Draw, tt.steps[i].drawn)
				}
				if strings.Contains(rec.Who, "token") {
					t.Fatalf("step %d: the audit holds the subject: %q", i, rec.Who)
				}
			}
		})
	}
}

func TestSpin_ErrInvalid(t *testing.T) {
	w, _ := mustOpen(t, mustTable(t, campaign, "B001,,谢谢参与,,rest,,,\n"), wheel.Options{})
	for name, change := range map[string]func(*wheel.SpinRequest){
		"Device":          func(r *wheel.SpinRequest) { r.Device = "wh/01" },
		"Spin":            func(r *wheel.SpinRequest) { r.Spin = "spin 1" },
		"NoSpin":          func(r *wheel.SpinRequest) { r.Spin = "" },
		"Event":           func(r *wheel.SpinRequest) { r.Event = "" },
		"TokenAsCustomer": func(r *wheel.SpinRequest) { r.Customer = strings.Repeat("ab", 32) },
		"NoSubject":       func(r *wheel.SpinRequest) { r.Customer, r.Subject = "", "" },
	} {
		t.Run(name, func(t *testing.T) {
			r := req(1, "c1")
			change(&r)
			if _, err := w.Spin(context.Background(), r); !errors.Is(err, wheel.ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
	if n := len(records(t, w)); n != 0 {
		t.Fatalf("%d audit records of refused requests, want 0", n)
	}
}

// errReader is a random source that has failed.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("entropy source failed") }

// TestSpin_FailedDrawRecordsNothing: a spin whose draw fails leaves no
// trace: the limit it had counted and the audit record roll back with
// the transaction, and the spin can be retried.
func TestSpin_FailedDrawRecordsNothing(t *testing.T) {
	w, _ := mustOpen(t, mustTable(t, campaign, "B001,cup,保温杯,,1000000,1,,\nB001,,谢谢参与,,rest,,,\n"), wheel.Options{})
	ctx := context.Background()
	w.SetRand(errReader{})
	if _, err := w.Spin(ctx, req(1, "c1")); err == nil {
		t.Fatal("Spin with a failed random source: no error")
	}
	n, err := w.SpinsToday(ctx, "c1", "", t0)
	if err != nil || n != 0 || len(records(t, w)) != 0 {
		t.Fatalf("after a failed spin: spins today %d (%v), %d records; want none", n, err, len(records(t, w)))
	}
	if _, err := w.Lookup(ctx, "wh-01", "spin-1"); !errors.Is(err, wheel.ErrNotFound) {
		t.Fatalf("Lookup: %v, want ErrNotFound", err)
	}
	w.SetRand(cryptoRand())
	res, err := w.Spin(ctx, req(1, "c1"))
	if err != nil || !res.Won || res.Seq != 1 {
		t.Fatalf("retry: %+v, %v", res, err)
	}
}

// TestSpin_Concurrent: 1,000 spins at once from 50 wheels by 300 people
// (280 customers and 20 unknown, allowed), 2 spins a day each, small
// stocks; 100 of the spins are delivered twice more while the first is in
// flight. No prize goes beyond its stock, nobody beyond the limit, every
// spin has exactly one audit record that matches what every delivery was
// told, and the chain verifies.
func TestSpin_Concurrent(t *testing.T) {
	const (
		spins     = 1000
		devices   = 50
		people    = 300
		unknowns  = 20
		redeliver = 100
		limit     = 2
	)
	table := mustTable(t, campaign+"spins_per_day,2\nunknown_customers,allow\n",
		"B001,cup,保温杯,,200000,10,,\nB001,cash-8,8元红包,,300000,30,,\nB001,pen,笔,,100000,40,,\nB001,,谢谢参与,,rest,,,\n")
	reg := prometheus.NewRegistry()
	m := wheel.NewMetrics(reg)
	w, _ := mustOpen(t, table, wheel.Options{Metrics: m})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	reqs := make([]wheel.SpinRequest, spins)
	who := make([]string, spins) // the person of each spin, for the limit check
	for i := range reqs {
		p := (i * 7) % people // spread each person's spins over the run
		dev := fmt.Sprintf("wh-%02d", i%devices)
		r := wheel.SpinRequest{Device: dev, Spin: fmt.Sprintf("s-%04d", i), Event: fmt.Sprintf("%s-%06d", dev, i), Present: true,
			At: t0.Add(time.Duration(i) * time.Millisecond)}
		if p < unknowns {
			r.Subject, who[i] = fmt.Sprintf("mbank-token-%d", p), fmt.Sprintf("u%d", p)
		} else {
			r.Customer, who[i] = fmt.Sprintf("C%05d", p), fmt.Sprintf("C%05d", p)
		}
		reqs[i] = r
	}
	type answer struct {
		i   int
		res wheel.Result
		err error
	}
	answers := make(chan answer, spins+2*redeliver)
	var wg sync.WaitGroup
	start := make(chan struct{})
	spin := func(i int) {
		defer wg.Done()
		<-start
		res, err := w.Spin(ctx, reqs[i])
		answers <- answer{i, res, err}
	}
	for i := range spins {
		wg.Add(1)
		go spin(i)
		if i%(spins/redeliver) == 0 { // every tenth spin comes twice more, racing the first
			wg.Add(2)
			go spin(i)
			go spin(i)
		}
	}
	began := time.Now()
	close(start)
	wg.Wait()
	close(answers)
	t.Logf("%d spins (%d deliveries) in %v", spins, spins+2*redeliver, time.Since(began))

	first := map[int]wheel.Result{} // spin → the delivery that drew
	all := map[int][]wheel.Result{}
	for a := range answers {
		if a.err != nil {
			t.Fatalf("spin %d: %v", a.i, a.err)
		}
		all[a.i] = append(all[a.i], a.res)
		if !a.res.Duplicate {
			if _, dup := first[a.i]; dup {
				t.Fatalf("spin %d was drawn twice", a.i)
			}
			first[a.i] = a.res
		}
	}
	if len(first) != spins {
		t.Fatalf("%d spins drawn, want %d", len(first), spins)
	}
	for i, rs := range all {
		for _, r := range rs {
			r.Duplicate = false
			if r != first[i] {
				t.Fatalf("spin %d: a delivery was told %+v, the first %+v", i, r, first[i])
			}
		}
	}

	// Stock and limits.
	won := map[string]int64{}
	drawnOut := map[string]int{}
	counted := map[string]int{}  // spins that counted towards the limit, per person
	attempts := map[string]int{} // spins asked for, per person
	for i, r := range first {
		attempts[who[i]]++
		if r.Reason != wheel.ReasonLimitReached {
			counted[who[i]]++
		}
		if r.Won {
			won[r.Prize]++
		}
		if r.Reason == wheel.ReasonInventoryOut {
			drawnOut[r.Prize]++
		}
	}
	for _, e := range table.Entries {
		if e.NoPrize() {
			continue
		}
		if won[e.Code] > e.Inventory {
			t.Errorf("prize %s: %d won, stock was %d", e.Code, won[e.Code], e.Inventory)
		}
	}
	if won["cup"] != 10 {
		t.Errorf("cup: %d won; with ~120 draws of a stock of 10 it must be all gone", won["cup"])
	}
	for p, n := range counted {
		if want := min(attempts[p], limit); n != want {
			t.Errorf("%s: %d spins counted of %d asked, want %d", p, n, attempts[p], want)
		}
	}
	stock, err := w.Stock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stock {
		if s.Awarded != won[s.Code] || s.Left != s.Inventory-won[s.Code] {
			t.Errorf("stock %+v, but results say %d won", s, won[s.Code])
		}
		if got := testutil.ToFloat64(m.Stock.WithLabelValues(s.Code)); got != float64(s.Left) {
			t.Errorf("stock gauge of %s = %v, want %d", s.Code, got, s.Left)
		}
	}

	// The audit log: one record per spin, each matching its result.
	recs := records(t, w)
	if len(recs) != spins {
		t.Fatalf("%d audit records, want %d", len(recs), spins)
	}
	bySpin := map[string]wheel.Record{}
	for _, rec := range recs {
		if _, dup := bySpin[rec.Device+"/"+rec.Spin]; dup {
			t.Fatalf("two audit records for spin %s", rec.Spin)
		}
		bySpin[rec.Device+"/"+rec.Spin] = rec
	}
	for i, r := range first {
		checkMatches(t, r, bySpin[reqs[i].Device+"/"+reqs[i].Spin])
	}
	var total float64
	for _, r := range append([]string{"won"}, firmware.WheelReasons()...) {
		total += testutil.ToFloat64(m.Spins.WithLabelValues(r))
	}
	if total != spins || testutil.ToFloat64(m.Redelivered) != 2*redeliver {
		t.Errorf("metrics: %v spins, %v redelivered; want %d, %d", total, testutil.ToFloat64(m.Redelivered), spins, 2*redeliver)
	}

	// A redelivery after the rush: the recorded result, no new record.
	again, err := w.Spin(ctx, reqs[spins-1])
	if err != nil || !again.Duplicate || again.Seq != first[spins-1].Seq {
		t.Fatalf("redelivery: %+v, %v; want the recorded result", again, err)
	}
	if n := len(records(t, w)); n != spins {
		t.Fatalf("a redelivery added a record: %d", n)
	}
	var buf bytes.Buffer
	if _, err := w.Export(ctx, &buf, time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	sum, err := wheel.Verify(bytes.NewReader(buf.Bytes()))
	_, head, _ := w.Head(ctx)
	if err != nil || sum.Records != spins || sum.Head != head {
		t.Fatalf("Verify = %+v, %v; head %s", sum, err, head)
	}
	tampered := strings.Replace(buf.String(), ",cup,,", ",cash-8,,", 1)
	if _, err := wheel.Verify(strings.NewReader(tampered)); !errors.Is(err, wheel.ErrTampered) {
		t.Fatalf("Verify of a tampered export: %v, want ErrTampered", err)
	}
}

// TestSpin_Restart: stock, limits, results and the chain survive closing
// and reopening wheel.db.
func TestSpin_Restart(t *testing.T) {
	table := mustTable(t, campaign+"spins_per_day,2\n", "B001,cup,保温杯,,1000000,3,,\nB001,,谢谢参与,,rest,,,\n")
	path := filepath.Join(t.TempDir(), "wheel.db")
	ctx := context.Background()
	w, err := wheel.Open(path, table, wheel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r1, err1 := w.Spin(ctx, req(1, "c1"))
	r2, err2 := w.Spin(ctx, req(2, "c1"))
	if err1 != nil || err2 != nil || !r1.Won || !r2.Won {
		t.Fatalf("before: %+v %v, %+v %v", r1, err1, r2, err2)
	}
	seq, head, _ := w.Head(ctx)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	w, err = wheel.Open(path, table, wheel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if s2, h2, _ := w.Head(ctx); s2 != seq || h2 != head {
		t.Fatalf("head after reopening %d %s, want %d %s", s2, h2, seq, head)
	}
	stock, _ := w.Stock(ctx)
	if len(stock) != 1 || stock[0].Left != 1 {
		t.Fatalf("stock after reopening %+v, want 1 cup left", stock)
	}
	if res, err := w.Spin(ctx, req(3, "c1")); err != nil || res.Reason != wheel.ReasonLimitReached {
		t.Fatalf("third spin of c1 after reopening: %+v, %v; want limit_reached", res, err)
	}
	if res, err := w.Spin(ctx, req(1, "c1")); err != nil || !res.Duplicate || res.Seq != r1.Seq || res.Prize != "cup" {
		t.Fatalf("redelivered spin 1 after reopening: %+v, %v; want the recorded result", res, err)
	}
	if res, err := w.Lookup(ctx, "wh-01", "spin-2"); err != nil || res.Seq != r2.Seq || res.InventoryAfter != 1 {
		t.Fatalf("Lookup spin 2: %+v, %v", res, err)
	}
	r4, _ := w.Spin(ctx, req(4, "c2"))
	r5, _ := w.Spin(ctx, req(5, "c2"))
	if !r4.Won || r4.InventoryAfter != 0 || r5.Reason != wheel.ReasonInventoryOut {
		t.Fatalf("after reopening: %+v, %+v; want the last cup, then inventory_out", r4, r5)
	}
	var buf bytes.Buffer
	if _, err := w.Export(ctx, &buf, time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if sum, err := wheel.Verify(&buf); err != nil || sum.Records != 5 || sum.FirstPrev != wheel.Genesis {
		t.Fatalf("Verify across the restart: %+v, %v", sum, err)
	}
}

func TestOpen_ErrLocked(t *testing.T) {
	_, path := mustOpen(t, nil, wheel.Options{})
	if _, err := wheel.Open(path, nil, wheel.Options{Timeout: 50 * time.Millisecond}); !errors.Is(err, wheel.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

// TestSetTable: a new table of the same campaign keeps what was awarded
// (a higher inventory tops up the stock); a new campaign starts afresh.
func TestSetTable(t *testing.T) {
	rows := func(inv int) string {
		return fmt.Sprintf("B001,cup,保温杯,,1000000,%d,,\nB001,,谢谢参与,,rest,,,\n", inv)
	}
	w, _ := mustOpen(t, mustTable(t, campaign+"spins_per_day,10\n", rows(1)), wheel.Options{})
	ctx := context.Background()
	spin := func(n int) wheel.Result {
		t.Helper()
		res, err := w.Spin(ctx, req(n, "c1"))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if r := spin(1); !r.Won {
		t.Fatalf("%+v", r)
	}
	if r := spin(2); r.Reason != wheel.ReasonInventoryOut {
		t.Fatalf("%+v, want inventory_out", r)
	}
	if err := w.SetTable(mustTable(t, campaign+"spins_per_day,10\n", rows(2))); err != nil {
		t.Fatal(err)
	}
	if r := spin(3); !r.Won || r.InventoryAfter != 0 {
		t.Fatalf("after topping up to 2: %+v, want the second cup", r)
	}
	if err := w.SetTable(mustTable(t, "campaign,c2\nstarts,2026-11-01\nends,2026-12-31\nspins_per_day,10\n", rows(1))); err != nil {
		t.Fatal(err)
	}
	if r := spin(4); !r.Won {
		t.Fatalf("new campaign: %+v, want a cup", r)
	}
	if err := w.SetTable(&wheel.PrizeTable{Branch: "B001"}); !errors.Is(err, wheel.ErrInvalid) {
		t.Fatalf("SetTable of an invalid table: %v, want ErrInvalid", err)
	}
	if err := w.SetTable(nil); err != nil {
		t.Fatal(err)
	}
	if r := spin(5); r.Reason != wheel.ReasonCampaignClosed {
		t.Fatalf("without a table: %+v, want campaign_closed", r)
	}
	recs := records(t, w)
	if recs[0].Campaign != "c1" || recs[3].Campaign != "c2" || recs[0].Table == recs[2].Table || recs[4].Table != "" {
		t.Fatalf("records do not name their campaign and table: %+v", recs)
	}
}

// TestSpin_Odds runs the goodness-of-fit test of TestDrawOdds (α = 10⁻⁶:
// a correct wheel fails once in a million runs) through the whole engine:
// 600 spins by 600 customers, unlimited stock, prizes of 20 % and
// 30 %. It also redoes every record's mapping from draw to row, as an
// auditor would.
func TestSpin_Odds(t *testing.T) {
	const n = 600
	table := mustTable(t, campaign, "B001,cup,保温杯,,200000,unlimited,,\nB001,,谢谢参与,,rest,,,\nB001,pen,笔,,300000,unlimited,,\n")
	w, _ := mustOpen(t, table, wheel.Options{})
	ctx := context.Background()
	idx := map[string]int{"cup": 0, "": 1, "pen": 2}
	obs := make([]int, 3)
	for i := range n {
		res, err := w.Spin(ctx, req(i, fmt.Sprintf("C%05d", i)))
		if err != nil {
			t.Fatal(err)
		}
		obs[idx[res.Prize]]++
	}
	ws := []uint64{table.Entries[0].Weight, table.Entries[1].Weight, table.Entries[2].Weight}
	stat, p := wheel.ChiSquare(obs, ws)
	t.Logf("counts %v, χ²=%.2f, p=%.3g", obs, stat, p)
	if p < 1e-6 {
		t.Fatalf("the wheel does not follow the table: χ²=%.2f, p=%.3g", stat, p)
	}
	for _, rec := range records(t, w) {
		if rec.Draw < 0 || rec.Drawn != table.Entries[wheel.Pick(ws, uint64(rec.Draw))].Code {
			t.Fatalf("record %d: draw %d landed on %q, the table says %q", rec.Seq, rec.Draw, rec.Drawn, table.Entries[wheel.Pick(ws, uint64(rec.Draw))].Code)
		}
	}
}

func TestAudit_Verify(t *testing.T) {
	table := mustTable(t, campaign+"spins_per_day,5\nunknown_customers,allow\n", "B001,cup,保温杯,,300000,3,,\nB001,,谢谢参与,,rest,,,\n")
	w, _ := mustOpen(t, table, wheel.Options{})
	ctx := context.Background()
	for i := range 8 {
		r := req(i, "C0001")
		r.At = t0.Add(time.Duration(i) * time.Hour)
		if i%3 == 0 {
			r.Customer, r.Subject = "", "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
		}
		if _, err := w.Spin(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if n, err := w.Export(ctx, &buf, time.Time{}, time.Time{}); err != nil || n != 8 {
		t.Fatalf("Export = %d, %v", n, err)
	}
	export := buf.String()
	if strings.Contains(export, "0a1b2c3d4e5f") {
		t.Fatal("the export holds an unknown customer's token")
	}
	lines := strings.Split(strings.TrimSuffix(export, "\n"), "\n")
	if lines[0] != wheel.AuditHeader || len(lines) != 9 {
		t.Fatalf("export:\n%s", export)
	}
	// Every hash can be checked by hand: SHA-256 of the first 14 fields
	// joined with "|" (the package documentation's line of Python).
	f := strings.Split(lines[1], ",")
	if got := sha256Hex(strings.Join(f[:14], "|")); got != f[14] || f[13] != wheel.Genesis {
		t.Fatalf("record 1: hash %s, recomputed %s, prev %s", f[14], got, f[13])
	}

	t.Run("OK", func(t *testing.T) {
		sum, err := wheel.Verify(strings.NewReader(export))
		_, head, _ := w.Head(ctx)
		if err != nil || sum.Records != 8 || sum.FirstSeq != 1 || sum.LastSeq != 8 || sum.Head != head || sum.FirstPrev != wheel.Genesis {
			t.Fatalf("Verify = %+v, %v", sum, err)
		}
	})
	t.Run("TimeRange", func(t *testing.T) {
		var part bytes.Buffer
		n, err := w.Export(ctx, &part, t0.Add(2*time.Hour), t0.Add(5*time.Hour))
		if err != nil || n != 3 {
			t.Fatalf("Export of hours 2–4 = %d, %v; want 3", n, err)
		}
		sum, err := wheel.Verify(&part)
		if err != nil || sum.FirstSeq != 3 || sum.LastSeq != 5 {
			t.Fatalf("Verify of a part = %+v, %v", sum, err)
		}
		before := strings.Split(lines[2], ",")[14] // record 2's hash
		if sum.FirstPrev != before {
			t.Fatalf("the part chains to %s, want record 2's hash %s", sum.FirstPrev, before)
		}
		var none bytes.Buffer
		if n, err := w.Export(ctx, &none, t0.Add(100*time.Hour), time.Time{}); err != nil || n != 0 {
			t.Fatalf("empty export = %d, %v", n, err)
		}
		if sum, err := wheel.Verify(&none); err != nil || sum.Records != 0 {
			t.Fatalf("Verify of an empty export = %+v, %v", sum, err)
		}
	})
	edit := func(line, field int, value string) string {
		ls := append([]string(nil), lines...)
		f := strings.Split(ls[line], ",")
		if f[field] == value {
			value += "0" // still a change
		}
		f[field] = value
		ls[line] = strings.Join(f, ",")
		return strings.Join(ls, "\n") + "\n"
	}
	drop := func(line int) string {
		ls := append(append([]string(nil), lines[:line]...), lines[line+1:]...)
		return strings.Join(ls, "\n") + "\n"
	}
	// rehash makes a forger's edit consistent within the record: it then
	// fails on the next record's prev.
	rehash := func(line, field int, value string) string {
		ls := append([]string(nil), lines...)
		f := strings.Split(ls[line], ",")
		f[field] = value
		f[14] = sha256Hex(strings.Join(f[:14], "|"))
		ls[line] = strings.Join(f, ",")
		return strings.Join(ls, "\n") + "\n"
	}
	for _, tt := range []struct {
		name, export string
	}{
		{"EditedPrize", edit(3, 10, "cup")},
		{"EditedReason", edit(3, 11, "limit_reached")},
		{"EditedTime", edit(4, 1, "2026-11-23T11:00:00.001+08:00")},
		{"EditedStock", edit(2, 12, "9")},
		{"EditedWho", edit(2, 5, "C0002")},
		{"RehashedRecord", rehash(3, 5, "C0002")},
		{"DeletedRecord", drop(4)},
		{"SwappedRecords", strings.Join(append(append([]string{lines[0], lines[2], lines[1]}, lines[3:]...), ""), "\n")},
		{"BadHeader", strings.Replace(export, "seq,at", "seq,time", 1)},
		{"TokenAsWho", rehash(8, 5, strings.Repeat("ab", 32))},
		{"ExtraField", strings.Replace(export, "\n", ",x\n", 2)},
		{"Empty", ""},
	} {
		t.Run("Err"+tt.name, func(t *testing.T) {
			_, err := wheel.Verify(strings.NewReader(tt.export))
			var ve *wheel.VerifyError
			if !errors.Is(err, wheel.ErrTampered) || !errors.As(err, &ve) {
				t.Fatalf("Verify = %v, want ErrTampered", err)
			}
		})
	}
	t.Run("DeletedFirstRecordShowsInFirstSeq", func(t *testing.T) {
		// Without record 1 the export reads as one that starts later: the
		// auditor who asked for everything sees it does not start at 1.
		sum, err := wheel.Verify(strings.NewReader(drop(1)))
		if err != nil || sum.FirstSeq != 2 || sum.FirstPrev == wheel.Genesis {
			t.Fatalf("Verify of an export without record 1: %+v, %v", sum, err)
		}
	})
	t.Run("TruncatedTailShowsInHead", func(t *testing.T) {
		sum, err := wheel.Verify(strings.NewReader(drop(8)))
		_, head, _ := w.Head(ctx)
		if err != nil || sum.Head == head {
			t.Fatalf("Verify of an export without its last record: %+v, %v; its head must differ from the wheel's", sum, err)
		}
	})
}

// TestResult_Payload: what the node will publish passes the wheel result
// schema and decodes to the result.
func TestResult_Payload(t *testing.T) {
	table := mustTable(t, campaign+"spins_per_day,2\n", "B001,cup,保温杯,Thermos cup,1000000,1,,\nB001,,谢谢参与,Thanks for playing,rest,,,\n")
	w, _ := mustOpen(t, table, wheel.Options{})
	sch := wheelSchema(t)
	ctx := context.Background()
	for i, want := range []firmware.WheelResult{
		{Prize: "cup", PrizeName: "保温杯", PrizeNameEN: "Thermos cup"},
		{PrizeName: "谢谢参与", PrizeNameEN: "Thanks for playing", Reason: firmware.WheelInventoryOut},
		{PrizeName: "谢谢参与", PrizeNameEN: "Thanks for playing", Reason: firmware.WheelLimitReached},
	} {
		res, err := w.Spin(ctx, req(i, "c1"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := res.Payload()
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		got, err := firmware.DecodeWheelResult(b)
		want.V, want.ID, want.Spin, want.TS = 1, res.Event, res.Spin, "2026-11-23T10:00:00.000+08:00"
		if err != nil || got != want {
			t.Fatalf("payload %s decodes to %+v, %v; want %+v", b, got, err, want)
		}
	}
}

func wheelSchema(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	b, err := firmware.Schemas.ReadFile("schema/wheel-result.schema.json")
	if err != nil {
		tb.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	url := firmware.SchemaBaseURL + "wheel-result.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		tb.Fatal(err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		tb.Fatal(err)
	}
	return sch
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func cryptoRand() io.Reader { return rand.Reader }

// BenchmarkSpin is one spin on the arrival path: the rules, the draw, the
// audit record and the commit of wheel.db with its fsync, a new customer
// each time (so every spin is drawn and recorded, none refused for a
// limit), a prize that is won one time in ten out of an ample stock.
//
//	go test -run '^$' -bench Spin -benchmem ./edge/wheel/
func BenchmarkSpin(b *testing.B) {
	w, _ := mustOpen(b, mustTable(b, campaign+"spins_per_day,1000\n",
		"B001,cup,保温杯,Thermos cup,100000,unlimited,,\nB001,,谢谢参与,,rest,,,\n"), wheel.Options{})
	ctx := context.Background()
	i := 0
	for b.Loop() {
		i++
		if _, err := w.Spin(ctx, req(i, fmt.Sprintf("c%d", i))); err != nil {
			b.Fatal(err)
		}
	}
}
