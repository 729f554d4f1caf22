package mqtt

import (
	"context"
	"errors"
	"fmt"

	firmware "huiyan/firmware-contracts"
)

// ErrNoInlineClient: the broker was started without a Handler, so it has
// no inline client to publish with (the edge then uses an Ingest).
var ErrNoInlineClient = errors.New("mqtt broker: no inline client (started without a handler)")

// PublishWheelResult publishes a wheel result payload (wheel.Result.Payload)
// to the wheel device on huiyan/v1/{branch}/wheel/{device}/result at QoS 1
// through the broker's inline client, as the rejects are: from inside the
// wheel's OnPublish the result is queued for the wheel's subscription
// before the wheel's spin is acknowledged. The broker takes it at once, so
// ctx is only checked.
func (b *Broker) PublishWheelResult(ctx context.Context, device string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	server := b.inline.Load()
	switch {
	case server == nil:
		return fmt.Errorf("mqtt wheel result: %w", ErrBrokerClosed)
	case b.cfg.Handler == nil:
		return fmt.Errorf("mqtt wheel result: %w", ErrNoInlineClient)
	}
	topic, err := firmware.WheelResultTopic(b.cfg.Branch, device)
	if err != nil {
		return fmt.Errorf("mqtt wheel result: %w", err)
	}
	if err := server.Publish(topic, payload, false, 1); err != nil {
		return fmt.Errorf("mqtt publish %s: %w", topic, err)
	}
	return nil
}
