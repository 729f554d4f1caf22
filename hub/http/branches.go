package http

import (
	"net/http"
	"time"

	"huiyan"
	"huiyan/hub"
	"huiyan/hub/store"
)

// CredentialResponse is POST /v1/credentials/{branch}: the new credential,
// shown once. The previous one stopped working when this was committed.
type CredentialResponse struct {
	Branch     string    `json:"branch"`
	Credential string    `json:"credential"`
	IssuedAt   time.Time `json:"issued_at"`
}

func (s *Server) handleCredential(w http.ResponseWriter, r *http.Request) {
	branch := r.PathValue("branch")
	if !huiyan.ValidBranchID(branch) {
		s.writeError(w, r, huiyan.Errorf(huiyan.EInvalid, "%q is not a branch id ([0-9A-Za-z-]{1,32})", branch))
		return
	}
	cred, err := s.st.IssueCredential(r.Context(), branch)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, CredentialResponse{Branch: branch, Credential: cred, IssuedAt: time.Now().UTC()})
}

// BranchesResponse is GET /v1/branches: every branch the hub knows (from
// the data, the credentials and the edges' reports), with the version its
// edge holds and since when, when it was last seen, its outbox backlog
// and its devices (store.Branch). Answered from this node's state.
type BranchesResponse struct {
	Version  uint64         `json:"version"` // the newest committed version
	Branches []store.Branch `json:"branches"`
}

func (s *Server) handleBranches(w http.ResponseWriter, r *http.Request) {
	bs, err := s.st.Branches()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if bs == nil {
		bs = []store.Branch{}
	}
	writeJSON(w, http.StatusOK, BranchesResponse{Version: s.st.LatestVersion(), Branches: bs})
}

func (s *Server) handleVersions(w http.ResponseWriter, r *http.Request) {
	vs, err := s.st.Versions()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if vs == nil {
		vs = []store.Version{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": vs, "oldest_retained": s.st.OldestRetained()})
}

// maxEventsBody bounds POST /v1/branches/{branch}/events: a full batch
// (hub.MaxEventBatch events of ~250 bytes) is ~125 KB; the bound leaves
// room for long ids without letting a client send megabytes.
const maxEventsBody = 1 << 20

// handleEvents takes a batch of upstream visit events. It answers
// hub.EventAck only once the batch is committed through raft and applied
// on this node (the leader; a follower proxies the request here and
// relays the answer): an edge that has the answer may forget the batch.
// Duplicates counts the ids the hub had already, and events older than
// the retention horizon (dropped, logged): the edge must not send them
// again either.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	var batch hub.EventBatch
	if err := decodeJSON(r, maxEventsBody, &batch); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := batch.Validate(); err != nil {
		s.writeError(w, r, huiyan.Errorf(huiyan.EInvalid, "%v", err))
		return
	}
	res, err := s.st.RecordEvents(r.Context(), r.PathValue("branch"), batch.Events)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, hub.EventAck{Accepted: res.Accepted, Duplicates: res.Duplicates + res.Expired})
}

// handleStatus takes an edge's heartbeat (hub.EdgeStatus) and answers 204
// once it is recorded (or found unchanged): GET /v1/branches shows it.
func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	var st hub.EdgeStatus
	if err := decodeJSON(r, 128<<10, &st); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := st.Validate(); err != nil {
		s.writeError(w, r, huiyan.Errorf(huiyan.EInvalid, "%v", err))
		return
	}
	if err := s.st.ReportStatus(r.Context(), r.PathValue("branch"), st); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleApplied(w http.ResponseWriter, r *http.Request) {
	var rep hub.AppliedReport
	if err := decodeJSON(r, 4<<10, &rep); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := rep.Validate(); err != nil {
		s.writeError(w, r, huiyan.Errorf(huiyan.EInvalid, "%v", err))
		return
	}
	if err := s.st.ReportApplied(r.Context(), r.PathValue("branch"), uint64(rep.Version)); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
