package edge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"huiyan"
	"huiyan/edge/wheel"
	firmware "huiyan/firmware-contracts"
)

// Wheel decides the spins of the branch's prize wheel (edge/DESIGN.md,
// "Prize wheel"). *wheel.Wheel implements it; a node without one answers
// no spin, so that tests of the visits need no wheel.db.
type Wheel interface {
	// Spin decides and records a spin, or returns the recorded result of
	// the same device and spin (Duplicate set, and counted in
	// huiyan_edge_wheel_redelivered_total). Refusals are results; an
	// error means nothing was recorded, and one wrapping wheel.ErrInvalid
	// means the request can never be accepted.
	Spin(ctx context.Context, req wheel.SpinRequest) (wheel.Result, error)
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

// respin answers a redelivered wheel arrival. It asks Spin again rather
// than only reading the recorded result (wheel.Lookup): Spin is
// idempotent by device and spin, so it returns the recorded result with
// Duplicate set and draws nothing, and every result the node sends again
// is counted once, in the wheel's huiyan_edge_wheel_redelivered_total,
// whichever way the redelivery came (the same arrival again, or a new
// arrival id with a spin seen before). When the wheel has no record (the
// store committed the arrival and the spin failed, or the process died in
// between) Spin decides it now, from the arrival's visit as committed.
//
// A visit that is gone (purged by a retention shorter than the dedupe
// window) can no longer prove presence: the request is then the unknown
// spinner's, not present, which returns the recorded result if there is
// one and otherwise refuses the spin (not_present) instead of leaving the
// arrival unacknowledged for good. Called under n.mu.
func (n *Node) respin(ctx context.Context, w Wheel, a huiyan.Arrival, now time.Time) (wheel.Result, error) {
	var v *huiyan.Visit
	err := n.store.View(ctx, func(tx Tx) error {
		id, err := tx.EventSeen(a.Device, a.EventID)
		if err != nil {
			return err
		}
		v, err = tx.Visit(id)
		return err
	})
	var req wheel.SpinRequest
	switch {
	case err == nil:
		req = spinRequest(a, v.CustomerID, v, now)
	case errors.Is(err, ErrNotFound):
		req = spinRequest(a, "", &huiyan.Visit{}, now)
		req.Present = false
	default:
		return wheel.Result{}, fmt.Errorf("visit of wheel arrival %s: %w", a.EventID, err)
	}
	res, err := w.Spin(ctx, req)
	return res, refuseSpin(err)
}

// refuseSpin turns a spin the wheel can never accept (an error wrapping
// wheel.ErrInvalid: its request breaks the wheel's rules, which
// firmware.Decode should have refused already, so a bug or a firmware
// contract that drifted from the wheel's) into a refusal of the arrival:
// a *huiyan.Error with code bad_spin, which the broker hook or the ingest
// publishes on the device's reject topic and then acknowledges. Left as a
// plain error it would keep the arrival unacknowledged, and the broker
// would redeliver it forever. The message is safe for the device (no value
// from the payload); the wheel's error stays in the chain for the log.
// Any other error (nil included) is returned as it is: it is worth a
// redelivery.
func refuseSpin(err error) error {
	if !errors.Is(err, wheel.ErrInvalid) {
		return err
	}
	return fmt.Errorf("%w: %w", huiyan.Errorf(firmware.EBadSpin, "the prize wheel cannot accept this spin; it was not recorded"), err)
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
