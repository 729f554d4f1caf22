package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"huiyan"
	"huiyan/edge/wheel"
	firmware "huiyan/firmware-contracts"
	"huiyan/hub/funnel"
	pad "huiyan/pad-api"
)

// writePrizes writes a prizes.csv for the test branch whose campaign runs
// from yesterday to a month from now (CST), one spin a customer a day, and
// a thermos cup that is always drawn (weight = the scale) with a stock of
// 10, so that every allowed spin wins and the outcome is known.
func writePrizes(tb testing.TB) string {
	tb.Helper()
	awayFromCSTMidnight(tb)
	today := time.Now().In(funnel.CST)
	body := fmt.Sprintf("# test campaign\ncampaign,test-c1\nstarts,%s\nends,%s\nspins_per_day,1\nunknown_customers,deny\n%s\n"+
		"%s,cup,保温杯,Thermos cup,1000000,10,,\n%s,,谢谢参与,Thanks for playing,rest,unlimited,,\n",
		today.AddDate(0, 0, -1).Format(time.DateOnly), today.AddDate(0, 1, 0).Format(time.DateOnly),
		wheel.Header, testBranch, testBranch)
	path := filepath.Join(tb.TempDir(), "prizes.csv")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// awayFromCSTMidnight waits, when the next midnight in China is less than
// two minutes away, until it has passed: the wheel counts a customer's
// spins per CST day, and a test that crossed midnight would see its
// customers' limits reset halfway.
func awayFromCSTMidnight(tb testing.TB) {
	tb.Helper()
	now := time.Now().In(funnel.CST)
	y, m, d := now.Date()
	if left := time.Date(y, m, d+1, 0, 0, 0, 0, funnel.CST).Sub(now); left < 2*time.Minute {
		tb.Logf("waiting %s for midnight CST to pass: the wheel's daily limits reset then", left.Round(time.Second))
		time.Sleep(left + time.Second)
	}
}

// mustRunWheelEdge runs an edge with the embedded broker on dir and the
// prize table at prizes ("" for none).
func mustRunWheelEdge(tb testing.TB, dir, prizes string) *Main {
	tb.Helper()
	m := NewMain()
	m.Logger = testLogger(tb)
	m.Config.DataDir, m.Config.HTTP, m.Config.MQTT.Listen = dir, "127.0.0.1:0", "127.0.0.1:0"
	m.Config.WheelPrizes = prizes
	writeTestECodeKey(tb, dir)
	if err := m.Config.Validate(); err != nil {
		tb.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		tb.Fatalf("run edge: %v", err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// wheelDevice is a prize wheel: a device that also listens on its result
// topic, as wheel firmware does.
type wheelDevice struct {
	*device
	results chan firmware.WheelResult
}

func newWheelDevice(tb testing.TB, brokerURL, id string) *wheelDevice {
	tb.Helper()
	w := &wheelDevice{device: newDevice(tb, brokerURL, id), results: make(chan firmware.WheelResult, 64)}
	topic, err := firmware.WheelResultTopic(testBranch, id)
	if err != nil {
		tb.Fatal(err)
	}
	if tok := w.client.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) {
		r, err := firmware.DecodeWheelResult(m.Payload())
		if err != nil {
			tb.Errorf("wheel %s: bad result %q: %v", id, m.Payload(), err)
			return
		}
		w.results <- r
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		tb.Fatalf("wheel %s subscribe: %v", id, tok.Error())
	}
	return w
}

// spin publishes a spin by the holder of the mbank token and returns its
// payload, so that a test can deliver it again.
func (w *wheelDevice) spin(mbank string) (huiyan.Arrival, []byte) {
	w.tb.Helper()
	w.n++
	a := huiyan.Arrival{EventID: fmt.Sprintf("%s-%06d", w.id, w.n), Branch: testBranch, Device: w.id,
		Channel: huiyan.ChannelWheel, At: time.Now(), Idents: []huiyan.Ident{ident(huiyan.IdentMBank, mbank)},
		Spin: fmt.Sprintf("s%d-%d", time.Now().UnixNano(), w.n)}
	b := firmware.EncodeArrival(a)
	w.publishRaw(mustTopic(w.tb, huiyan.ChannelWheel, w.id), b)
	return a, b
}

func (w *wheelDevice) result(d time.Duration) firmware.WheelResult {
	w.tb.Helper()
	select {
	case r := <-w.results:
		return r
	case <-time.After(d):
		w.tb.Fatalf("wheel %s: no result within %s", w.id, d)
	}
	return firmware.WheelResult{}
}

// getAudit fetches the audit export with cookie (nil: none).
func getAudit(tb testing.TB, base string, cookie *http.Cookie, query string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/pad/wheel/audit.csv"+query, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestWheel_Spin runs the prize wheel through a real edge: a wheel on the
// embedded broker spins for a known customer, gets the result on its
// result topic, the PAD gets the card, a redelivery gets the same result
// and no second record, the day's second spin is limit_reached, and the
// supervisor's audit export verifies.
func TestWheel_Spin(t *testing.T) {
	ds := mustDataSet(t)
	m := mustRunWheelEdge(t, ds.Dir, writePrizes(t))
	base := "http://" + m.HTTPAddr()
	lobby, _ := dialPAD(t, m, "lobby-B001")
	c := ds.find(t, "a customer with mobile banking", func(c *huiyan.Customer) bool { return token(c, huiyan.IdentMBank) != "" })
	wh := newWheelDevice(t, m.BrokerURL(), "wh-01")

	a, payload := wh.spin(token(c, huiyan.IdentMBank))
	r := wh.result(5 * time.Second)
	if r.ID != a.EventID || r.Spin != a.Spin || r.Prize != "cup" || r.PrizeName != "保温杯" || r.Reason != "" {
		t.Fatalf("result %+v, want the cup for spin %s (event %s)", r, a.Spin, a.EventID)
	}
	card := lobby.next(arrivalOf(a.EventID), 5*time.Second)
	if card.Type != pad.TypeArrival || card.Profile == nil || card.Profile.CustomerID != c.ID || card.Visit.Channel != huiyan.ChannelWheel {
		t.Fatalf("pad got %s, want the arrival card of customer %s on the wheel", card.Raw, c.ID)
	}

	t.Run("Redelivered", func(t *testing.T) {
		wh.publishRaw(mustTopic(t, huiyan.ChannelWheel, wh.id), payload)
		again := wh.result(5 * time.Second)
		if again != r {
			t.Fatalf("redelivered result %+v, want the recorded %+v", again, r)
		}
		if rej := wh.reject(5 * time.Second); rej.Code != firmware.EDuplicate || rej.ID != a.EventID {
			t.Fatalf("reject %+v, want duplicate for %s", rej, a.EventID)
		}
		if seq, _, err := m.Wheel.Head(context.Background()); err != nil || seq != 1 {
			t.Fatalf("audit head seq=%d (%v), want 1: a redelivery must not be recorded again", seq, err)
		}
	})

	t.Run("LimitReached", func(t *testing.T) {
		a2, _ := wh.spin(token(c, huiyan.IdentMBank))
		r2 := wh.result(5 * time.Second)
		if r2.Spin != a2.Spin || r2.Prize != "" || r2.Reason != firmware.WheelLimitReached {
			t.Fatalf("second spin of the day: %+v, want limit_reached for spin %s", r2, a2.Spin)
		}
	})

	t.Run("UnknownCustomer", func(t *testing.T) {
		a3, _ := wh.spin(strangerToken(t, 7))
		r3 := wh.result(5 * time.Second)
		if r3.Spin != a3.Spin || r3.Reason != firmware.WheelUnknownCustomer {
			t.Fatalf("spin of a new face: %+v, want unknown_customer (the table denies them)", r3)
		}
		lobby.next(arrivalOf(a3.EventID), 5*time.Second) // still a new-face card for the staff
	})

	t.Run("Audit", func(t *testing.T) {
		super := login(t, base, "supervisor-B001")
		today := time.Now().In(funnel.CST).Format(time.DateOnly)
		status, body := getAudit(t, base, super, "?from="+today+"&to="+today)
		if status != http.StatusOK {
			t.Fatalf("supervisor export: %d %s", status, body)
		}
		sum, err := wheel.Verify(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("verify: %v\n%s", err, body)
		}
		_, head, err := m.Wheel.Head(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if sum.Records != 3 || sum.FirstSeq != 1 || sum.FirstPrev != wheel.Genesis || sum.Head != head {
			t.Fatalf("export %+v, want the 3 spins from seq 1 up to head %s", sum, head)
		}
		rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		// seq,at,device,spin,event,who,…,prize(10),reason(11)
		want := [][]string{{a.Spin, c.ID, "cup", ""}, {"", c.ID, "", firmware.WheelLimitReached}}
		for i, w := range want {
			got := rows[i+1]
			if (w[0] != "" && got[3] != w[0]) || got[5] != w[1] || got[10] != w[2] || got[11] != w[3] {
				t.Fatalf("audit row %d = %v, want spin %q who %s prize %q reason %q", i+1, got, w[0], w[1], w[2], w[3])
			}
		}
		if who := rows[3][5]; len(who) != 34 || who[:2] != "u:" {
			t.Fatalf("new face's who = %q, want u: and a salted hash, never the token", who)
		}
		if bytes.Contains(body, []byte(strangerToken(t, 7))) || bytes.Contains(body, []byte(token(c, huiyan.IdentMBank))) {
			t.Fatal("the audit export contains a token")
		}

		// A window before the campaign has none of them, and still verifies.
		status, body = getAudit(t, base, super, "?to=2020-01-01")
		if sum, err := wheel.Verify(bytes.NewReader(body)); status != http.StatusOK || err != nil || sum.Records != 0 {
			t.Fatalf("empty window: %d %+v %v", status, sum, err)
		}
	})

	t.Run("AuditRefused", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			cookie *http.Cookie
			query  string
			status int
		}{
			{"Lobby", lobby.cookie, "", http.StatusForbidden},
			{"Wealth", login(t, base, "wealth-B001"), "", http.StatusForbidden},
			{"NoSession", nil, "", http.StatusUnauthorized},
			{"BadSession", &http.Cookie{Name: pad.CookieName, Value: "nope"}, "", http.StatusUnauthorized},
			{"BadFrom", login(t, base, "supervisor-B001"), "?from=yesterday", http.StatusBadRequest},
		} {
			t.Run(tc.name, func(t *testing.T) {
				status, body := getAudit(t, base, tc.cookie, tc.query)
				if status != tc.status || bytes.Contains(body, []byte(wheel.AuditHeader)) {
					t.Fatalf("status %d %s, want %d and no audit", status, body, tc.status)
				}
			})
		}
	})
}

// TestWheel_NoTable: without wheel_prizes the edge still answers every
// spin, campaign_closed, and records it.
func TestWheel_NoTable(t *testing.T) {
	m := mustRunWheelEdge(t, filepath.Join(t.TempDir(), "edge"), "")
	wh := newWheelDevice(t, m.BrokerURL(), "wh-02")
	a, _ := wh.spin(strangerToken(t, 8))
	if r := wh.result(5 * time.Second); r.Spin != a.Spin || r.Prize != "" || r.Reason != firmware.WheelCampaignClosed || r.PrizeName == "" {
		t.Fatalf("result %+v, want campaign_closed with the no-prize name", r)
	}
	if seq, _, err := m.Wheel.Head(context.Background()); err != nil || seq != 1 {
		t.Fatalf("audit head seq=%d (%v), want 1", seq, err)
	}
}

// TestWheel_BadPrizes: a prize file that does not parse, or has no table
// for the branch, stops the start with a usage error naming wheel_prizes.
func TestWheel_BadPrizes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	other := filepath.Join(dir, "other.csv")
	if err := os.WriteFile(bad, []byte("campaign,c1\nnonsense\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte("campaign,c1\nstarts,2026-11-01\nends,2026-12-31\n"+wheel.Header+"\nB999,,谢谢参与,,rest,,,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		want error
	}{
		{"Unparsable", bad, wheel.ErrInvalid},
		{"OtherBranch", other, wheel.ErrNoTable},
		{"Missing", filepath.Join(dir, "none.csv"), os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMain()
			m.Logger = testLogger(t)
			m.Config.DataDir, m.Config.HTTP, m.Config.MQTT.Listen = filepath.Join(t.TempDir(), "edge"), "127.0.0.1:0", "127.0.0.1:0"
			m.Config.WheelPrizes = tc.path
			err := m.Run(context.Background())
			m.Close()
			var u usageError
			if !errors.As(err, &u) || !errors.Is(err, tc.want) || exitCode(err) != 2 {
				t.Fatalf("run: %v, want a usage error wrapping %v", err, tc.want)
			}
		})
	}
}
