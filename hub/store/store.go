package store

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"

	"huiyan"
	"huiyan/hub"
)

// Config configures a Store. Zero values take the defaults of New.
type Config struct {
	ID  string // node id, unique in the cluster
	Dir string // data directory: state.db, raft/, snapshots/, hub.pub

	// RaftBind is where the raft transport listens (host:port; port 0 picks
	// one). RaftAdvertise is the address the other nodes dial, required when
	// RaftBind is an unspecified address such as 0.0.0.0.
	RaftBind      string
	RaftAdvertise string
	// ClusterTLS secures the raft transport with mutual TLS 1.3 (see
	// ClusterTLS and DESIGN.md, "Transport security"). Nil: plain TCP,
	// which Open refuses unless RaftBind and RaftAdvertise are loopback
	// (ErrClusterTLSRequired).
	ClusterTLS *ClusterTLS
	// HTTPAddr is this node's HTTP address as the others reach it
	// (host:port): replicated so that a follower can forward writes to the
	// leader.
	HTTPAddr string

	// Bootstrap makes this node a one-member cluster when its data
	// directory holds no raft state yet; otherwise it waits to be joined.
	Bootstrap bool

	// SigningKey is the key from -signing-key, the same file on every node.
	// Nil: the first leader makes one and the cluster replicates it.
	SigningKey ed25519.PrivateKey

	// Retain is how many versions are kept for deltas (default 7): an edge
	// older than that gets a full snapshot.
	Retain int

	// Raft timings (defaults: raft's, which suit a LAN). Tests shorten them.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
	// SnapshotThreshold is how many log entries trigger an FSM snapshot
	// (default 8192); SnapshotInterval how often raft checks (default 2m);
	// TrailingLogs how many entries stay after a snapshot (default 10240),
	// so a follower a little behind catches up from the log.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// ApplyTimeout bounds one command (default 30s).
	ApplyTimeout time.Duration
	// WALSegmentBytes is the raft-wal segment size (default 64 MiB).
	WALSegmentBytes int
	// MmapBytes is state.db's initial memory map (default 1 GiB, address
	// space only): bbolt must remap as the file grows past it, and a remap
	// waits for open read transactions such as a snapshot being persisted.
	MmapBytes int

	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Retain <= 0 {
		c.Retain = 7
	}
	def := raft.DefaultConfig()
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = def.HeartbeatTimeout
	}
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = def.ElectionTimeout
	}
	if c.LeaderLeaseTimeout == 0 {
		c.LeaderLeaseTimeout = min(def.LeaderLeaseTimeout, c.HeartbeatTimeout)
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = def.CommitTimeout
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = def.SnapshotThreshold
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = def.SnapshotInterval
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = def.TrailingLogs
	}
	if c.ApplyTimeout == 0 {
		c.ApplyTimeout = 30 * time.Second
	}
	if c.WALSegmentBytes == 0 {
		c.WALSegmentBytes = wal.DefaultSegmentSize
	}
	if c.MmapBytes == 0 {
		c.MmapBytes = 1 << 30
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Store is one hub node's view of the cluster: the raft node, its log
// (raft-wal), its snapshots and the FSM (state.db). Writes go through raft
// and work only on the leader (ErrNotLeader elsewhere); reads are local.
type Store struct {
	c   Config
	log *slog.Logger

	fsm     *fsm
	raft    *raft.Raft
	wal     *wal.WAL
	walMeta *metadb.BoltMetaDB
	snaps   *raft.FileSnapshotStore
	trans   *raft.NetworkTransport
	stream  *tlsStream // under trans with ClusterTLS (its refusal counters); nil in plain TCP

	notify chan bool // raft's leadership notifications
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	running  string // the import this node is driving, if any
	keyErr   error  // a -signing-key that is not the cluster's key
	metrics  *Metrics
	pubSaved []byte // the hub.pub content last written
}

// New returns a Store for c; Open starts it.
func New(c Config) *Store {
	c.setDefaults()
	return &Store{c: c, log: c.Logger.With("node", c.ID), metrics: newMetrics()}
}

// ID returns the node id.
func (s *Store) ID() string { return s.c.ID }

// Dir returns the data directory.
func (s *Store) Dir() string { return s.c.Dir }

// Open opens the state, the log and the snapshots, restores the state from
// the newest snapshot if the state is behind it (a lost or replaced
// state.db), starts raft, and bootstraps a one-node cluster when configured
// to and the node has no raft state yet.
func (s *Store) Open(ctx context.Context) error {
	c := s.c
	if c.ID == "" {
		return errors.New("store: node id is required")
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	f, err := openFSM(filepath.Join(c.Dir, "state.db"), c.Retain, c.MmapBytes, s.log.With("component", "fsm"))
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	s.fsm = f
	f.onKey = s.keyChanged
	f.onApply = s.metrics.observeApply

	hcl := newHCLogger(s.log, "raft")
	s.snaps, err = raft.NewFileSnapshotStoreWithLogger(c.Dir, 2, hcl.Named("snapshot"))
	if err != nil {
		s.closeAll()
		return fmt.Errorf("store: snapshots: %w", err)
	}
	if err := s.catchUpFromSnapshot(); err != nil {
		s.closeAll()
		return err
	}
	if err := os.MkdirAll(filepath.Join(c.Dir, "raft"), 0o700); err != nil {
		s.closeAll()
		return fmt.Errorf("store: %w", err)
	}
	// The WAL's metadata database is ours to close: WAL.Close leaves it
	// open (and locked) in raft-wal v0.4.0.
	s.walMeta = &metadb.BoltMetaDB{}
	s.wal, err = wal.Open(filepath.Join(c.Dir, "raft"), wal.WithLogger(hcl.Named("wal")),
		wal.WithSegmentSize(c.WALSegmentBytes), wal.WithMetaStore(s.walMeta))
	if err != nil {
		s.closeAll()
		return fmt.Errorf("store: raft log: %w", err)
	}

	if s.trans, s.stream, err = s.openTransport(hcl); err != nil {
		s.closeAll()
		return err
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.ID)
	rc.Logger = hcl
	rc.HeartbeatTimeout = c.HeartbeatTimeout
	rc.ElectionTimeout = c.ElectionTimeout
	rc.LeaderLeaseTimeout = c.LeaderLeaseTimeout
	rc.CommitTimeout = c.CommitTimeout
	rc.SnapshotThreshold = c.SnapshotThreshold
	rc.SnapshotInterval = c.SnapshotInterval
	rc.TrailingLogs = c.TrailingLogs
	// The state is on disk and knows the last index it applied: raft must
	// not load the snapshot into it at start, only replay what follows.
	rc.NoSnapshotRestoreOnStart = true
	s.notify = make(chan bool, 16)
	rc.NotifyCh = s.notify
	if err := raft.ValidateConfig(rc); err != nil {
		s.closeAll()
		return fmt.Errorf("store: raft config: %w", err)
	}

	existing, err := raft.HasExistingState(s.wal, s.wal, s.snaps)
	if err != nil {
		s.closeAll()
		return fmt.Errorf("store: %w", err)
	}
	s.raft, err = raft.NewRaft(rc, f, s.wal, s.wal, s.snaps, s.trans)
	if err != nil {
		s.closeAll()
		return fmt.Errorf("store: raft: %w", err)
	}
	if c.Bootstrap && !existing {
		cfg := raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: s.trans.LocalAddr()}}}
		if err := s.raft.BootstrapCluster(cfg).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			s.closeAll()
			return fmt.Errorf("store: bootstrap: %w", err)
		}
		s.log.Info("bootstrapped a new cluster", "raft", s.trans.LocalAddr())
	}
	s.wg.Add(1)
	go s.watchLeadership()
	s.keyChanged()
	s.log.Info("store open", "raft", s.trans.LocalAddr(), "applied_index", f.applied.Load(), "version", f.version.Load(), "existing_state", existing)
	return nil
}

