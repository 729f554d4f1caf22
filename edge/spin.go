package edge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"huiyan"
	"huiyan/edge/wheel"
)

// Wheel decides the spins of the branch's prize wheel (edge/DESIGN.md,
// "Prize wheel"). *wheel.Wheel implements it; a node without one answers
// no spin, so that tests of the visits need no wheel.db.
type Wheel interface {
	// Spin decides and records a spin, or returns the recorded result of
	// the same device and spin (Duplicate set). Refusals are results; an
	// error means nothing was recorded.
	Spin(ctx context.Context, req wheel.SpinRequest) (wheel.Result, error)
	// Lookup returns the recorded result of a spin, or wheel.ErrNotFound.
	Lookup(ctx context.Context, device, spin string) (wheel.Result, error)
}

var _ Wheel = (*wheel.Wheel)(nil)

// WheelResults sends a spin's result to its wheel, on
// huiyan/v1/{branch}/wheel/{device}/result at QoS 1, and returns once the
// broker has it. The embedded broker (*mqtt.Broker) and the ingest of an
// external broker (*mqtt.Ingest) implement it.
type WheelResults interface {
	PublishWheelResult(ctx context.Context, device string, payload []byte) error
}

// ErrNoWheelResults: the node has a wheel but nowhere to send its results
// yet (SetWheelResults not called); the spin is recorded and the arrival
// is not acknowledged, so that its redelivery sends the recorded result.
var ErrNoWheelResults = errors.New("no route for wheel results")

// wheelPublishTimeout bounds the wait for the broker to take a result.
const wheelPublishTimeout = 10 * time.Second

type resultsBox struct{ r WheelResults }

// SetWheelResults sets where spin results go. huiyan-edge sets it before
// its broker or ingest takes the first arrival.
func (n *Node) SetWheelResults(r WheelResults) { n.results.Store(&resultsBox{r}) }

// spinPresent is the presence rule of a spin (edge/DESIGN.md, "Prize
// wheel"): the wheel is scanned with mobile banking inside the branch, so
// the spin itself says the customer is here, unless the visit has e-code
// scans and every one of them was refused (a code replayed from afar: the
// same person is then not believed to be at the wheel either).
func spinPresent(v *huiyan.Visit) bool {
	scans := false
	for _, tp := range v.Touchpoints {
		if tp.Channel == huiyan.ChannelECode {
			scans = true
			break
		}
	}
	return !scans || PresentScan(v)
}

// spinRequest is what the wheel is asked for a wheel arrival that joined
// or opened v; customer is "" for a new face.
func spinRequest(a huiyan.Arrival, customer string, v *huiyan.Visit, now time.Time) wheel.SpinRequest {
	subject := ""
	for _, id := range a.Idents {
		if id.Kind == huiyan.IdentMBank { // firmware requires one on every wheel arrival
			subject = id.Token
			break
		}
	}
	if subject == "" && len(a.Idents) > 0 {
		subject = a.Idents[0].Token
	}
	return wheel.SpinRequest{Device: a.Device, Spin: a.Spin, Event: a.EventID, Customer: customer,
		Subject: subject, Present: spinPresent(v), At: now}
}

// respin returns the recorded result of a redelivered wheel arrival. When
// the wheel has none (the store committed the arrival and the spin failed
// or the process died in between), it decides the spin now from the
// arrival's visit as committed: Spin is idempotent by device and spin, so
// this can never draw twice. Called under n.mu.
func (n *Node) respin(ctx context.Context, w Wheel, a huiyan.Arrival, now time.Time) (wheel.Result, error) {
	res, err := w.Lookup(ctx, a.Device, a.Spin)
	if !errors.Is(err, wheel.ErrNotFound) {
		return res, err
	}
	var v *huiyan.Visit
	err = n.store.View(ctx, func(tx Tx) error {
		id, err := tx.EventSeen(a.Device, a.EventID)
		if err != nil {
			return err
		}
		v, err = tx.Visit(id)
		return err
	})
	if err != nil {
		return wheel.Result{}, fmt.Errorf("visit of wheel arrival %s: %w", a.EventID, err)
	}
	return w.Spin(ctx, spinRequest(a, v.CustomerID, v, now))
}

// sendResult publishes a spin's result to its wheel. An error leaves the
// arrival unacknowledged: the redelivery sends the recorded result again.
func (n *Node) sendResult(ctx context.Context, res wheel.Result) error {
	b := n.results.Load()
	if b == nil || b.r == nil {
		return fmt.Errorf("wheel result of spin %s: %w", res.Spin, ErrNoWheelResults)
	}
	payload, err := res.Payload()
	if err != nil {
		return fmt.Errorf("wheel result of spin %s: %w", res.Spin, err)
	}
	ctx, cancel := context.WithTimeout(ctx, wheelPublishTimeout)
	defer cancel()
	if err := b.r.PublishWheelResult(ctx, res.Device, payload); err != nil {
		return fmt.Errorf("wheel result of spin %s: %w", res.Spin, err)
	}
	return nil
}
