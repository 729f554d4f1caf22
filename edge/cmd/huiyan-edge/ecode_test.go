package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/ecode"
	"huiyan/edge/ecode/ecodetest"
	firmware "huiyan/firmware-contracts"
	"huiyan/firmware-contracts/devsim"
)

// testECodeKey is the e-code key of the test edges (the bytes 0x20 …
// 0x3f), so that test devices can show the codes a display would.
func testECodeKey() ecode.Key {
	var k ecode.Key
	for i := range k {
		k[i] = byte(0x20 + i)
	}
	return k
}

// writeTestECodeKey puts the test key where an edge on dir looks for its
// own (unless one is there: a restarted edge keeps its key).
func writeTestECodeKey(tb testing.TB, dir string) {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, ecodeKeyFile)
	if _, err := os.Stat(path); err == nil {
		return
	}
	text, _ := testECodeKey().MarshalText()
	if err := os.WriteFile(path, append(text, '\n'), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// testCode is the code of subject under the test key, as the display (or
// staff PAD) shows it at.
func testCode(tb testing.TB, kind ecode.Kind, subject string, at time.Time) string {
	tb.Helper()
	is, err := ecode.NewIssuer(ecode.Config{Branch: testBranch, Key: testECodeKey(), Displays: []string{subject}})
	if err != nil {
		tb.Fatal(err)
	}
	c, err := is.Issue(kind, subject, at)
	if err != nil {
		tb.Fatal(err)
	}
	return c.Content
}

// scan publishes an e-code scan of code and returns its event id.
func (d *device) scan(code string, idents ...huiyan.Ident) string {
	d.tb.Helper()
	d.n++
	a := huiyan.Arrival{EventID: fmt.Sprintf("%s-%06d", d.id, d.n), Branch: testBranch, Device: d.id,
		Channel: huiyan.ChannelECode, At: time.Now(), Idents: idents, Code: code}
	d.publishRaw(mustTopic(d.tb, huiyan.ChannelECode, d.id), firmware.EncodeArrival(a))
	return a.EventID
}

// decodeQR reads the QR code of a PNG the edge serves with a real
// decoder, ZXing's Go port.
func decodeQR(tb testing.TB, b []byte) string {
	tb.Helper()
	text, err := ecodetest.DecodePNG(b)
	if err != nil {
		tb.Fatalf("decode qr: %v", err)
	}
	return text
}

// storedVisit reads a visit from the edge's bbolt file.
func storedVisit(tb testing.TB, m *Main, id string) *huiyan.Visit {
	tb.Helper()
	var v *huiyan.Visit
	if err := m.DB.View(context.Background(), func(tx edge.Tx) error {
		var err error
		v, err = tx.Visit(id)
		return err
	}); err != nil {
		tb.Fatalf("visit %s: %v", id, err)
	}
	return v
}

// metric returns the value of one series of the edge's /metrics, 0 when
// absent.
func metric(tb testing.TB, base, series string) float64 {
	tb.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err != nil {
				tb.Fatalf("metric %s: %q", series, line)
			}
			return v
		}
	}
	return 0
}