// catchUpFromSnapshot restores state.db from the newest snapshot when it is
// behind it. Raft would otherwise replay only the entries after the
// snapshot onto a state that lacks what came before.
func (s *Store) catchUpFromSnapshot() error {
	metas, err := s.snaps.List()
	if err != nil {
		return fmt.Errorf("store: list snapshots: %w", err)
	}
	if len(metas) == 0 || metas[0].Index <= s.fsm.applied.Load() {
		return nil
	}
	s.log.Warn("state is behind the newest snapshot: restoring it", "applied_index", s.fsm.applied.Load(), "snapshot_index", metas[0].Index)
	_, rc, err := s.snaps.Open(metas[0].ID)
	if err != nil {
		return fmt.Errorf("store: open snapshot: %w", err)
	}
	return s.fsm.Restore(rc)
}

// Close stops raft (a leader steps down quietly: the others elect a new
// one), the leadership watcher, the transport, the log and the state, in
// that order: nothing applies once the state closes.
func (s *Store) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	var err error
	if s.raft != nil {
		if e := s.raft.Shutdown().Error(); e != nil {
			err = fmt.Errorf("store: raft shutdown: %w", e)
		}
	}
	s.wg.Wait()
	if e := s.closeAll(); err == nil {
		err = e
	}
	return err
}

