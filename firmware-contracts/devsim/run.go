package devsim

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"huiyan"
	firmware "huiyan/firmware-contracts"
)

// SimConfig configures a simulation run (huiyan-devsim run).
type SimConfig struct {
	DataDir  string // where gen wrote tags.csv
	Broker   string // tcp://127.0.0.1:1883
	Branch   string
	Rate     float64       // arrivals per second
	Duration time.Duration // stop after this long …
	Count    int           // … or after this many arrivals (first reached wins; 0 = unbounded)
	// UnknownShare is the share of arrivals by people the bank does not know.
	UnknownShare float64
	// FollowUpShare is the share of counter arrivals of customers whose
	// mobile banking is not active that are followed by an e-code scan in
	// the same visit: the activation (促活) and new-user (拉新) path.
	FollowUpShare float64
	// FollowUpDelay is how long after the counter arrival the scan comes.
	FollowUpDelay time.Duration
	Seed          int64  // 0: from the clock
	Username      string // device credential, empty for the demo broker
	Password      string
	Out           io.Writer // one line per message sent; nil for none

	// Edge is the edge's HTTP address (http://127.0.0.1:8080). With it,
	// e-code scans carry the codes the branch shows (ecode.go); without
	// it, the old placeholder, which an edge with rotating codes refuses.
	Edge string
	// StaffShare is the share of e-code scans of a staff member's code
	// (营销e码) rather than the display's; ReplayShare the share replaying
	// a code the edge already called expired (a photo scanned later).
	StaffShare  float64
	ReplayShare float64
	// PIN logs the staff in whose codes are scanned (default DemoPIN).
	PIN string
	// ResultTimeout is how long the wheel waits for the result of a spin
	// before the run reports it missing (DefaultResultTimeout).
	ResultTimeout time.Duration
}

// DefaultSimConfig returns the defaults of huiyan-devsim run.
func DefaultSimConfig() SimConfig {
	return SimConfig{DataDir: "data", Broker: "tcp://127.0.0.1:1883", Branch: "B001", Rate: 1,
		UnknownShare: 0.15, FollowUpShare: 0.5, FollowUpDelay: 20 * time.Second,
		StaffShare: 0.3, ReplayShare: 0.05, PIN: DemoPIN}
}

// SimStats counts what a run sent.
type SimStats struct {
	Sent      int // arrivals published and acknowledged by the broker
	Counter   int
	ECode     int
	Wheel     int
	Known     int
	Unknown   int
	FollowUps int // e-code scans following a counter arrival (conversions)
	// E-code scans by the code they carried (with an edge to ask).
	StaffCodes int // a staff member's code
	Replays    int // a code the edge had called expired
	// Wheel results received on the wheel's result topic.
	WheelResults int            // for spins of this run, in time
	WheelWon     int            // of them with a prize
	WheelReasons map[string]int // of them without, by reason
	WheelMissing int            // spins without a result within ResultTimeout
	WheelLate    int            // results after the timeout, for spins not ours, or unreadable
}

// simCustomer is what the simulator needs of a customer of the data set.
type simCustomer struct {
	id               string
	mbank            huiyan.MBankStatus
	idcard, mbankTok string
	bankcards        []string
}

