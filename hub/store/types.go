package store

import (
	"errors"
	"time"
)

// Errors callers branch on. Raft's own errors are translated to these at
// this package's edge (STYLE.md, habit 7), so that hub/http never imports
// hashicorp/raft.
var (
	// ErrNotLeader: the write must go to the leader; LeaderHTTP says where.
	ErrNotLeader = errors.New("store: not the leader")
	// ErrNoLeader: the cluster has no leader right now (an election, or a
	// lost quorum). Retry later.
	ErrNoLeader = errors.New("store: no leader")
	// ErrLeadershipLost: the leader lost its leadership while the command
	// was in flight; it may or may not have been committed.
	ErrLeadershipLost = errors.New("store: leadership lost, outcome unknown")
	// ErrClosed: the store is closed or closing.
	ErrClosed = errors.New("store: closed")
	// ErrNotFound: no such import, version, branch or key.
	ErrNotFound = errors.New("store: not found")
	// ErrVersionGone: the version is older than the oldest one retained, so
	// no delta from it can be made; send a full snapshot instead.
	ErrVersionGone = errors.New("store: version no longer retained")
	// ErrNoKey: the cluster has no signing key yet (it is made by the first
	// leader right after bootstrap).
	ErrNoKey = errors.New("store: no signing key yet")
	// ErrBroken: this node failed to write its state and stopped applying
	// commands so as not to diverge from the others; restart it.
	ErrBroken = errors.New("store: state write failed, node must be restarted")
)

// Status is the state of an import.
type Status string

// Import states. An import is receiving until it is committed (a new
// version exists on every node), refused (bad lines: nothing changed) or
// failed (an error or a leader change: nothing changed; retry).
const (
	StatusReceiving Status = "receiving"
	StatusCommitted Status = "committed"
	StatusRefused   Status = "refused"
	StatusFailed    Status = "failed"
)

// Done reports whether the import has ended.
func (s Status) Done() bool { return s != StatusReceiving }

// MaxLineErrors is how many line errors an import keeps; the count of all of
// them is in Import.Errors.
const MaxLineErrors = 1000

// LineError is one refused line of an uploaded file, as hub.LineError with
// the file it is in ("tags", "staff", "dict" or "prizes"). Line 0 is about
// the whole file (a required tag missing from a dictionary, a prize file
// over its size limit).
type LineError struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// Import is what the cluster knows of one upload of HQ's snapshot.
type Import struct {
	ID      string `json:"id"`
	Status  Status `json:"status"`
	Version uint64 `json:"version"` // the version it reserved; it exists only when committed
	Name    string `json:"name"`    // the uploaded file's name, if given
	Format  string `json:"format"`
	Node    string `json:"node"` // the leader that ran it

	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`

	Rows      int `json:"rows"`      // rows read
	Errors    int `json:"errors"`    // bad lines (tags, staff, dict, prizes); a duplicate row counts for its id and each shared token
	Customers int `json:"customers"` // rows accepted and replicated
	Changed   int `json:"changed"`   // new or different customers
	Deleted   int `json:"deleted"`   // customers absent from this snapshot
	Staff     int `json:"staff"`     // staff rows, when a roster came with it
	// DictVersion is the tag dictionary version of the committed version;
	// DictTags the tags of the dictionary the upload brought (0: none, or
	// the same as the cluster's, which makes no new dictionary version).
	DictVersion int `json:"dict_version,omitempty"`
	DictTags    int `json:"dict_tags,omitempty"`
	// Prizes is set when the upload brought prize wheel tables
	// (prizes.csv); PrizeTables is how many branches have one in it (0:
	// HQ withdrew every table). Without, the previous version's tables
	// carry forward.
	Prizes      bool `json:"prizes,omitempty"`
	PrizeTables int  `json:"prize_tables,omitempty"`

	LineErrors []LineError `json:"line_errors,omitempty"` // the first MaxLineErrors
	Message    string      `json:"message,omitempty"`     // why it was refused or failed
}

// Version is one committed snapshot: every branch's data as of one import.
type Version struct {
	Version      uint64    `json:"version"`
	ImportID     string    `json:"import_id"`
	CreatedAt    time.Time `json:"created_at"`
	Customers    int       `json:"customers"`
	Changed      int       `json:"changed"`
	Deleted      int       `json:"deleted"`
	DictVersion  int       `json:"dict_version"`
	StaffVersion uint64    `json:"staff_version"` // the version whose roster applies (0: none yet)
	// PrizesVersion is the version whose prize tables apply: the last
	// import that brought prizes.csv (0: HQ never sent any, and manifests
	// carry no prize table).
	PrizesVersion uint64 `json:"prizes_version,omitempty"`
}

// Member is one node of the cluster.
type Member struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
	// State is "leader", "follower" or "nonvoter" as the local node sees
	// it; the local node reports its own raft state ("candidate" during an
	// election), and "unknown" when a member's HTTP address is not known.
	State string `json:"state"`
}

// Key is the cluster's signing key, public part.
type Key struct {
	KeyID     string    `json:"key_id"`
	Public    []byte    `json:"public"` // ed25519, 32 bytes
	CreatedAt time.Time `json:"created_at"`
}

// Branch is what the hub knows of one branch.
type Branch struct {
	ID        string `json:"branch"`
	Customers int    `json:"customers"` // in the newest state
	// Applied is the version the branch's edge reported holding, and since
	// when; zero before its first report.
	Applied      uint64    `json:"applied_version"`
	AppliedSince time.Time `json:"applied_since,omitzero"`
	ReportedAt   time.Time `json:"reported_at,omitzero"`
	// Credential is when the branch's current edge credential was issued,
	// zero without one; CredentialHint is its public prefix.
	CredentialAt   time.Time `json:"credential_issued_at,omitzero"`
	CredentialHint string    `json:"credential_hint,omitempty"`
	// EdgeState is EdgeNone (no credential: no edge can connect),
	// EdgeUnknown (a credential, but its edge never reported), EdgeOnline
	// or EdgeOffline (last seen within EdgeStale or not), as of the read.
	EdgeState string `json:"edge_state"`
	// LastSeen is the newest of the edge's last replicated heartbeat and
	// its last applied-version report, by the hub's clock.
	LastSeen time.Time `json:"last_seen,omitzero"`

	// From the edge's last heartbeat (hub.EdgeStatus); zero, and absent
	// from the JSON, before its first. HeartbeatAt is the hub's clock when
	// it was replicated (see StatusRefresh).
	HeartbeatAt         time.Time `json:"heartbeat_at,omitzero"`
	EdgeVersion         string    `json:"edge_version,omitempty"`
	EdgeSnapshotVersion int64     `json:"edge_snapshot_version,omitempty"`
	// OutboxDepth is the events waiting at the edge; nil before the first
	// heartbeat, so that "unknown" is not shown as an empty outbox.
	OutboxDepth    *int      `json:"outbox_depth,omitempty"`
	OutboxOldest   time.Time `json:"outbox_oldest,omitzero"` // the oldest waiting event's time
	DevicesOnline  int       `json:"devices_online"`
	DevicesOffline int       `json:"devices_offline"`
	Devices        []Device  `json:"devices,omitempty"`
}