func (s *Store) closeAll() error {
	var errs []error
	if s.trans != nil {
		errs = append(errs, s.trans.Close())
		s.trans = nil
	}
	if s.wal != nil {
		errs = append(errs, s.wal.Close())
		s.wal = nil
	}
	if s.walMeta != nil {
		errs = append(errs, s.walMeta.Close())
		s.walMeta = nil
	}
	if s.fsm != nil {
		errs = append(errs, s.fsm.close())
	}
	return errors.Join(errs...)
}

// RaftAddr returns the address the raft transport listens on.
func (s *Store) RaftAddr() string { return string(s.trans.LocalAddr()) }

// IsLeader reports whether this node is the leader.
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// State returns this node's raft state: "leader", "follower", "candidate"
// or "shutdown".
func (s *Store) State() string { return stateName(s.raft.State()) }

func stateName(st raft.RaftState) string {
	switch st {
	case raft.Leader:
		return "leader"
	case raft.Follower:
		return "follower"
	case raft.Candidate:
		return "candidate"
	default:
		return "shutdown"
	}
}

// Leader returns the leader's id and raft address, empty when there is
// none known.
func (s *Store) Leader() (id, raftAddr string) {
	addr, lid := s.raft.LeaderWithID()
	return string(lid), string(addr)
}

// LeaderHTTP returns the leader's HTTP address, ErrNoLeader when there is
// no leader or its address is not known yet.
func (s *Store) LeaderHTTP() (string, error) {
	id, _ := s.Leader()
	if id == "" {
		return "", ErrNoLeader
	}
	ms, err := s.fsm.members()
	if err != nil {
		return "", err
	}
	if m, ok := ms[id]; ok && m.HTTPAddr != "" {
		return m.HTTPAddr, nil
	}
	return "", ErrNoLeader
}

// AppliedIndex returns the index of the last command this node's state
// holds. It is not raft's AppliedIndex, which counts entries handed to the
// FSM goroutine before they are applied: a reader that waits for an index
// must find the state there.
func (s *Store) AppliedIndex() uint64 { return s.fsm.applied.Load() }

// LatestVersion returns the newest committed version, 0 before the first.
func (s *Store) LatestVersion() uint64 { return s.fsm.version.Load() }

// Broken returns the state write error that stopped this node, if any.
func (s *Store) Broken() error { return s.fsm.broken }

// WaitForLeader waits until the cluster has a leader and returns its id.
func (s *Store) WaitForLeader(ctx context.Context) (string, error) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if id, _ := s.Leader(); id != "" {
			return id, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("wait for leader: %w", ErrNoLeader)
		case <-t.C:
		}
	}
}