// loadBranchCustomers reads the customers of branch from DIR/tags.csv.
func loadBranchCustomers(dir, branch string) ([]simCustomer, error) {
	f, err := os.Open(filepath.Join(dir, "tags.csv"))
	if err != nil {
		return nil, fmt.Errorf("data set: %w (make one with huiyan-devsim gen)", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = true
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("tags.csv: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, need := range []string{"customer_id", "home_branch", "branches", "mbank_status", "idcard_token", "bankcard_tokens", "mbank_token"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("tags.csv: no column %s", need)
		}
	}
	var out []simCustomer
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("tags.csv: %w", err)
		}
		if rec[col["home_branch"]] != branch && !listHas(rec[col["branches"]], branch) {
			continue
		}
		c := simCustomer{id: rec[col["customer_id"]], mbank: huiyan.MBankStatus(rec[col["mbank_status"]]),
			idcard: rec[col["idcard_token"]], mbankTok: rec[col["mbank_token"]]}
		if s := rec[col["bankcard_tokens"]]; s != "" {
			c.bankcards = splitList(s)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("tags.csv has no customers of branch %s", branch)
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ';' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

func listHas(s, x string) bool {
	for _, v := range splitList(s) {
		if v == x {
			return true
		}
	}
	return false
}

// simDevice is one simulated branch device with its own MQTT connection.
type simDevice struct {
	id      string
	channel huiyan.Channel
	client  paho.Client
	mu      sync.Mutex
	n       int
}

func (d *simDevice) nextID() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	return fmt.Sprintf("%s-%06d", d.id, d.n)
}

// simDevices is the branch's device park: four super-counters, an e-code
// display and a prize wheel.
var simDevices = []struct {
	id string
	ch huiyan.Channel
}{
	{"sc-01", huiyan.ChannelCounter}, {"sc-02", huiyan.ChannelCounter}, {"sc-03", huiyan.ChannelCounter},
	{"sc-04", huiyan.ChannelCounter}, {"ecode-01", huiyan.ChannelECode}, {"wheel-01", huiyan.ChannelWheel},
}

// Sim plays a branch's devices against a broker.
type Sim struct {
	cfg       SimConfig
	customers []simCustomer
	rng       *rand.Rand
	devices   map[huiyan.Channel][]*simDevice
	all       []*simDevice
	codes     *codeSource // nil without an edge
	wheels    *wheelWatch
	stats     SimStats
	mu        sync.Mutex // stats, rng, out
	runID     string
}

// NewSim loads the data set. Connect with Run.
func NewSim(cfg SimConfig) (*Sim, error) {
	switch {
	case !huiyan.ValidBranchID(cfg.Branch):
		return nil, fmt.Errorf("branch %q is not a branch id", cfg.Branch)
	case cfg.Rate <= 0 || cfg.Rate > 10000:
		return nil, fmt.Errorf("rate %v must be above 0 and at most 10000/s", cfg.Rate)
	case cfg.Duration <= 0 && cfg.Count <= 0:
		return nil, errors.New("give -duration or -count: a run must end")
	case cfg.UnknownShare < 0 || cfg.UnknownShare > 1 || cfg.FollowUpShare < 0 || cfg.FollowUpShare > 1:
		return nil, errors.New("shares must be between 0 and 1")
	case cfg.StaffShare < 0 || cfg.ReplayShare < 0 || cfg.StaffShare+cfg.ReplayShare > 1:
		return nil, errors.New("the staff-code and replay shares must be between 0 and 1 together")
	}
	if cfg.PIN == "" {
		cfg.PIN = DemoPIN
	}
	var codes *codeSource
	if cfg.Edge != "" {
		var err error
		if codes, err = newCodeSource(cfg.Edge, cfg.Branch, cfg.PIN); err != nil {
			return nil, err
		}
	}
	if cfg.Seed == 0 {
		cfg.Seed = time.Now().UnixNano()
	}
	cs, err := loadBranchCustomers(cfg.DataDir, cfg.Branch)
	if err != nil {
		return nil, err
	}
	// Event ids must be unique per device across runs: the edge refuses a
	// repeated id as a duplicate. A run id derived from the start time and
	// seed makes them so.
	h := sha256.Sum256(fmt.Appendf(nil, "%d/%d", cfg.Seed, time.Now().UnixNano()))
	return &Sim{cfg: cfg, customers: cs, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed)),
		devices: map[huiyan.Channel][]*simDevice{}, runID: hex.EncodeToString(h[:3]), codes: codes,
		wheels: newWheelWatch(cfg.ResultTimeout)}, nil
}

// Run connects the devices, publishes arrivals at the configured rate until
// the count or duration is reached (or ctx ends), waits for pending
// follow-up scans that fit in the run, and disconnects.
func (s *Sim) Run(ctx context.Context) (SimStats, error) {
	if err := s.connect(ctx); err != nil {
		return s.stats, err
	}
	defer s.disconnect()

	var deadline <-chan time.Time
	if s.cfg.Duration > 0 {
		t := time.NewTimer(s.cfg.Duration)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / s.cfg.Rate))
	defer tick.Stop()
	var followups sync.WaitGroup
	fctx, cancelFollowups := context.WithCancel(ctx)
	defer cancelFollowups()
	var runErr error
	planned := 0