// TestECode is issue 7's "done when" for the edge, with real parts (the
// embedded broker, paho devices, bbolt, a PAD on a websocket): a fresh
// branch code converts a registered customer, an expired or forged one
// is recorded as not present and converts nothing, and a staff member's
// code, fetched from /pad/mycode and decoded from its QR PNG, credits
// them.
func TestECode(t *testing.T) {
	ds := mustDataSet(t)
	m := mustRunMain(t, ds.Dir, "")
	base := "http://" + m.HTTPAddr()
	counter := newDevice(t, m.BrokerURL(), "sc-02")
	display := newDevice(t, m.BrokerURL(), "ecode-01")
	lobby, _ := dialPAD(t, m, "lobby-B001")
	const wait = 10 * time.Second
	registered := func() *huiyan.Customer {
		return ds.find(t, "registered, with ID card and mobile-banking tokens", func(c *huiyan.Customer) bool {
			return c.MBankStatus == huiyan.MBankRegistered && token(c, huiyan.IdentIDCard) != "" && token(c, huiyan.IdentMBank) != ""
		})
	}
	// atCounter opens a visit for c and returns its id.
	atCounter := func(c *huiyan.Customer) string {
		id := counter.arrive(huiyan.ChannelCounter, ident(huiyan.IdentIDCard, token(c, huiyan.IdentIDCard)))
		return lobby.next(arrivalOf(id), wait).Visit.ID
	}
	mbank := func(c *huiyan.Customer) huiyan.Ident { return ident(huiyan.IdentMBank, token(c, huiyan.IdentMBank)) }

	t.Run("FreshBranchCodeConverts", func(t *testing.T) {
		c := registered()
		v := atCounter(c)
		id := display.scan(testCode(t, ecode.KindBranch, "ecode-01", time.Now()), mbank(c))
		got := lobby.next(arrivalOf(id), wait).Visit
		if got.ID != v || got.Converted != huiyan.ConversionActivated {
			t.Fatalf("visit %s converted=%q, want %s activated", got.ID, got.Converted, v)
		}
		if s := storedVisit(t, m, v); s.AttributedTo != "" || s.Touchpoints[1].Refused != "" {
			t.Fatalf("stored: attributed %q, refused %q; want the branch's, counted", s.AttributedTo, s.Touchpoints[1].Refused)
		}
	})

	t.Run("ExpiredAndForgedAreNotPresent", func(t *testing.T) {
		c := registered()
		v := atCounter(c)
		photo := testCode(t, ecode.KindBranch, "ecode-01", time.Now().Add(-5*time.Minute)) // photographed, scanned later
		fresh := testCode(t, ecode.KindBranch, "ecode-01", time.Now())
		forged := fresh[:len(fresh)-6] + "AAAAAA"
		for _, code := range []string{photo, forged} {
			id := display.scan(code, mbank(c))
			got := lobby.next(arrivalOf(id), wait).Visit
			if got.ID != v || got.Converted != huiyan.ConversionNone {
				t.Fatalf("visit %s converted=%q after a refused scan, want %s not converted", got.ID, got.Converted, v)
			}
		}
		s := storedVisit(t, m, v)
		if len(s.Touchpoints) != 3 || s.Touchpoints[1].Refused != "expired" || s.Touchpoints[2].Refused != "forged" || s.Converted != "" {
			t.Fatalf("stored touchpoints %+v converted %q, want counter, expired, forged and no conversion", s.Touchpoints, s.Converted)
		}
		if edge.PresentScan(s) {
			t.Fatal("a visit with only refused scans counts as scanned: the wheel would spin")
		}
		// The customer, really there, scans the display now.
		id := display.scan(fresh, mbank(c))
		if got := lobby.next(arrivalOf(id), wait).Visit; got.Converted != huiyan.ConversionActivated {
			t.Fatalf("fresh scan after refused ones: converted=%q, want activated", got.Converted)
		}
	})

	t.Run("StaffCodeAttributes", func(t *testing.T) {
		c := registered()
		v := atCounter(c)
		cookie := login(t, base, "wealth-B001")
		get := func(path string) []byte {
			req, _ := http.NewRequest(http.MethodGet, base+path, nil)
			req.AddCookie(cookie)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %s %s", path, resp.Status, b)
			}
			return b
		}
		var mine ecode.CodeInfo
		if err := json.Unmarshal(get("/pad/mycode"), &mine); err != nil {
			t.Fatal(err)
		}
		content := decodeQR(t, get(mine.QR))
		if mine.Staff != "wealth-B001" || content != mine.Content {
			t.Fatalf("mycode=%+v, QR holds %q", mine, content)
		}
		id := display.scan(content, mbank(c))
		if got := lobby.next(arrivalOf(id), wait).Visit; got.ID != v || got.Converted != huiyan.ConversionActivated {
			t.Fatalf("visit %s converted=%q, want %s activated", got.ID, got.Converted, v)
		}
		if s := storedVisit(t, m, v); s.AttributedTo != "wealth-B001" {
			t.Fatalf("attributed to %q, want wealth-B001", s.AttributedTo)
		}
		// Without a session there is no code.
		resp, err := http.Get(base + "/pad/mycode")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("mycode without a session: %s, want 401", resp.Status)
		}
	})

	t.Run("Metrics", func(t *testing.T) {
		for series, want := range map[string]float64{
			`huiyan_edge_ecode_scans_total{verdict="ok"}`:                                     3,
			`huiyan_edge_ecode_scans_total{verdict="expired"}`:                                1,
			`huiyan_edge_ecode_scans_total{verdict="forged"}`:                                 1,
			`huiyan_edge_conversions_total{conversion="activated"}`:                           3,
			`huiyan_edge_staff_conversions_total{conversion="activated",staff="wealth-B001"}`: 1,
		} {
			if got := metric(t, base, series); got != want {
				t.Errorf("%s = %v, want %v", series, got, want)
			}
		}
	})

	t.Run("ErrUnknownDisplay", func(t *testing.T) {
		resp, err := http.Get(base + "/ecode/ecode-77")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s, want 404", resp.Status)
		}
	})
}