// WaitForIndex waits until this node has applied the log up to idx.
func (s *Store) WaitForIndex(ctx context.Context, idx uint64) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.fsm.applied.Load() < idx {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Members returns the cluster's members as this node sees them.
func (s *Store) Members() ([]Member, error) {
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, translate(err)
	}
	info, err := s.fsm.members()
	if err != nil {
		return nil, err
	}
	leader, _ := s.Leader()
	var out []Member
	for _, srv := range f.Configuration().Servers {
		m := Member{ID: string(srv.ID), RaftAddr: string(srv.Address), HTTPAddr: info[string(srv.ID)].HTTPAddr}
		switch {
		case string(srv.ID) == s.c.ID:
			m.State = s.State()
		case string(srv.ID) == leader:
			m.State = "leader"
		case srv.Suffrage != raft.Voter:
			m.State = "nonvoter"
		default:
			m.State = "follower"
		}
		out = append(out, m)
	}
	return out, nil
}

// Join adds a node to the cluster as a voter. It runs on the leader
// (ErrNotLeader elsewhere) and is idempotent: a node that is already a
// member with the same address only has its HTTP address refreshed; a
// node that comes back under the same id with a new address, or a new id
// at an old address, replaces the stale entry (as rqlite does).
func (s *Store) Join(ctx context.Context, id, raftAddr, httpAddr string) error {
	if !s.IsLeader() {
		return ErrNotLeader
	}
	if id == "" || raftAddr == "" {
		return huiyan.Errorf(huiyan.EInvalid, "join needs a node id and a raft address")
	}
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return translate(err)
	}
	member := false
	for _, srv := range f.Configuration().Servers {
		sameID, sameAddr := srv.ID == raft.ServerID(id), srv.Address == raft.ServerAddress(raftAddr)
		switch {
		case sameID && sameAddr:
			member = true
		case sameID || sameAddr:
			if err := s.raft.RemoveServer(srv.ID, 0, s.c.ApplyTimeout).Error(); err != nil {
				return fmt.Errorf("remove stale member %s: %w", srv.ID, translate(err))
			}
			s.log.Info("removed stale member", "member", srv.ID, "raft", srv.Address)
		}
	}
	if !member {
		if err := s.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(raftAddr), 0, s.c.ApplyTimeout).Error(); err != nil {
			return fmt.Errorf("add voter %s: %w", id, translate(err))
		}
		s.log.Info("member joined", "member", id, "raft", raftAddr, "http", httpAddr)
	}
	_, err := s.apply(ctx, cmdSetMember, memberCmd{ID: id, RaftAddr: raftAddr, HTTPAddr: httpAddr}, nil)
	return err
}

// Remove takes a node out of the cluster. Leader only.
func (s *Store) Remove(ctx context.Context, id string) error {
	if !s.IsLeader() {
		return ErrNotLeader
	}
	if err := s.raft.RemoveServer(raft.ServerID(id), 0, s.c.ApplyTimeout).Error(); err != nil {
		return translate(err)
	}
	_, err := s.apply(ctx, cmdRemoveMember, removeMemberCmd{ID: id}, nil)
	return err
}

// Snapshot makes raft take an FSM snapshot now (and truncate its log).
func (s *Store) Snapshot() error {
	return translate(s.raft.Snapshot().Error())
}

// apply proposes a command and waits until it is applied on this node,
// the leader. It returns the command's result or its application error.
func (s *Store) apply(ctx context.Context, t commandType, hdr any, blob []byte) (any, error) {
	b, err := encodeCommand(t, hdr, blob)
	if err != nil {
		return nil, err
	}
	timeout := s.c.ApplyTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
		if timeout <= 0 {
			return nil, ctx.Err()
		}
	}
	f := s.raft.Apply(b, timeout)
	if err := s.await(ctx, f); err != nil {
		return nil, err
	}
	r, ok := f.Response().(response)
	if !ok {
		return nil, fmt.Errorf("store: %s: unexpected response %T", t, f.Response())
	}
	return r.value, r.err
}

