// Package mqtt is the edge's MQTT adapter (DESIGN.md, "MQTT contract"): the
// embedded broker the branch devices connect to (Broker, on mochi-mqtt) and
// the edge's own ingest client (Ingest, on the Eclipse paho client) that
// hands every arrival and device status to a Handler and acknowledges it to
// the broker only when the Handler has committed it (DESIGN.md, "Data
// model": "an arrival is acknowledged to the broker only after it is
// committed to disk").
//
// The Ingest works against any MQTT 3.1.1 broker: the embedded one or an
// external Mosquitto (`huiyan-edge -mqtt-broker URL`). The contract tests run
// the same suite against both.
//
// Neither type ever logs a payload: arrival payloads carry identity tokens.
// Topics (branch, channel, device id) and event ids are logged.
package mqtt
