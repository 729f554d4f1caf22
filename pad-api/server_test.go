package pad_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"huiyan"
	pad "huiyan/pad-api"
)

func TestWSAuth(t *testing.T) {
	t.Run("ErrNoCookie", func(t *testing.T) {
		h := newHarness(t, pad.Options{})
		_, resp, err := h.dial(nil, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("dial: err=%v resp=%v, want 401", err, resp)
		}
		_, resp, err = h.dial(&http.Cookie{Name: pad.CookieName, Value: "forged"}, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("forged cookie: err=%v resp=%v, want 401", err, resp)
		}
	})

	t.Run("ErrBadOrigin", func(t *testing.T) {
		h := newHarness(t, pad.Options{})
		cookie := h.login("lobby-1")
		for _, origin := range []string{"https://evil.example", "null", "http://127.0.0.1.evil.example"} {
			_, resp, err := h.dial(cookie, http.Header{"Origin": {origin}})
			if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Errorf("origin %q: err=%v resp=%v, want 403", origin, err, resp)
			}
		}
		ws, _, err := h.dial(cookie, originHeader(h))
		if err != nil {
			t.Fatalf("same origin: %v", err)
		}
		ws.Close()
	})

	t.Run("ErrRevoked", func(t *testing.T) {
		h := newHarness(t, pad.Options{})
		pc, _ := h.connect("lobby-1")
		h.fake.mu.Lock()
		clear(h.fake.sessions) // ended elsewhere, not through this server
		h.fake.mu.Unlock()
		pc.send(pad.ClaimMsg{Type: pad.TypeClaim, Visit: "v-1"})
		var e pad.ErrorMsg
		pc.expect(pad.TypeError, &e)
		if e.Code != huiyan.EUnauthorized {
			t.Errorf("code=%q, want unauthorized", e.Code)
		}
		if err := pc.closed(); !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
			t.Errorf("close=%v, want 1008", err)
		}
	})

	t.Run("ErrExpired", func(t *testing.T) {
		h := newHarness(t, pad.Options{})
		pc, _ := h.connect("lobby-1")
		h.clock.Advance(pad.SessionTTL)
		pc.send(pad.PingMsg{Type: pad.TypePing})
		var e pad.ErrorMsg
		pc.expect(pad.TypeError, &e)
		if e.Code != huiyan.EUnauthorized {
			t.Errorf("code=%q, want unauthorized", e.Code)
		}
		if err := pc.closed(); !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
			t.Errorf("close=%v, want 1008", err)
		}
		poll(t, "connection gone", func() bool { return h.srv.Connections() == 0 })
	})
}

func TestHello(t *testing.T) {
	h := newHarness(t, pad.Options{})
	for i := range 7 {
		h.fake.append(deviceEvent(fmt.Sprintf("sc-%02d", i), huiyan.DeviceOnline, everyone))
	}
	pc, hello := h.connect("wealth-1")
	want := pad.Staff{ID: "wealth-1", Name: "张*", Role: huiyan.RoleWealth}
	if hello.Seq != 7 || hello.Staff != want || hello.Branch != "0101" {
		t.Errorf("hello=%+v, want seq 7, staff %+v, branch 0101", hello, want)
	}
	if hello.ServerTime != "2026-11-23T09:30:00.000+08:00" {
		t.Errorf("server_time=%q, want the clock with its offset", hello.ServerTime)
	}
	// Live messages follow without a request.
	h.fake.append(deviceEvent("sc-01", huiyan.DeviceOffline, everyone))
	var d pad.DeviceMsg
	pc.expect(pad.TypeDevice, &d)
	if d.Seq != 8 || d.Device != "sc-01" || d.Status != huiyan.DeviceOffline {
		t.Errorf("device=%+v, want seq 8 sc-01 offline", d)
	}
	if h.srv.Connections() != 1 {
		t.Errorf("connections=%d, want 1", h.srv.Connections())
	}
}