// await waits for a raft future. raft never answers an Apply future that
// was still queued when it shut down (its futures have no shutdown
// channel), so the wait also ends when the store closes or ctx ends; the
// goroutine left waiting on such a future ends with the process.
func (s *Store) await(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return translate(err)
	case <-s.ctx.Done():
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// translate maps raft's errors to this package's (STYLE.md, habit 7).
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return ErrNotLeader
	case errors.Is(err, raft.ErrLeadershipLost):
		return ErrLeadershipLost
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("store: raft busy: %w", ErrNoLeader)
	}
	return err
}

// watchLeadership runs the leader's duties each time this node becomes
// leader: its member record, the cluster's signing key, and failing an
// import that a previous leader left open.
func (s *Store) watchLeadership() {
	defer s.wg.Done()
	stop := func() {}
	defer func() { stop() }()
	for {
		select {
		case <-s.ctx.Done():
			return
		case leader := <-s.notify:
			stop()
			stop = func() {}
			s.metrics.leaderChanges.Inc()
			if !leader {
				s.log.Info("lost leadership")
				continue
			}
			s.log.Info("became leader")
			stop = s.startDuties()
		}
	}
}

// startDuties runs leaderDuties until the returned function is called.
func (s *Store) startDuties() context.CancelFunc {
	ctx, cancel := context.WithCancel(s.ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.leaderDuties(ctx)
	}()
	return cancel
}

