package http

import (
	"crypto/ed25519"
	"net"
	"net/http"
	"time"

	"huiyan"
	"huiyan/hub"
)

// ClusterResponse is GET /v1/cluster (DESIGN.md, "Hub contract").
type ClusterResponse struct {
	Leader       string   `json:"leader"`
	Members      []Member `json:"members"`
	AppliedIndex uint64   `json:"applied_index"`
}

// Member is one node in ClusterResponse.
type Member struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	State    string `json:"state"`
}

func (s *Server) handleCluster(w http.ResponseWriter, r *http.Request) {
	ms, err := s.st.Members()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	leader, _ := s.st.Leader()
	out := ClusterResponse{Leader: leader, Members: []Member{}, AppliedIndex: s.st.AppliedIndex()}
	for _, m := range ms {
		out.Members = append(out.Members, Member{ID: m.ID, RaftAddr: m.RaftAddr, HTTPAddr: m.HTTPAddr, State: m.State})
	}
	writeJSON(w, http.StatusOK, out)
}

// HealthResponse is GET /healthz: "ok" when the node knows a leader and
// can sign, "degraded" when it has no leader or cannot sign (its
// -signing-key is not the cluster's), "down" when it stopped applying
// after a failed write.
type HealthResponse struct {
	Status         string  `json:"status"`
	Node           string  `json:"node"`
	State          string  `json:"state"`
	Leader         string  `json:"leader"`
	AppliedIndex   uint64  `json:"applied_index"`
	Version        uint64  `json:"snapshot_version"`
	OldestRetained uint64  `json:"oldest_retained_version"`
	KeyID          string  `json:"key_id,omitempty"`
	Problem        string  `json:"problem,omitempty"`
	HubVersion     string  `json:"hub_version,omitempty"`
	UptimeSeconds  float64 `json:"uptime_s"`
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	leader, _ := s.st.Leader()
	h := HealthResponse{
		Status: "ok", Node: s.st.ID(), State: s.st.State(), Leader: leader,
		AppliedIndex: s.st.AppliedIndex(), Version: s.st.LatestVersion(), OldestRetained: s.st.OldestRetained(),
		HubVersion: s.opts.Version, UptimeSeconds: time.Since(s.started).Seconds(),
	}
	if keys, _ := s.st.PublicKeys(); len(keys) > 0 {
		h.KeyID = keys[0].KeyID
	}
	status := http.StatusOK
	switch {
	case s.st.Broken() != nil:
		h.Status, h.Problem = "down", "a state write failed: restart this node"
		status = http.StatusServiceUnavailable
	case leader == "":
		h.Status, h.Problem = "degraded", "no leader"
	case s.st.KeyError() != nil:
		h.Status, h.Problem = "degraded", "this node's -signing-key is not the cluster's key"
	case h.KeyID == "":
		h.Status, h.Problem = "degraded", "no signing key yet"
	}
	writeJSON(w, status, h)
}

func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.st.PublicKeys()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pubs := make([]ed25519.PublicKey, len(keys))
	for i, k := range keys {
		pubs[i] = k.Public
	}
	ks, err := hub.NewKeySet(pubs...)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, hub.NewKeysResponse(ks))
}

// JoinRequest is POST /v1/join: a node asks to be added as a voter
// (huiyan-hub -join). It needs the admin token.
type JoinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

func (s *Server) handleJoin(w http.ResponseWriter, r *http.Request) {
	var req JoinRequest
	if err := decodeJSON(r, 4<<10, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, a := range []string{req.RaftAddr, req.HTTPAddr} {
		if _, _, err := net.SplitHostPort(a); err != nil {
			s.writeError(w, r, huiyan.Errorf(huiyan.EInvalid, "join: %q is not host:port", a))
			return
		}
	}
	if req.ID == "" || len(req.ID) > 64 {
		s.writeError(w, r, huiyan.Errorf(huiyan.EInvalid, "join: node id must be 1 to 64 characters"))
		return
	}
	if err := s.st.Join(r.Context(), req.ID, req.RaftAddr, req.HTTPAddr); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Info("node joined", "member", req.ID, "raft", req.RaftAddr, "http", req.HTTPAddr)
	s.handleCluster(w, r)
}
