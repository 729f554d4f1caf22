package edge

import (
	"context"

	"huiyan"
	firmware "huiyan/firmware-contracts"
)

// MQTTHandler adapts a Node to the MQTT ingest: it decodes payloads with the
// firmware contract and hands the arrivals and statuses to the node. A
// refusal comes back as the *huiyan.Error the ingest publishes on the
// device's reject topic.
type MQTTHandler struct {
	Node *Node
}

// HandleArrival decodes and records one arrival payload.
func (h MQTTHandler) HandleArrival(ctx context.Context, t firmware.Topic, payload []byte) error {
	a, err := firmware.Decode(t, payload)
	if err != nil {
		return err
	}
	return h.Node.HandleArrival(ctx, a)
}

// HandleStatus records a device status. A cleared retained status (empty
// payload) is ignored: it says nothing about the device.
func (h MQTTHandler) HandleStatus(ctx context.Context, device, status string, retained bool) error {
	if status == "" {
		return nil
	}
	s, err := firmware.ParseStatus([]byte(status))
	if err != nil {
		return err
	}
	return h.Node.HandleStatus(ctx, device, s, huiyan.Channel(""))
}
