package mqtt

import (
	"context"
	"log/slog"
	"strings"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"huiyan"
	firmware "huiyan/firmware-contracts"
)

// handleTimeout bounds one Handler call made from inside the broker.
const handleTimeout = 30 * time.Second

// directHook hands the branch's arrivals and statuses to the Handler inside
// the broker, before the broker acknowledges them to the device.
//
// Why: mochi writes a QoS 1 PUBACK before it routes the message to its
// subscribers and keeps what it routes in memory (and even its storage hook
// records the message only after the PUBACK). A crash of the edge process
// in that window would lose an arrival the device was told was delivered.
// mochi calls OnPublish hooks before the PUBACK, so handling the arrival
// here — decode, commit to bbolt, tell the PADs — makes the device's PUBACK
// mean "committed", with no second hop and no second fsync.
//
// A handled arrival is marked ignore: acknowledged but not routed on, since
// nothing else needs it. A refusal is answered on the device's reject topic
// and acknowledged. A transient failure (the store) is not acknowledged and
// the device is disconnected, so that its client resends the message when
// it reconnects.
type directHook struct {
	mochi.HookBase
	branch   string
	h        Handler
	server   *mochi.Server
	log      *slog.Logger
	rejected *prometheus.CounterVec
}

func (d *directHook) ID() string { return "huiyan-direct" }

func (d *directHook) Provides(b byte) bool { return b == mochi.OnPublish || b == mochi.OnWillSent }

// OnWillSent hands a device's Last Will ("offline" on its status topic) to
// the Handler: mochi publishes Wills without running OnPublish, and a device
// that lost power must still turn red on the PADs.
func (d *directHook) OnWillSent(cl *mochi.Client, pk packets.Packet) {
	t, err := firmware.ParseTopic(pk.TopicName)
	if err != nil || t.Kind != firmware.TopicStatus || t.Branch != d.branch {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), handleTimeout)
	defer cancel()
	if err := d.h.HandleStatus(ctx, t.Device, string(pk.Payload), pk.FixedHeader.Retain); err != nil {
		d.log.Warn("device last will not recorded", "device", t.Device, "error", err)
	}
}

// OnPublish runs in the publishing client's goroutine, after the ACL check
// and before the acknowledgement.
func (d *directHook) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	prefix := firmware.TopicRoot + "/" + d.branch + "/"
	if cl.Net.Inline || !strings.HasPrefix(pk.TopicName, prefix) {
		return pk, nil // our own rejects and results, and what is not a device's
	}
	rest := pk.TopicName[len(prefix):]
	if !strings.HasPrefix(rest, "arrival/") && !strings.HasPrefix(rest, "device/") {
		return pk, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), handleTimeout)
	defer cancel()
	t, err := firmware.ParseTopic(pk.TopicName)
	status := err == nil && t.Kind == firmware.TopicStatus
	switch {
	case err != nil:
	case t.Kind == firmware.TopicArrival:
		err = d.h.HandleArrival(ctx, t, pk.Payload)
	case status:
		err = d.h.HandleStatus(ctx, t.Device, string(pk.Payload), pk.FixedHeader.Retain)
	}
	switch {
	case err == nil && status:
		return pk, nil // statuses stay retained for whoever subscribes
	case err == nil:
		return pk, packets.CodeSuccessIgnore
	case permanent(err):
		device := t.Device
		if device == "" {
			device = deviceOf(pk.TopicName)
		}
		d.refuse(device, firmware.PeekID(pk.Payload), err)
		return pk, packets.CodeSuccessIgnore
	default:
		d.log.Warn("device message not handled; the device will resend it after reconnecting",
			"client", cl.ID, "topic", pk.TopicName, "error", err)
		cl.Stop(err)
		return pk, packets.ErrRejectPacket
	}
}

// refuse publishes a reject to the device, when there is one to address.
func (d *directHook) refuse(device, id string, err error) {
	code := huiyan.ErrorCode(err)
	if d.rejected != nil {
		d.rejected.WithLabelValues(code).Inc()
	}
	topic, terr := firmware.RejectTopic(d.branch, device)
	if terr != nil {
		d.log.Warn("device message refused, no device to reply to", "code", code)
		return
	}
	d.log.Info("mqtt message refused", "device", device, "event_id", id, "code", code)
	if perr := d.server.Publish(topic, firmware.EncodeReject(id, err, time.Now()), false, 1); perr != nil {
		d.log.Error("publish reject", "device", device, "error", perr)
	}
}