// TestHelloNoGap commits an event after the hello's seq was read but
// before the hello went out: it must follow the hello, not fall between.
func TestHelloNoGap(t *testing.T) {
	h := newHarness(t, pad.Options{})
	h.fake.append(deviceEvent("sc-01", huiyan.DeviceOnline, everyone))
	h.fake.mu.Lock()
	h.fake.afterNewest = func() { h.fake.append(deviceEvent("sc-02", huiyan.DeviceOnline, everyone)) }
	h.fake.mu.Unlock()
	pc, hello := h.connect("lobby-1")
	if hello.Seq != 1 {
		t.Fatalf("hello seq=%d, want 1", hello.Seq)
	}
	var d pad.DeviceMsg
	pc.expect(pad.TypeDevice, &d)
	if d.Seq != 2 || d.Device != "sc-02" {
		t.Errorf("after hello=%+v, want seq 2 sc-02", d)
	}
}

func TestPublishAudience(t *testing.T) {
	h := newHarness(t, pad.Options{})
	names := []string{"lobby-1", "wealth-1", "account-1", "account-2", "super-1"}
	pads := map[string]*padClient{}
	for _, n := range names {
		pads[n], _ = h.connect(n)
	}
	const manager = "account-1"
	// For the lobby and the customer's account manager by id.
	h.fake.append(arrivalEvent("v-1", manager, huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleLobby}, Staff: []string{manager}}))
	// For wealth managers only.
	h.fake.append(arrivalEvent("v-2", "account-2", huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleWealth}}))
	// A visit change for the lobby only.
	h.fake.append(huiyan.FeedEvent{Kind: huiyan.FeedVisit, Audience: lobbyOnly, Visit: &huiyan.Visit{ID: "v-1", ClaimedBy: "lobby-1"}})
	// The sentinel, for everyone: what comes before it is all a PAD got.
	last := h.fake.append(deviceEvent("sc-99", huiyan.DeviceOnline, everyone))

	want := map[string][]string{
		"lobby-1":   {"arrival v-1 false", "visit v-1", "device"},
		"wealth-1":  {"arrival v-2 false", "device"},
		"account-1": {"arrival v-1 true", "device"},
		"account-2": {"device"}, // v-2's manager, but not in its audience
		"super-1":   {"arrival v-1 false", "arrival v-2 false", "visit v-1", "device"},
	}
	for _, n := range names {
		var got []string
		for {
			data := pads[n].next()
			if bytes.Contains(data, []byte(manager)) && msgType(t, data) == pad.TypeArrival {
				t.Errorf("%s: the manager's id is on the wire: %s", n, data)
			}
			switch msgType(t, data) {
			case pad.TypeArrival:
				var a pad.ArrivalMsg
				json.Unmarshal(data, &a)
				got = append(got, fmt.Sprintf("arrival %s %v", a.Visit.ID, a.Profile.YourCustomer))
			case pad.TypeVisit:
				var v pad.VisitMsg
				json.Unmarshal(data, &v)
				got = append(got, "visit "+v.Visit.ID)
			default:
				got = append(got, msgType(t, data))
			}
			if seqOf(t, data) == last {
				break
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want[n]) {
			t.Errorf("%s got %v, want %v", n, got, want[n])
		}
	}
}

// publishMixed publishes n device events, every third for wealth only.
func publishMixed(h *harness, n int) {
	for i := range n {
		aud := everyone
		if i%3 == 2 {
			aud = huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleWealth}}
		}
		h.fake.append(deviceEvent(fmt.Sprintf("d-%d", i), huiyan.DeviceOnline, aud))
	}
}

func lobbySeqs(h *harness, after uint64) []uint64 {
	h.fake.mu.Lock()
	defer h.fake.mu.Unlock()
	var out []uint64
	staff := h.fake.staff["lobby-1"]
	for _, e := range h.fake.feed {
		if e.Seq > after && e.Audience.Includes(&staff) {
			out = append(out, e.Seq)
		}
	}
	return out
}

