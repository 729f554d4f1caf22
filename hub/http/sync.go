package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"huiyan"
	"huiyan/hub"
	"huiyan/hub/store"
)

// syncCache keeps the signed manifests this node built, so that 600 edges
// polling the same (branch, have, newest) get the same bytes without a
// rebuild; the chunks they name are files under {data}/chunks, named by
// their SHA-256.
type syncCache struct {
	mu        sync.Mutex
	manifests map[manifestKey]cachedManifest
	building  map[manifestKey]*sync.Mutex
}

type manifestKey struct {
	branch        string
	have, version uint64
}

type cachedManifest struct {
	body    []byte
	expires time.Time
}

// lock serialises builds of one manifest, so that a burst of edges asking
// for it builds it once.
func (c *syncCache) lock(k manifestKey) func() {
	c.mu.Lock()
	if c.building == nil {
		c.building = map[manifestKey]*sync.Mutex{}
	}
	m := c.building[k]
	if m == nil {
		m = &sync.Mutex{}
		c.building[k] = m
	}
	c.mu.Unlock()
	m.Lock()
	return m.Unlock
}

func (c *syncCache) get(k manifestKey, now time.Time) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Hand out a cached manifest only while it has most of its life left:
	// an edge that applies it late must not find it expired.
	if m, ok := c.manifests[k]; ok && now.Before(m.expires) {
		return m.body
	}
	return nil
}

func (c *syncCache) put(k manifestKey, body []byte, now, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.manifests == nil {
		c.manifests = map[manifestKey]cachedManifest{}
	}
	// Drop what has expired, so that the cache holds about one manifest per
	// branch and base, not one per version the process has seen.
	for key, m := range c.manifests {
		if !now.Before(m.expires) {
			delete(c.manifests, key)
			delete(c.building, key)
		}
	}
	c.manifests[k] = cachedManifest{body: body, expires: expires}
}

// chunkDir is where a branch's chunks are kept. Per branch, so that an edge
// can only ever fetch chunks that were built for its own branch, even if it
// learns another branch's chunk hash.
func (s *Server) chunkDir(branch string) string { return filepath.Join(s.st.Dir(), "chunks", branch) }