loop:
	for s.cfg.Count <= 0 || planned < s.cfg.Count {
		select {
		case <-ctx.Done():
			break loop
		case <-deadline:
			break loop
		case <-tick.C:
		}
		planned++
		follow, err := s.arrival(ctx)
		if err != nil {
			runErr = err
			break
		}
		if follow != nil && (s.cfg.Count <= 0 || planned < s.cfg.Count) {
			planned++ // the scan counts towards -count
			followups.Add(1)
			go func() {
				defer followups.Done()
				select {
				case <-fctx.Done():
					return
				case <-time.After(s.cfg.FollowUpDelay):
				}
				if err := s.publish(fctx, follow); err != nil && fctx.Err() == nil {
					s.logf("follow-up scan failed: %v", err)
				}
			}()
		}
	}
	if runErr == nil && ctx.Err() == nil {
		// Let scheduled scans finish: they are what the run is for.
		followups.Wait()
	}
	cancelFollowups()
	followups.Wait()
	// Every spin waits for its result (or its timeout) before the wheel
	// goes offline: a spin the edge never answered is what the run is to
	// show.
	for _, k := range s.wheels.wait(ctx) {
		s.logf("wheel spin %s: no result within %s", k, s.wheels.timeout)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wheels.stats(&s.stats)
	if s.stats.Wheel > 0 && s.cfg.Out != nil {
		fmt.Fprintln(s.cfg.Out, s.wheels.summary(s.stats))
	}
	return s.stats, runErr
}

type simArrival struct {
	dev    *simDevice
	a      huiyan.Arrival
	known  bool
	follow bool
	mbank  huiyan.MBankStatus
	scan   ScanKind // e-code scans: the code it carries
}

// arrival publishes one arrival and returns the e-code scan to follow it,
// if this customer is one who gets guided to activate mobile banking.
func (s *Sim) arrival(ctx context.Context) (*simArrival, error) {
	s.mu.Lock()
	r := s.rng.Float64()
	ch := huiyan.ChannelCounter
	switch {
	case r < 0.15:
		ch = huiyan.ChannelWheel
	case r < 0.35:
		ch = huiyan.ChannelECode
	}
	known := s.rng.Float64() >= s.cfg.UnknownShare
	var c simCustomer
	if known {
		c = s.customers[s.rng.IntN(len(s.customers))]
	} else {
		c = s.stranger()
	}
	dev := s.pick(ch)
	follow := ch == huiyan.ChannelCounter && known && c.mbank != huiyan.MBankActive && s.rng.Float64() < s.cfg.FollowUpShare
	a := s.build(dev, c, ch)
	var next *simArrival
	if follow {
		next = &simArrival{dev: s.pick(huiyan.ChannelECode), known: true, follow: true, mbank: c.mbank}
		if c.mbank == huiyan.MBankNone {
			// They register on the spot: a new mobile-banking id, and the
			// scan also carries the ID card the app was opened with.
			c.mbankTok = s.randomToken()
		}
		next.a = s.build(next.dev, c, huiyan.ChannelECode)
		if c.idcard != "" && !hasIdent(next.a.Idents, c.idcard) {
			next.a.Idents = append(next.a.Idents, huiyan.Ident{Kind: huiyan.IdentIDCard, KeyID: firmware.DemoKeyID, Token: c.idcard})
		}
	}
	s.mu.Unlock()
	return next, s.publish(ctx, &simArrival{dev: dev, a: a, known: known, mbank: c.mbank})
}

func hasIdent(ids []huiyan.Ident, tok string) bool {
	for _, id := range ids {
		if id.Token == tok {
			return true
		}
	}
	return false
}