func TestResume(t *testing.T) {
	t.Run("Replay", func(t *testing.T) {
		h := newHarness(t, pad.Options{ReplayLimit: 7}) // many pages
		publishMixed(h, 50)
		pc, hello := h.connect("lobby-1")
		if hello.Seq != 50 {
			t.Fatalf("hello seq=%d, want 50", hello.Seq)
		}
		// Publish keeps running while the PAD resumes.
		const more = 200
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			publishMixed(h, more)
		}()
		pc.send(pad.ResumeMsg{Type: pad.TypeResume, AfterSeq: 20})
		wg.Wait()
		want := lobbySeqs(h, 20)
		final := want[len(want)-1]

		// Live messages (seq > 50) may come between hello and the resume;
		// the replay then restarts the stream after 20, and from there every
		// seq comes once, in order.
		var got []uint64
		restart := -1
		for restart < 0 || got[len(got)-1] != final {
			s := seqOf(t, pc.next())
			if restart < 0 && s <= hello.Seq {
				restart = len(got)
			}
			got = append(got, s)
		}
		for i := 1; i < restart; i++ {
			if got[i] <= got[i-1] {
				t.Fatalf("live prefix not increasing: %v", got[:restart])
			}
		}
		if fmt.Sprint(got[restart:]) != fmt.Sprint(want) {
			t.Errorf("after resume got %v\nwant %v", got[restart:], want)
		}
		// And nothing more: the next message is the next event.
		next := h.fake.append(deviceEvent("end", huiyan.DeviceOnline, everyone))
		if s := seqOf(t, pc.next()); s != next {
			t.Errorf("next seq=%d, want %d", s, next)
		}
	})

	t.Run("NothingMissed", func(t *testing.T) {
		h := newHarness(t, pad.Options{})
		publishMixed(h, 10)
		pc, hello := h.connect("lobby-1")
		pc.send(pad.ResumeMsg{Type: pad.TypeResume, AfterSeq: hello.Seq})
		pc.send(pad.PingMsg{Type: pad.TypePing})
		pc.expect(pad.TypePong, nil) // no replay in front of it
		h.fake.append(deviceEvent("x", huiyan.DeviceOnline, everyone))
		if s := seqOf(t, pc.next()); s != 11 {
			t.Errorf("seq=%d, want 11", s)
		}
	})

	t.Run("State", func(t *testing.T) {
		for _, tt := range []struct {
			name  string
			after uint64
		}{
			{"TooOld", 5},
			{"Zero", 0},
			{"Future", 1000}, // an edge restored from an older backup
		} {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t, pad.Options{})
				h.fake.append(arrivalEvent("v-lobby", "account-1", lobbyOnly))
				h.fake.append(arrivalEvent("v-wealth", "", huiyan.Audience{Roles: []huiyan.Role{huiyan.RoleWealth}}))
				publishMixed(h, 20)
				h.fake.forget(10)
				pc, _ := h.connect("lobby-1")
				pc.send(pad.ResumeMsg{Type: pad.TypeResume, AfterSeq: tt.after})
				var st pad.StateMsg
				pc.expect(pad.TypeState, &st)
				if st.Seq != 22 {
					t.Errorf("state seq=%d, want 22", st.Seq)
				}
				if len(st.Visits) != 1 || st.Visits[0].Visit.ID != "v-lobby" || st.Visits[0].Profile.DisplayName != "林*华" {
					t.Errorf("state visits=%+v, want only v-lobby", st.Visits)
				}
				if len(st.Devices) != 20 {
					t.Errorf("state devices=%d, want 20", len(st.Devices))
				}
				h.fake.append(deviceEvent("x", huiyan.DeviceOffline, everyone))
				if s := seqOf(t, pc.next()); s != 23 {
					t.Errorf("after state seq=%d, want 23", s)
				}
			})
		}
	})
}