// handleManifest answers the signed manifest that takes the branch from
// version have to the newest (DESIGN.md, "Hub contract"): a delta when have
// is still retained, a full snapshot otherwise. 204 when have is the
// newest; 409 when have is newer than anything this node knows (an edge
// ahead of a restored hub, or of a follower that has not caught up).
// Any member answers from its replicated state.
func (s *Server) handleManifest(w http.ResponseWriter, r *http.Request) {
	branch := r.PathValue("branch")
	if !huiyan.ValidBranchID(branch) {
		s.writeError(w, r, huiyan.Errorf(huiyan.ENotFound, "no such branch"))
		return
	}
	have, err := strconv.ParseUint(r.URL.Query().Get("have"), 10, 64)
	if r.URL.Query().Get("have") == "" {
		have, err = 0, nil
	}
	if err != nil {
		s.writeError(w, r, huiyan.Errorf(huiyan.EInvalid, "have must be a version number"))
		return
	}
	newest := s.st.LatestVersion()
	switch {
	case newest == 0 || have == newest:
		w.WriteHeader(http.StatusNoContent)
		return
	case have > newest:
		s.writeError(w, r, huiyan.Errorf(huiyan.EConflict, "this hub node's newest version is %d, older than the %d the edge holds", newest, have))
		return
	}
	if have < s.st.OldestRetained() {
		have = 0 // every version no longer retained gets the same full snapshot
	}
	k := manifestKey{branch, have, newest}
	now := time.Now()
	body := s.sync.get(k, now.Add(hub.DefaultManifestTTL/2))
	if body == nil {
		unlock := s.sync.lock(k)
		if body = s.sync.get(k, now.Add(hub.DefaultManifestTTL/2)); body == nil {
			body, err = s.buildManifest(branch, have, newest, now)
			if err == nil {
				s.sync.put(k, body, now, now.Add(hub.DefaultManifestTTL))
			}
		}
		unlock()
		if err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

// buildManifest writes the chunks of the branch's records and signs the
// manifest naming them.
func (s *Server) buildManifest(branch string, have, newest uint64, now time.Time) ([]byte, error) {
	cur, err := s.st.Version(newest)
	if err != nil {
		return nil, err
	}
	// The dictionary of the version, as the import stored it: the one its
	// customers' tag ids come from (HQ may have added tags since the hub
	// was built).
	dict, err := s.st.Dict(newest)
	if err != nil {
		return nil, fmt.Errorf("tag dictionary of version %d: %w", newest, err)
	}
	staffAll, err := s.st.Staff(newest)
	if err != nil {
		return nil, err
	}
	staff := hub.BranchStaff(staffAll, branch)
	// The branch's prize wheel table, once HQ has sent any (issue 7).
	prz, stated, err := s.st.Prizes(newest, branch)
	if err != nil {
		return nil, fmt.Errorf("prize tables of version %d: %w", newest, err)
	}
	var przp *hub.Prizes
	if stated {
		przp = &prz
	}
	full := have == 0 || have < s.st.OldestRetained()
	var base *store.Version
	if !full {
		if base, err = s.st.Version(have); errors.Is(err, store.ErrVersionGone) {
			full = true
		} else if err != nil {
			return nil, err
		}
	}
	var recs iter.Seq2[hub.Record, error]
	if full {
		recs = hub.WithPrizes(przp, hub.FullRecords(dict, staff, s.customers(branch, newest)))
	} else {
		recs = s.delta(branch, have, newest, base, cur, dict, staff, przp)
	}
	if err := os.MkdirAll(s.chunkDir(branch), 0o700); err != nil {
		return nil, err
	}
	m := hub.Manifest{Branch: branch, Version: int64(newest), Full: full, CreatedAt: now,
		ExpiresAt: now.Add(hub.DefaultManifestTTL), DictVersion: dict.Version()}
	if !full {
		m.BaseVersion = int64(have)
	}
	cb, err := hub.NewChunkBuilder(hub.DefaultChunkBytes, func(c hub.Chunk) error {
		m.Chunks = append(m.Chunks, c.Ref())
		return writeChunk(s.chunkDir(branch), c)
	})
	if err != nil {
		return nil, err
	}
	for rec, err := range recs {
		if err != nil {
			return nil, err
		}
		if err := cb.Add(rec); err != nil {
			return nil, err
		}
	}
	if err := cb.Close(); err != nil {
		return nil, err
	}
	if n, err := gcChunks(s.chunkDir(branch), now); err != nil {
		s.log.Warn("chunk garbage collection", "branch", branch, "err", err)
	} else if n > 0 {
		s.log.Info("old chunks removed", "branch", branch, "files", n)
	}
	priv, keyID, err := s.st.SigningKey()
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	env, err := hub.Sign(priv, keyID, m)
	if err != nil {
		return nil, err
	}
	s.log.Info("manifest built", "branch", branch, "version", newest, "base", m.BaseVersion, "full", full,
		"chunks", len(m.Chunks), "bytes", m.Bytes(), "records", m.Records())
	return json.Marshal(env)
}

// writeChunk stores a chunk under its hash, durably and atomically: a
// half-written or torn file is never served (after a power cut it would be
// kept forever under a valid name, since a rebuild gives the same name).
func writeChunk(dir string, c hub.Chunk) error {
	path := filepath.Join(dir, c.SHA256)
	if st, err := os.Stat(path); err == nil && st.Size() == c.Size {
		// Content-addressed: the same bytes are already there. Touch them:
		// a new manifest names them, so gcChunks must keep them.
		now := time.Now()
		return os.Chtimes(path, now, now)
	}
	tmp, err := os.CreateTemp(dir, c.SHA256+".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(c.Data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync() // the rename itself
}

// chunkKeep is how long a chunk file outlives the last manifest that named
// it: twice a manifest's life, so that no unexpired manifest can name a
// chunk that is gone.
const chunkKeep = 2 * hub.DefaultManifestTTL

// gcChunks removes the chunk files of a branch that no manifest built in
// the last chunkKeep named (every build touches its chunks). Old chunks
// hold customers HQ may since have deleted: they must not linger.
func gcChunks(dir string, now time.Time) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || info.IsDir() || now.Sub(info.ModTime()) < chunkKeep {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err == nil {
			n++
		}
	}
	return n, nil
}

// errStop ends a store scan early when the consumer stops.
var errStop = errors.New("stop")

func (s *Server) customers(branch string, v uint64) iter.Seq2[*huiyan.Customer, error] {
	return func(yield func(*huiyan.Customer, error) bool) {
		err := s.st.Customers(branch, v, func(c *huiyan.Customer) error {
			if !yield(c, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(nil, err)
		}
	}
}

// delta is the record stream from have to newest: the dictionary, the
// roster and the branch's prize table (prz, nil when the version has no
// prize tables) only when they changed, then upserts and deletes in id
// order.
func (s *Server) delta(branch string, have, newest uint64, base, cur *store.Version, dict *huiyan.TagDict, staff []huiyan.Staff, prz *hub.Prizes) iter.Seq2[hub.Record, error] {
	return func(yield func(hub.Record, error) bool) {
		if base.DictVersion != cur.DictVersion && !yield(hub.Record{Op: hub.OpDict, Dict: dict}, nil) {
			return
		}
		if base.StaffVersion != cur.StaffVersion {
			old, err := s.st.Staff(have)
			if err != nil {
				yield(hub.Record{}, err)
				return
			}
			if hub.StaffHash(hub.BranchStaff(old, branch)) != hub.StaffHash(staff) && !yield(hub.Record{Op: hub.OpStaff, Staff: staff}, nil) {
				return
			}
		}
		if prz != nil && base.PrizesVersion != cur.PrizesVersion {
			// A new prizes.csv: only the branches whose table it changed
			// (or the first word the edge gets about one) get a record.
			old, oldStated, err := s.st.Prizes(have, branch)
			if err != nil {
				yield(hub.Record{}, err)
				return
			}
			if (!oldStated || old.Fingerprint != prz.Fingerprint) && !yield(hub.Record{Op: hub.OpPrizes, Prizes: prz}, nil) {
				return
			}
		}
		err := s.st.Delta(branch, have, newest, func(c *huiyan.Customer, deleted string) error {
			rec := hub.Delete(deleted)
			if c != nil {
				rec = hub.Upsert(c)
			}
			if !yield(rec, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield(hub.Record{}, err)
		}
	}
}

// handleChunk serves a chunk by its SHA-256, with Range support so that an
// edge on a flaky WAN resumes a download. 404 for a chunk this node does
// not have: the edge fetches a new manifest from it, which builds it.
func (s *Server) handleChunk(w http.ResponseWriter, r *http.Request) {
	sha, branch := r.PathValue("sha256"), r.PathValue("branch")
	if len(sha) != 64 || !isLowerHex(sha) || !huiyan.ValidBranchID(branch) {
		s.writeError(w, r, huiyan.Errorf(huiyan.ENotFound, "no such chunk"))
		return
	}
	f, err := os.Open(filepath.Join(s.chunkDir(branch), sha))
	if err != nil {
		s.writeError(w, r, huiyan.Errorf(huiyan.ENotFound, "no such chunk"))
		return
	}
	defer f.Close()
	hub.ServeChunk(w, r, sha, f)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
