package pad

import (
	"container/list"
	"net"
	"net/netip"
	"sync"
	"time"
)

// limiter counts wrong PINs per key (a staff id, a client address) in a
// sliding window: max failures within window lock the key for lockout, a
// fixed time. Attempts are reserved before the PIN is checked, so that many
// concurrent guesses cannot all slip in before the first failure is
// counted. It remembers at most cap keys, forgetting the least recently
// seen key that is neither locked nor in use, so a flood of made-up staff
// ids or addresses cannot exhaust memory (it can only make us forget old
// unlocked counts).
type limiter struct {
	max     int
	window  time.Duration
	lockout time.Duration
	cap     int

	mu      sync.Mutex
	entries map[string]*list.Element
	lru     list.List // of *limitEntry, least recently seen first
}

type limitEntry struct {
	key      string
	fails    []time.Time // within the window, oldest first, at most max
	inflight int
	locked   time.Time // locked until
}

func newLimiter(max int, window, lockout time.Duration, capacity int) *limiter {
	return &limiter{max: max, window: window, lockout: lockout, cap: capacity, entries: make(map[string]*list.Element)}
}

// acquire reserves an attempt on every key. When a key is locked, or has as
// many failures and reserved attempts as allowed, it reserves nothing and
// returns how long to wait.
func (l *limiter) acquire(now time.Time, keys ...string) (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	es := make([]*limitEntry, 0, len(keys))
	for _, k := range keys {
		e := l.entry(now, k)
		switch {
		case now.Before(e.locked):
			wait = max(wait, e.locked.Sub(now))
		case e.count(now, l.window)+e.inflight >= l.max:
			wait = max(wait, time.Second) // guesses in flight: their result decides
		}
		es = append(es, e)
	}
	if wait > 0 {
		return wait, false
	}
	for _, e := range es {
		e.inflight++
	}
	return 0, true
}

// failed ends reserved attempts that were wrong: each counts, and a key
// reaching max failures is locked.
func (l *limiter) failed(now time.Time, keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		e := l.release(k)
		if e == nil {
			continue
		}
		e.count(now, l.window)
		e.fails = append(e.fails, now)
		if len(e.fails) >= l.max {
			e.locked = now.Add(l.lockout)
			e.fails = nil
		}
	}
}

// passed ends reserved attempts that did not fail (a good PIN, or a fault
// of ours); the keys in reset forget their failures.
func (l *limiter) passed(keys []string, reset ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		l.release(k)
	}
	for _, k := range reset {
		if el := l.entries[k]; el != nil {
			el.Value.(*limitEntry).fails = nil
		}
	}
}

func (l *limiter) release(k string) *limitEntry {
	el := l.entries[k]
	if el == nil {
		return nil // forgotten while in use: only possible when all keys are locked
	}
	e := el.Value.(*limitEntry)
	if e.inflight > 0 {
		e.inflight--
	}
	return e
}

// entry returns the key's entry, creating it (and forgetting another one
// when full), and marks it as the most recently seen.
func (l *limiter) entry(now time.Time, k string) *limitEntry {
	if el := l.entries[k]; el != nil {
		l.lru.MoveToBack(el)
		return el.Value.(*limitEntry)
	}
	if len(l.entries) >= l.cap {
		l.evict(now)
	}
	e := &limitEntry{key: k}
	l.entries[k] = l.lru.PushBack(e)
	return e
}

func (l *limiter) evict(now time.Time) {
	victim := l.lru.Front()
	for el := victim; el != nil; el = el.Next() {
		e := el.Value.(*limitEntry)
		if e.inflight == 0 && !now.Before(e.locked) {
			victim = el
			break
		}
	}
	if victim != nil {
		delete(l.entries, victim.Value.(*limitEntry).key)
		l.lru.Remove(victim)
	}
}

func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// count drops failures older than the window and returns how many remain.
func (e *limitEntry) count(now time.Time, window time.Duration) int {
	i := 0
	for i < len(e.fails) && !now.Before(e.fails[i].Add(window)) {
		i++
	}
	e.fails = e.fails[i:]
	return len(e.fails)
}

// addrKey is the rate-limit key of a client address: the IP of
// RemoteAddr, its /64 for IPv6 (one host usually has a whole /64). Proxy
// headers are not trusted: behind a reverse proxy every PAD shares one key.
func addrKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return "addr:" + host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return "addr:" + p.String()
	}
	return "addr:" + ip.String()
}

func staffKey(id string) string { return "staff:" + id }