func TestClaim(t *testing.T) {
	h := newHarness(t, pad.Options{})
	h.fake.append(arrivalEvent("v-1", "", lobbyOnly))
	lobby, _ := h.connect("lobby-1")
	super, _ := h.connect("super-1")

	t.Run("ErrConflict", func(t *testing.T) {
		h.fake.setClaimErr(huiyan.Errorf(huiyan.EConflict, "已被李*认领 / already claimed by 李*"))
		lobby.send(pad.ClaimMsg{Type: pad.TypeClaim, Visit: "v-1"})
		var e pad.ErrorMsg
		lobby.expect(pad.TypeError, &e)
		want := pad.ErrorMsg{Type: pad.TypeError, Code: huiyan.EConflict, Message: "已被李*认领 / already claimed by 李*", Request: pad.TypeClaim, Visit: "v-1"}
		if e != want {
			t.Errorf("error=%+v, want %+v", e, want)
		}
		// Only that PAD heard of it, and its connection stays.
		last := h.fake.append(deviceEvent("sentinel", huiyan.DeviceOnline, everyone))
		if data := super.next(); seqOf(t, data) != last {
			t.Errorf("supervisor got %s, want the sentinel", data)
		}
		if data := lobby.next(); seqOf(t, data) != last {
			t.Errorf("lobby got %s, want the sentinel", data)
		}
	})

	t.Run("ErrInternal", func(t *testing.T) {
		h.fake.setClaimErr(fmt.Errorf("bolt: disk on fire at /var/lib/huiyan"))
		lobby.send(pad.ClaimMsg{Type: pad.TypeClaim, Visit: "v-1"})
		var e pad.ErrorMsg
		lobby.expect(pad.TypeError, &e)
		if e.Code != huiyan.EInternal || e.Message != "internal error" {
			t.Errorf("error=%+v, want internal with a generic message", e)
		}
	})

	t.Run("OK", func(t *testing.T) {
		h.fake.setClaimErr(nil)
		lobby.send(pad.ClaimMsg{Type: pad.TypeClaim, Visit: "v-1"})
		// No direct answer: the published change tells every PAD.
		for _, pc := range []*padClient{lobby, super} {
			var v pad.VisitMsg
			pc.expect(pad.TypeVisit, &v)
			if v.Visit.ID != "v-1" || v.Visit.ClaimedBy != "lobby-1" {
				t.Errorf("visit=%+v, want v-1 claimed by lobby-1", v.Visit)
			}
		}
	})

	t.Run("OtherErrors", func(t *testing.T) {
		lobby.send(pad.ReleaseMsg{Type: pad.TypeRelease, Visit: "v-1"})
		var e pad.ErrorMsg
		lobby.expect(pad.TypeError, &e)
		if e.Code != huiyan.EForbidden || e.Request != pad.TypeRelease {
			t.Errorf("release error=%+v, want forbidden", e)
		}
		lobby.send(pad.OutcomeMsg{Type: pad.TypeOutcome, Visit: "v-9", Result: huiyan.OutcomeServed})
		lobby.expect(pad.TypeError, &e)
		if e.Code != huiyan.ENotFound || e.Visit != "v-9" {
			t.Errorf("outcome error=%+v, want not_found for v-9", e)
		}
	})
}

