package main

import (
	"encoding/json"
	"net/http"
	"time"

	"huiyan/edge"
)

// health is the /healthz answer (DESIGN.md, "Hub contract": on the edge at
// least branch, snapshot_version, snapshot_age_s, broker, outbox_depth).
type health struct {
	Status          string   `json:"status"` // ok, degraded, down
	Branch          string   `json:"branch"`
	Version         string   `json:"version"`
	SnapshotVersion int64    `json:"snapshot_version"`
	SnapshotAgeS    int64    `json:"snapshot_age_s"` // -1 before the first data
	Customers       int      `json:"customers"`
	Broker          string   `json:"broker"` // connected, disconnected
	Store           string   `json:"store"`  // ok, error
	OutboxDepth     int      `json:"outbox_depth"`
	PADConnections  int      `json:"pad_connections"`
	Problems        []string `json:"problems,omitempty"`
}

// handleHealth answers 200 when the edge can serve arrivals (ok or
// degraded) and 503 when it cannot (down), so that a load balancer or
// systemd watchdog can act on the status code alone.
func (m *Main) handleHealth(w http.ResponseWriter, r *http.Request) {
	h := health{Status: "ok", Branch: m.Config.Branch, Version: version, Broker: "connected", Store: "ok",
		SnapshotAgeS: -1, PADConnections: m.PAD.Connections()}
	meta, err := m.meta(r.Context())
	if err != nil {
		h.Status, h.Store = "down", "error"
		h.Problems = append(h.Problems, "cache unreadable")
	}
	h.SnapshotVersion, h.Customers = meta.SnapshotVersion, meta.Customers
	if !meta.SnapshotAt.IsZero() {
		h.SnapshotAgeS = int64(time.Since(meta.SnapshotAt).Seconds())
	}
	if m.Broker == nil && (m.Ingest == nil || !m.Ingest.Connected()) {
		h.Broker = "disconnected"
		h.Status = "down"
		h.Problems = append(h.Problems, "not connected to the MQTT broker: arrivals wait at the broker")
	}
	if err := m.DB.View(r.Context(), func(tx edge.Tx) error {
		st, err := tx.OutboxStats()
		h.OutboxDepth = st.Depth
		return err
	}); err != nil {
		h.Problems = append(h.Problems, "outbox unreadable")
	}
	if m.Sender != nil {
		if w := m.Sender.Warn(); w != "" {
			h.Problems = append(h.Problems, w)
			if h.Status == "ok" {
				h.Status = "degraded"
			}
		}
	}
	if h.SnapshotVersion == 0 && h.Status == "ok" {
		h.Status = "degraded"
		h.Problems = append(h.Problems, "no customer data: every arrival is a new face")
	}
	code := http.StatusOK
	if h.Status == "down" {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(h)
}