// leaderDuties retries until each duty is done or leadership is lost.
func (s *Store) leaderDuties(ctx context.Context) {
	// raft.Barrier: the new leader's state has every committed entry, so
	// what it reads below is the cluster's state.
	for ctx.Err() == nil {
		if err := s.raft.Barrier(s.c.ApplyTimeout).Error(); err == nil {
			break
		}
		if !s.IsLeader() {
			return
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
	duties := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"member", s.ensureMember},
		{"signing key", s.ensureKey},
		{"stale import", s.failStaleImport},
	}
	for _, d := range duties {
		for ctx.Err() == nil && s.IsLeader() {
			err := d.fn(ctx)
			if err == nil {
				break
			}
			s.log.Warn("leader duty failed, retrying", "duty", d.name, "err", err)
			sleepCtx(ctx, 200*time.Millisecond)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (s *Store) ensureMember(ctx context.Context) error {
	ms, err := s.fsm.members()
	if err != nil {
		return err
	}
	want := memberCmd{ID: s.c.ID, RaftAddr: s.RaftAddr(), HTTPAddr: s.c.HTTPAddr}
	if ms[s.c.ID] == want {
		return nil
	}
	_, err = s.apply(ctx, cmdSetMember, want, nil)
	return err
}

// ensureKey gives the cluster its signing key once: the -signing-key
// file's public key (the private key stays in the file on every node), or
// a new key that the cluster replicates.
func (s *Store) ensureKey(ctx context.Context) error {
	if _, err := s.fsm.key(); !errors.Is(err, ErrNoKey) {
		return err
	}
	cmd := keyCmd{CreatedAt: time.Now().UTC()}
	if s.c.SigningKey != nil {
		cmd.Public = s.c.SigningKey.Public().(ed25519.PublicKey)
	} else {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return err
		}
		cmd.Public, cmd.Private = pub, der
	}
	cmd.KeyID = hub.KeyID(cmd.Public)
	if _, err := s.apply(ctx, cmdSetKey, cmd, nil); err != nil {
		return err
	}
	s.log.Info("cluster signing key set", "key_id", cmd.KeyID, "from_file", s.c.SigningKey != nil)
	return nil
}

// failStaleImport fails an import that no node is driving any more: its
// leader died or lost leadership, and the upload it was reading is gone.
// The import's rows are undone; HQ uploads again.
func (s *Store) failStaleImport(ctx context.Context) error {
	id := s.fsm.activeImport()
	s.mu.Lock()
	mine := id != "" && id == s.running
	s.mu.Unlock()
	if id == "" || mine {
		return nil
	}
	imp, err := s.fsm.getImport(id)
	if err != nil {
		return err
	}
	_, err = s.apply(ctx, cmdImportFinish, importFinishCmd{
		ID: id, Outcome: StatusFailed, At: time.Now().UTC(), Rows: imp.Rows, Errors: imp.Errors,
		Message: "the leader running the import changed before it was committed; nothing was changed, upload again",
	}, nil)
	if err == nil {
		s.log.Warn("failed an import left open by a previous leader", "import", id)
		s.metrics.imports.WithLabelValues(string(StatusFailed)).Inc()
	}
	return err
}

// keyChanged writes {data}/hub.pub (PKIX PEM) when the cluster's key is
// known or changed, and checks a -signing-key against it.
func (s *Store) keyChanged() {
	k, err := s.fsm.key()
	if err != nil {
		return
	}
	var keyErr error
	if s.c.SigningKey != nil && !bytes.Equal(s.c.SigningKey.Public().(ed25519.PublicKey), k.Public) {
		keyErr = fmt.Errorf("store: -signing-key is key %s but the cluster signs with %s", hub.KeyID(s.c.SigningKey.Public().(ed25519.PublicKey)), k.KeyID)
		s.log.Error("signing key mismatch: this node cannot sign manifests", "err", keyErr)
	}
	pem, err := hub.MarshalPublicKeyPEM(k.Public)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.keyErr = keyErr
	same := bytes.Equal(pem, s.pubSaved)
	s.mu.Unlock()
	if same {
		return
	}
	if err := writeFileAtomic(filepath.Join(s.c.Dir, "hub.pub"), pem, 0o644); err != nil {
		s.log.Error("write hub.pub", "err", err)
		return
	}
	s.mu.Lock()
	s.pubSaved = pem
	s.mu.Unlock()
	s.log.Info("wrote the cluster's public key", "path", filepath.Join(s.c.Dir, "hub.pub"), "key_id", k.KeyID)
}

// PublicKeys returns the cluster's public signing keys (one for now).
func (s *Store) PublicKeys() ([]Key, error) {
	k, err := s.fsm.key()
	if errors.Is(err, ErrNoKey) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []Key{{KeyID: k.KeyID, Public: k.Public, CreatedAt: k.CreatedAt}}, nil
}

// SigningKey returns the private key this node signs with and its key id:
// the -signing-key file's when it is the cluster's key, else the key the
// cluster replicated.
func (s *Store) SigningKey() (ed25519.PrivateKey, string, error) {
	k, err := s.fsm.key()
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	keyErr := s.keyErr
	s.mu.Unlock()
	if keyErr != nil {
		return nil, "", keyErr
	}
	if s.c.SigningKey != nil {
		return s.c.SigningKey, k.KeyID, nil
	}
	if len(k.Private) == 0 {
		return nil, "", fmt.Errorf("store: the cluster's key %s is kept in -signing-key files and this node has none", k.KeyID)
	}
	p, err := x509.ParsePKCS8PrivateKey(k.Private)
	if err != nil {
		return nil, "", fmt.Errorf("store: signing key: %w", err)
	}
	priv, ok := p.(ed25519.PrivateKey)
	if !ok {
		return nil, "", fmt.Errorf("store: signing key is a %T", p)
	}
	return priv, k.KeyID, nil
}

// KeyError returns why this node cannot sign, nil when it can or when the
// cluster has no key yet.
func (s *Store) KeyError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keyErr
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// --- credentials, branches, events ---

// CredentialPrefix starts every edge credential, so that one found in a
// log or a config file is recognisable.
const CredentialPrefix = "hyc1_"

// IssueCredential makes a new credential for the branch's edge and
// replicates its SHA-256 (never the credential) in the same command that
// revokes the previous one. It returns the credential, which nobody can
// recover later. Leader only.
//
// A credential is 32 random bytes, so a fast hash is enough: there is
// nothing to guess that a slow hash would protect.
func (s *Store) IssueCredential(ctx context.Context, branch string) (string, error) {
	if !huiyan.ValidBranchID(branch) {
		return "", huiyan.Errorf(huiyan.EInvalid, "%q is not a branch id", branch)
	}
	if !s.IsLeader() {
		return "", ErrNotLeader
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return "", err
	}
	cred := CredentialPrefix + branch + "_" + encodeSecret(secret)
	sum := sha256.Sum256([]byte(cred))
	hint := cred[:len(CredentialPrefix)+len(branch)+1+4]
	if _, err := s.apply(ctx, cmdSetCredential, credentialCmd{Branch: branch, Hash: sum[:], Hint: hint, At: time.Now().UTC()}, nil); err != nil {
		return "", err
	}
	s.log.Info("edge credential issued", "branch", branch, "hint", hint)
	return cred, nil
}

// Authenticate returns the branch whose current credential cred is.
func (s *Store) Authenticate(cred string) (string, bool) {
	if cred == "" || len(cred) > 256 {
		return "", false
	}
	sum := sha256.Sum256([]byte(cred))
	return s.fsm.credentialBranch(sum[:])
}

// ReportApplied records that the branch's edge holds version. Leader only;
// a report of the version already recorded is not replicated again.
func (s *Store) ReportApplied(ctx context.Context, branch string, version uint64) error {
	if !s.IsLeader() {
		return ErrNotLeader
	}
	bs, err := s.fsm.branches()
	if err != nil {
		return err
	}
	for _, b := range bs {
		if b.ID == branch && b.Applied == version && !b.AppliedSince.IsZero() && time.Since(b.ReportedAt) < time.Minute {
			return nil
		}
	}
	_, err = s.apply(ctx, cmdReportApplied, appliedCmd{Branch: branch, Version: version, At: time.Now().UTC()}, nil)
	return err
}

// Branches returns every branch the hub knows: from the data, the
// credentials and the edges' reports.
func (s *Store) Branches() ([]Branch, error) { return s.fsm.branches() }

// Import returns an import by id.
func (s *Store) Import(id string) (*Import, error) { return s.fsm.getImport(id) }

// Imports returns the newest imports first, at most limit (0: all),
// without their line errors.
func (s *Store) Imports(limit int) ([]Import, error) { return s.fsm.listImports(limit) }

// Version returns a committed version.
func (s *Store) Version(v uint64) (*Version, error) { return s.fsm.getVersion(v) }

// Versions returns every committed version, oldest first.
func (s *Store) Versions() ([]Version, error) { return s.fsm.listVersions() }

// OldestRetained returns the oldest version still readable, 0 before the
// first.
func (s *Store) OldestRetained() uint64 {
	v := s.LatestVersion()
	if v == 0 {
		return 0
	}
	if r := uint64(s.c.Retain); v >= r {
		return v - r + 1
	}
	return 1
}

// Customers calls fn with every customer of the branch at a retained
// version, in id order.
func (s *Store) Customers(branch string, version uint64, fn func(*huiyan.Customer) error) error {
	return s.fsm.customers(branch, version, fn)
}

// Delta calls fn with what changed in the branch from version have to
// version: a customer to upsert, or the id of one to delete (c nil), in id
// order. ErrVersionGone: have is no longer retained; send a full snapshot.
func (s *Store) Delta(branch string, have, version uint64, fn func(c *huiyan.Customer, deleted string) error) error {
	return s.fsm.delta(branch, have, version, fn)
}

// Staff returns the staff roster in force at a retained version (all
// branches; hub.BranchStaff picks one).
func (s *Store) Staff(version uint64) ([]huiyan.Staff, error) { return s.fsm.staff(version) }

// StepDown hands leadership to another voter when this node leads and has
// one, so that a planned shutdown costs the cluster no election timeout.
func (s *Store) StepDown() error {
	if !s.IsLeader() {
		return nil
	}
	f := s.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return translate(err)
	}
	if len(f.Configuration().Servers) < 2 {
		return nil
	}
	return translate(s.raft.LeadershipTransfer().Error())
}

// HTTPAddr returns the HTTP address this node advertises.
func (s *Store) HTTPAddr() string { return s.c.HTTPAddr }