func TestBadMessages(t *testing.T) {
	h := newHarness(t, pad.Options{})
	pc, _ := h.connect("lobby-1")
	for _, tt := range []struct {
		name, msg, code string
	}{
		{"NotJSON", `hello?`, pad.EBadMessage},
		{"NotObject", `[1,2]`, pad.EBadMessage},
		{"NoType", `{"visit":"v-1"}`, pad.EBadMessage},
		{"TypeNotString", `{"type":7}`, pad.EBadMessage},
		{"Unknown", `{"type":"dance"}`, pad.EUnknownType},
		{"ResumeWithoutSeq", `{"type":"resume"}`, huiyan.EInvalid},
		{"NegativeSeq", `{"type":"resume","after_seq":-1}`, pad.EBadMessage},
		{"ClaimWithoutVisit", `{"type":"claim"}`, huiyan.EInvalid},
		{"BadOutcome", `{"type":"outcome","visit":"v-1","result":"sold"}`, huiyan.EInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := pc.ws.WriteMessage(websocket.TextMessage, []byte(tt.msg)); err != nil {
				t.Fatal(err)
			}
			var e pad.ErrorMsg
			pc.expect(pad.TypeError, &e)
			if e.Code != tt.code || e.Message == "" {
				t.Errorf("error=%+v, want code %q", e, tt.code)
			}
		})
	}
	t.Run("Binary", func(t *testing.T) {
		pc.ws.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"ping"}`))
		var e pad.ErrorMsg
		pc.expect(pad.TypeError, &e)
		if e.Code != pad.EBadMessage {
			t.Errorf("code=%q, want bad_message", e.Code)
		}
	})
	t.Run("StillOpen", func(t *testing.T) {
		pc.send(pad.PingMsg{Type: pad.TypePing})
		if data := pc.expect(pad.TypePong, nil); string(data) != `{"type":"pong"}` {
			t.Errorf("pong=%s", data)
		}
	})
	t.Run("TooLarge", func(t *testing.T) {
		big := fmt.Sprintf(`{"type":"claim","visit":"%s"}`, bytes.Repeat([]byte("v"), int(pad.DefaultReadLimit)))
		pc.ws.WriteMessage(websocket.TextMessage, []byte(big))
		// The server sends 1009 and drops the connection with our message
		// unread, so the TCP reset may overtake the close frame.
		err := pc.closed()
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code != websocket.CloseMessageTooBig {
			t.Errorf("close=%v, want 1009", err)
		}
		poll(t, "connection gone", func() bool { return h.srv.Connections() == 0 })
	})
}

func TestSlowPAD(t *testing.T) {
	const buffer = 16
	h := newHarness(t, pad.Options{SendBuffer: buffer})
	fast, _ := h.connect("lobby-1")
	slow, _ := h.connect("lobby-2")
	h.stall.stall(t, slow.local) // its network stops draining

	const n = 1000
	var received atomic.Int64
	got := make(chan []uint64, 1)
	go func() {
		var seqs []uint64
		for len(seqs) < n {
			select {
			case data := <-fast.msgs:
				var m struct{ Seq uint64 }
				json.Unmarshal(data, &m)
				seqs = append(seqs, m.Seq)
				received.Add(1)
			case <-time.After(wait):
				got <- seqs
				return
			}
		}
		got <- seqs
	}()

	var slowest time.Duration
	for i := range n {
		// Keep the fast PAD within its buffer: it reads as fast as it can,
		// but a loop of Publish calls outruns any network.
		for int64(i)-received.Load() >= buffer/2 {
			select {
			case <-fast.done:
				t.Fatalf("fast PAD disconnected: %v", fast.err)
			case <-time.After(time.Millisecond):
			}
		}
		e := deviceEvent(fmt.Sprintf("d-%d", i), huiyan.DeviceOnline, everyone)
		h.fake.mu.Lock()
		h.fake.newest++
		e.Seq = h.fake.newest
		h.fake.mu.Unlock()
		start := time.Now()
		h.srv.Publish(e)
		slowest = max(slowest, time.Since(start))
	}
	seqs := <-got
	if len(seqs) != n || seqs[0] != 1 || seqs[n-1] != n {
		t.Fatalf("fast PAD got %d messages, want %d in order", len(seqs), n)
	}
	for i := 1; i < n; i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("fast PAD: seq %d after %d", seqs[i], seqs[i-1])
		}
	}
	// Had Publish waited for the stalled PAD, the loop would never have
	// finished; the bound only catches a Publish that waits a write deadline.
	if slowest > time.Second {
		t.Errorf("slowest Publish took %v: a slow PAD held up the branch", slowest)
	}
	poll(t, "slow PAD dropped", func() bool { return h.srv.Connections() == 1 })
	slow.closed()
	if got := h.counter("huiyan_pad_dropped_total"); got != 1 {
		t.Errorf("dropped=%v, want 1", got)
	}
	if got := h.counter("huiyan_pad_connections"); got != 1 {
		t.Errorf("connections gauge=%v, want 1", got)
	}
	if got := h.counter("huiyan_pad_messages_sent_total"); got < n {
		t.Errorf("messages sent=%v, want at least %d", got, n)
	}
}

func TestShutdown(t *testing.T) {
	h := newHarness(t, pad.Options{})
	a, _ := h.connect("lobby-1")
	b, _ := h.connect("super-1")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := h.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for _, pc := range []*padClient{a, b} {
		if err := pc.closed(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Errorf("close=%v, want 1001", err)
		}
	}
	if n := h.srv.Connections(); n != 0 {
		t.Errorf("connections=%d, want 0", n)
	}
	_, resp, err := h.dial(h.login("lobby-1"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after shutdown: err=%v resp=%v, want 503", err, resp)
	}
	h.srv.Publish(deviceEvent("x", huiyan.DeviceOnline, everyone)) // a no-op, not a panic
}

func TestWebApp(t *testing.T) {
	h := newHarness(t, pad.Options{})
	for path, want := range map[string]string{"/": "PAD", "/app.js": "/pad/ws", "/pad/asyncapi.yaml": "asyncapi: 3.0.0"} {
		resp, err := http.Get(h.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Contains(buf.Bytes(), []byte(want)) {
			t.Errorf("GET %s: status=%d, want 200 with %q", path, resp.StatusCode, want)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", path)
		}
	}
	req, _ := http.NewRequest(http.MethodDelete, h.ts.URL+"/pad/login", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /pad/login: status=%d, want 405", resp.StatusCode)
	}
}