// build makes the arrival a device of the channel would send for c.
func (s *Sim) build(dev *simDevice, c simCustomer, ch huiyan.Channel) huiyan.Arrival {
	a := huiyan.Arrival{EventID: dev.nextID() + "-" + s.runID, Branch: s.cfg.Branch, Device: dev.id, Channel: ch, At: time.Now()}
	ident := func(kind huiyan.IdentKind, tok string) huiyan.Ident {
		return huiyan.Ident{Kind: kind, KeyID: firmware.DemoKeyID, Token: tok}
	}
	switch ch {
	case huiyan.ChannelCounter:
		if c.idcard != "" {
			a.Idents = append(a.Idents, ident(huiyan.IdentIDCard, c.idcard))
		} else if len(c.bankcards) > 0 {
			a.Idents = append(a.Idents, ident(huiyan.IdentBankCard, c.bankcards[0]))
		}
		a.Attrs = map[string]string{"counter_no": dev.id[len(dev.id)-1:], "business": counterBusiness[s.rng.IntN(len(counterBusiness))]}
	case huiyan.ChannelECode, huiyan.ChannelWheel:
		tok := c.mbankTok
		if tok == "" {
			tok = s.randomToken() // registers on the spot to play or scan
		}
		a.Idents = append(a.Idents, ident(huiyan.IdentMBank, tok))
		if ch == huiyan.ChannelECode {
			a.Code = "huiyan-ecode:" + s.cfg.Branch + ":" + dev.id // publish asks the edge for a real one
		} else {
			a.Spin = fmt.Sprintf("spin-%s-%s", s.runID, a.EventID)
		}
	}
	if len(a.Idents) == 0 {
		a.Idents = append(a.Idents, ident(huiyan.IdentIDCard, s.randomToken()))
	}
	return a
}

var counterBusiness = []string{"card_replace", "account_open", "password_reset", "transfer", "deposit", "statement", "info_update"}

// stranger is someone the bank does not know: a synthetic identity number
// tokenised exactly as a device would.
func (s *Sim) stranger() simCustomer {
	return simCustomer{mbank: huiyan.MBankNone, idcard: s.randomToken()}
}

// randomToken is a token of a synthetic identifier nobody in the data set has.
func (s *Sim) randomToken() string {
	id := syntheticIDCard(s.rng)
	tok, err := firmware.Token(firmware.DemoKey, huiyan.IdentIDCard, id)
	if err != nil {
		panic(err) // syntheticIDCard makes valid numbers; a failure is a bug
	}
	return tok
}

// syntheticIDCard makes an 18-character identity number with a valid check
// character in region 990000, which no real number uses.
func syntheticIDCard(r *rand.Rand) string {
	b := fmt.Appendf(nil, "990000%04d%02d%02d%03d", 1950+r.IntN(55), 1+r.IntN(12), 1+r.IntN(28), r.IntN(1000))
	w := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(b[i]-'0') * w[i]
	}
	return string(append(b, "10X98765432"[sum%11]))
}

func (s *Sim) pick(ch huiyan.Channel) *simDevice {
	ds := s.devices[ch]
	return ds[s.rng.IntN(len(ds))]
}

