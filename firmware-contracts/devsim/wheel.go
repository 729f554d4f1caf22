package devsim

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	firmware "huiyan/firmware-contracts"
)

// DefaultResultTimeout is how long a simulated wheel waits for the result
// of a spin before the run reports it missing. The edge answers within
// the latency budget of a PAD push, far less than this.
const DefaultResultTimeout = 2 * time.Second

// wheelWatch is what the simulated wheels know of their spins: the ones
// sent that still wait for their result, and the results received on
// huiyan/v1/{branch}/wheel/{device}/result.
type wheelWatch struct {
	timeout time.Duration

	mu      sync.Mutex
	pending map[string]time.Time // device + "/" + spin → when it was sent
	changed chan struct{}        // closed (and replaced) when pending shrinks
	results int                  // results for spins that were waiting
	won     int
	reasons map[string]int // results without a prize, by reason
	late    int            // results for spins not waiting: reported missing already, or not ours
	bad     int            // result payloads that do not decode
	missing []string       // spins that got no result in time
}

func newWheelWatch(timeout time.Duration) *wheelWatch {
	if timeout <= 0 {
		timeout = DefaultResultTimeout
	}
	return &wheelWatch{timeout: timeout, pending: map[string]time.Time{}, changed: make(chan struct{}), reasons: map[string]int{}}
}

// subscribe makes the wheel listen on its result topic, as wheel firmware
// does right after it connects.
func (w *wheelWatch) subscribe(ctx context.Context, branch string, dev *simDevice) error {
	topic, err := firmware.WheelResultTopic(branch, dev.id)
	if err != nil {
		return err
	}
	return waitToken(ctx, dev.client.Subscribe(topic, 1, func(_ paho.Client, m paho.Message) {
		w.result(dev.id, m.Payload())
	}))
}

// sent records a spin before it is published: the result can arrive
// before the publish returns.
func (w *wheelWatch) sent(device, spin string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending[device+"/"+spin] = time.Now()
}

// unsent forgets a spin whose publish failed.
func (w *wheelWatch) unsent(device, spin string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.pending, device+"/"+spin)
}

func (w *wheelWatch) result(device string, payload []byte) {
	r, err := firmware.DecodeWheelResult(payload)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.bad++
		return
	}
	key := device + "/" + r.Spin
	if _, ok := w.pending[key]; !ok {
		w.late++
		return
	}
	delete(w.pending, key)
	w.results++
	if r.Prize != "" {
		w.won++
	} else {
		w.reasons[r.Reason]++
	}
	close(w.changed)
	w.changed = make(chan struct{})
}

// expire moves the spins that waited longer than the timeout to missing
// and returns them.
func (w *wheelWatch) expire(now time.Time) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for k, at := range w.pending {
		if now.Sub(at) >= w.timeout {
			out = append(out, k)
			delete(w.pending, k)
		}
	}
	sort.Strings(out)
	w.missing = append(w.missing, out...)
	return out
}

// wait returns once every spin sent has its result or has waited the
// timeout (then it is missing), or ctx ends. It returns the spins it
// found missing.
func (w *wheelWatch) wait(ctx context.Context) []string {
	var missing []string
	for {
		missing = append(missing, w.expire(time.Now())...)
		w.mu.Lock()
		if len(w.pending) == 0 {
			w.mu.Unlock()
			return missing
		}
		var first time.Time
		for _, at := range w.pending {
			if first.IsZero() || at.Before(first) {
				first = at
			}
		}
		changed := w.changed
		w.mu.Unlock()
		t := time.NewTimer(time.Until(first.Add(w.timeout)))
		select {
		case <-ctx.Done():
			t.Stop()
			return missing
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// stats adds the wheel's counts to st.
func (w *wheelWatch) stats(st *SimStats) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st.WheelResults, st.WheelWon, st.WheelMissing, st.WheelLate = w.results, w.won, len(w.missing), w.late+w.bad
	st.WheelReasons = make(map[string]int, len(w.reasons))
	for k, v := range w.reasons {
		st.WheelReasons[k] = v
	}
}

// summary is the wheel's line of a run's output.
func (w *wheelWatch) summary(st SimStats) string {
	return fmt.Sprintf("wheel: %d spins, %d results (%d won, no prize %v), %d without a result within %s, %d late or unreadable",
		st.Wheel, st.WheelResults, st.WheelWon, st.WheelReasons, st.WheelMissing, w.timeout, st.WheelLate)
}