// TestECode_KeyMadeAtFirstStart: with no ecode_key the edge makes its key
// in the data dir (0600), logs the file but not the key, and keeps it
// across a restart, so that a code shown before the restart still counts.
func TestECode_KeyMadeAtFirstStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "edge")
	var mu sync.Mutex
	var logs bytes.Buffer
	logText := func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	run := func() *Main {
		m := NewMain()
		m.Logger = slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
		m.Config.DataDir, m.Config.HTTP, m.Config.MQTT.Listen = dir, "127.0.0.1:0", "127.0.0.1:0"
		if err := m.Run(context.Background()); err != nil {
			m.Close()
			t.Fatal(err)
		}
		return m
	}
	m := run()
	path := filepath.Join(dir, ecodeKeyFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if _, err := ecode.ParseKey(b); err != nil {
		t.Fatal(err)
	}
	if log := logText(); !strings.Contains(log, path) || strings.Contains(log, strings.TrimSpace(string(b))) {
		t.Fatalf("log must name %s and not hold the key:\n%s", path, log)
	}
	shown, err := m.ECode.Issue(ecode.KindBranch, "ecode-01", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	m = run()
	defer m.Close()
	if r := m.ECode.Verify(shown.Text, time.Now(), nil); r.Verdict != ecode.OK {
		t.Fatalf("a code shown before the restart: %s, want ok", r.Verdict)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, b) {
		t.Fatal("the key changed at the restart")
	}
}

func TestConfig_ECode(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, wantErr string
	}{
		{"Defaults", "", ""},
		{"OK", "ecode_key: /etc/huiyan/ecode.key\necode_period: 30s\necode_displays: [lobby-wall, counter-3]\necode_url: https://mbank.example.invalid/e?c=\n", ""},
		{"ErrPeriodShort", "ecode_period: 5s\n", "ecode_period"},
		{"ErrPeriodFraction", "ecode_period: 10500ms\n", "ecode_period"},
		{"ErrPeriodLong", "ecode_period: 2h\n", "ecode_period"},
		{"ErrDisplay", "ecode_displays: [\"lobby wall\"]\n", "ecode_displays[0]"},
		{"ErrDisplayTwice", "ecode_displays: [a, b, a]\n", "ecode_displays[2]"},
		{"ErrURL", "ecode_url: mbank://x\n", "ecode_url"},
		{"ErrURLWithCode", "ecode_url: https://x.invalid/HY1.\n", "ecode_url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			if err := ParseConfig(strings.NewReader(tc.yaml), &c); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("err=%v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Fatalf("err=%v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}

// TestECode_Devsim: huiyan-devsim run -edge plays the branch's e-codes
// against a real edge: every scan carries a code the edge accepts (the
// display's or a logged-in staff member's), and staff codes credit
// conversions to staff.
func TestECode_Devsim(t *testing.T) {
	src := filepath.Join(t.TempDir(), "hq")
	if _, err := devsim.Gen(context.Background(), devsim.GenConfig{Customers: 300, Branches: 1, Seed: 9}, src); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "edge")
	var out, errb bytes.Buffer
	if err := runImport(context.Background(), []string{"-data", dir, "-branch", testBranch,
		filepath.Join(src, "tags.csv"), filepath.Join(src, "staff.csv")}, &out, &errb); err != nil {
		t.Fatalf("import: %v\n%s", err, errb.String())
	}
	m := mustRunMain(t, dir, "")
	base := "http://" + m.HTTPAddr()
	cfg := devsim.DefaultSimConfig()
	cfg.DataDir, cfg.Broker, cfg.Branch, cfg.Edge = src, m.BrokerURL(), testBranch, base
	cfg.Rate, cfg.Count, cfg.Seed = 300, 150, 3
	cfg.FollowUpShare, cfg.FollowUpDelay, cfg.StaffShare = 1, 5*time.Millisecond, 0.5
	sim, err := devsim.NewSim(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := sim.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.ECode < 20 || st.StaffCodes == 0 || st.StaffCodes == st.ECode {
		t.Fatalf("stats %+v: want e-code scans of both the display and staff", st)
	}
	// The embedded broker acknowledges an arrival once it is committed:
	// every scan is counted by now.
	if got := metric(t, base, `huiyan_edge_ecode_scans_total{verdict="ok"}`); got != float64(st.ECode) {
		t.Fatalf("ok scans %v, want all %d the simulator sent", got, st.ECode)
	}
	var credited float64
	for _, s := range []string{"lobby-", "wealth-", "account-"} {
		for _, conv := range []string{"activated", "new_user"} {
			credited += metric(t, base, `huiyan_edge_staff_conversions_total{conversion="`+conv+`",staff="`+s+testBranch+`"}`)
		}
	}
	if credited == 0 {
		t.Fatal("no conversion credited to the staff whose codes were scanned")
	}
}