// publish sends an arrival at QoS 1 and waits for the broker's PUBACK.
func (s *Sim) publish(ctx context.Context, sa *simArrival) error {
	topic, err := firmware.ArrivalTopic(s.cfg.Branch, sa.a.Channel, sa.dev.id)
	if err != nil {
		return err
	}
	if sa.a.Channel == huiyan.ChannelECode {
		// The code is read when the customer scans, not when the visit
		// was planned: a follow-up comes long after.
		if err := s.scanCode(ctx, sa); err != nil {
			return err
		}
	}
	if sa.a.Channel == huiyan.ChannelWheel {
		for _, k := range s.wheels.expire(time.Now()) {
			s.logf("wheel spin %s: no result within %s", k, s.wheels.timeout)
		}
		s.wheels.sent(sa.dev.id, sa.a.Spin) // before: the result may beat the PUBACK
	}
	tok := sa.dev.client.Publish(topic, 1, false, firmware.EncodeArrival(sa.a))
	if err := waitToken(ctx, tok); err != nil {
		if sa.a.Channel == huiyan.ChannelWheel {
			s.wheels.unsent(sa.dev.id, sa.a.Spin)
		}
		return fmt.Errorf("publish %s: %w", sa.a.EventID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.stats
	st.Sent++
	switch sa.a.Channel {
	case huiyan.ChannelCounter:
		st.Counter++
	case huiyan.ChannelECode:
		st.ECode++
	case huiyan.ChannelWheel:
		st.Wheel++
	}
	who := "new face"
	if sa.known {
		st.Known++
		who = "known, mobile banking " + string(sa.mbank)
	} else {
		st.Unknown++
	}
	if sa.follow {
		st.FollowUps++
		who += ", e-code scan after counter visit"
	}
	switch sa.scan {
	case ScanStaff:
		st.StaffCodes++
		who += ", staff code"
	case ScanReplay:
		st.Replays++
		who += ", replayed expired code"
	}
	if s.cfg.Out != nil {
		fmt.Fprintf(s.cfg.Out, "%s %-8s %-7s %s (%s)\n", time.Now().Format("15:04:05.000"), sa.dev.id, sa.a.Channel, sa.a.EventID, who)
	}
	return nil
}

func (s *Sim) logf(format string, args ...any) {
	if s.cfg.Out != nil {
		s.mu.Lock()
		fmt.Fprintf(s.cfg.Out, format+"\n", args...)
		s.mu.Unlock()
	}
}

func waitToken(ctx context.Context, t paho.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// connect opens one MQTT connection per device with its Last Will and a
// retained "online" status, as device firmware does.
func (s *Sim) connect(ctx context.Context) error {
	for _, d := range simDevices {
		dev := &simDevice{id: d.id, channel: d.ch}
		status, err := firmware.StatusTopic(s.cfg.Branch, d.id)
		if err != nil {
			return err
		}
		opts := paho.NewClientOptions().AddBroker(s.cfg.Broker).
			SetClientID(fmt.Sprintf("devsim-%s-%s-%s", s.cfg.Branch, d.id, s.runID)).
			SetCleanSession(true).SetAutoReconnect(true).SetConnectTimeout(10*time.Second).
			SetWill(status, huiyan.DeviceOffline, 1, true)
		if s.cfg.Username != "" {
			opts.SetUsername(s.cfg.Username).SetPassword(s.cfg.Password)
		}
		dev.client = paho.NewClient(opts)
		if err := waitToken(ctx, dev.client.Connect()); err != nil {
			s.disconnect()
			return fmt.Errorf("device %s: connect %s: %w", d.id, s.cfg.Broker, err)
		}
		if err := waitToken(ctx, dev.client.Publish(status, 1, true, huiyan.DeviceOnline)); err != nil {
			s.disconnect()
			return fmt.Errorf("device %s: status: %w", d.id, err)
		}
		if d.ch == huiyan.ChannelWheel {
			if err := s.wheels.subscribe(ctx, s.cfg.Branch, dev); err != nil {
				dev.client.Disconnect(0)
				s.disconnect()
				return fmt.Errorf("device %s: subscribe to its results: %w", d.id, err)
			}
		}
		s.devices[d.ch] = append(s.devices[d.ch], dev)
		s.all = append(s.all, dev)
	}
	sort.Slice(s.all, func(i, j int) bool { return s.all[i].id < s.all[j].id })
	return nil
}

// disconnect takes the devices off the air cleanly: "offline" is published
// explicitly since a clean disconnect does not fire the Last Will.
func (s *Sim) disconnect() {
	for _, d := range s.all {
		if d.client == nil || !d.client.IsConnected() {
			continue
		}
		if status, err := firmware.StatusTopic(s.cfg.Branch, d.id); err == nil {
			t := d.client.Publish(status, 1, true, huiyan.DeviceOffline)
			t.WaitTimeout(2 * time.Second)
		}
		d.client.Disconnect(250)
	}
	s.all = nil
}

// scanCode puts in an e-code scan the code the customer's phone reads:
// with an edge to ask, the display's, a staff member's or (a few) an
// expired one; without, the placeholder build left.
func (s *Sim) scanCode(ctx context.Context, sa *simArrival) error {
	if s.codes == nil {
		sa.scan = ScanPlaceholder
		return nil
	}
	s.mu.Lock()
	kind := scanKind(s.rng, s.cfg.StaffShare, s.cfg.ReplayShare)
	pick := s.rng.IntN(1 << 16)
	s.mu.Unlock()
	code, kind, err := s.codes.code(ctx, kind, sa.dev.id, pick)
	if err != nil {
		return fmt.Errorf("e-code of %s: %w", sa.a.EventID, err)
	}
	sa.a.Code, sa.scan = code, kind
	return nil
}
