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

// BranchesResponse is GET /v1/branches: every branch the hub knows, with
// the version its edge holds and since when.
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

// handleEvents takes upstream visit events, idempotent by id. Issue 6
// stores the events; for now the hub keeps their ids, which is what makes
// a redelivered batch harmless.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	var batch hub.EventBatch
	if err := decodeJSON(r, 4<<20, &batch); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := batch.Validate(); err != nil {
		s.writeError(w, r, huiyan.Errorf(huiyan.EInvalid, "%v", err))
		return
	}
	ids := make([]string, len(batch.Events))
	for i, e := range batch.Events {
		ids[i] = e.ID
	}
	n, err := s.st.RecordEvents(r.Context(), r.PathValue("branch"), ids)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, hub.EventAck{Accepted: n, Duplicates: len(ids) - n})
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
