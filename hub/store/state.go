package store

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	bolt "go.etcd.io/bbolt"

	"huiyan"
)

// Reads of the state. They run on any node and see what this node has
// applied, which may trail the leader by a few entries.

func (f *fsm) getImport(id string) (*Import, error) {
	var imp Import
	err := f.view(func(tx *bolt.Tx) error {
		return getJSON(tx.Bucket(bImports), []byte(id), &imp)
	})
	if err != nil {
		return nil, err
	}
	return &imp, nil
}

func (f *fsm) listImports(limit int) ([]Import, error) {
	var out []Import
	err := f.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bImports).ForEach(func(_, v []byte) error {
			var imp Import
			if err := json.Unmarshal(v, &imp); err != nil {
				return err
			}
			imp.LineErrors = nil
			out = append(out, imp)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.After(out[j].StartedAt)
		}
		return out[i].ID > out[j].ID
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, err
}

func (f *fsm) activeImport() string {
	var id string
	_ = f.view(func(tx *bolt.Tx) error {
		id = string(tx.Bucket(bMeta).Get(kActive))
		return nil
	})
	return id
}

func (f *fsm) getVersion(v uint64) (*Version, error) {
	var out *Version
	err := f.view(func(tx *bolt.Tx) error {
		var err error
		out, err = getVersion(tx, v)
		return err
	})
	return out, err
}

func (f *fsm) listVersions() ([]Version, error) {
	var out []Version
	err := f.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bVersions).ForEach(func(_, v []byte) error {
			var ver Version
			if err := json.Unmarshal(v, &ver); err != nil {
				return err
			}
			out = append(out, ver)
			return nil
		})
	})
	return out, err
}

func (f *fsm) members() (map[string]memberCmd, error) {
	out := map[string]memberCmd{}
	err := f.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bMembers).ForEach(func(k, v []byte) error {
			var m memberCmd
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			out[string(k)] = m
			return nil
		})
	})
	return out, err
}

// key returns the cluster's signing key, ErrNoKey before there is one.
func (f *fsm) key() (*keyCmd, error) {
	var k keyCmd
	err := f.view(func(tx *bolt.Tx) error {
		id := tx.Bucket(bMeta).Get(kKey)
		if id == nil {
			return ErrNoKey
		}
		return getJSON(tx.Bucket(bKeys), id, &k)
	})
	if err != nil {
		return nil, err
	}
	return &k, nil
}

func (f *fsm) credentialBranch(hash []byte) (string, bool) {
	var branch string
	_ = f.view(func(tx *bolt.Tx) error {
		branch = string(tx.Bucket(bCredHash).Get(hash))
		return nil
	})
	return branch, branch != ""
}

func (f *fsm) branches() ([]Branch, error) {
	byID := map[string]*Branch{}
	get := func(id string) *Branch {
		b := byID[id]
		if b == nil {
			b = &Branch{ID: id}
			byID[id] = b
		}
		return b
	}
	err := f.view(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bBcount).ForEach(func(k, v []byte) error {
			get(string(k)).Customers = int(getU64(tx.Bucket(bBcount), k))
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bApplied).ForEach(func(k, v []byte) error {
			var st appliedState
			if err := json.Unmarshal(v, &st); err != nil {
				return err
			}
			b := get(string(k))
			b.Applied, b.AppliedSince, b.ReportedAt = st.Version, st.Since, st.ReportedAt
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bStatus).ForEach(func(k, v []byte) error {
			var st EdgeStatus
			if err := json.Unmarshal(v, &st); err != nil {
				return err
			}
			get(string(k)).setHeartbeat(&st)
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bCreds).ForEach(func(k, v []byte) error {
			var c credentialCmd
			if err := json.Unmarshal(v, &c); err != nil {
				return err
			}
			b := get(string(k))
			b.CredentialAt, b.CredentialHint = c.At, c.Hint
			return nil
		})
	})
	out := make([]Branch, 0, len(byID))
	for _, b := range byID {
		b.setEdgeState()
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

// retained checks that version v can be read: committed and not collected.
func (f *fsm) retained(tx *bolt.Tx, v uint64) error {
	newest := getU64(tx.Bucket(bMeta), kVersion)
	switch {
	case v == 0 || v > newest:
		return fmt.Errorf("version %d: %w", v, ErrNotFound)
	case newest >= f.retain && v < newest-f.retain+1:
		return fmt.Errorf("version %d: %w", v, ErrVersionGone)
	}
	return nil
}

// scanBranch calls fn for every customer id of the branch's index, in id
// order, with the row visible at version a and the row visible at version
// b (nil when none).
func scanBranch(tx *bolt.Tx, branch string, a, b uint64, fn func(id string, va, vb []byte) error) error {
	prefix := append([]byte(branch), 0)
	cust := tx.Bucket(bCust)
	c := tx.Bucket(bBidx).Cursor()
	var cur string
	var va, vb []byte
	started := false
	flush := func() error {
		if !started || (va == nil && vb == nil) {
			return nil
		}
		return fn(cur, va, vb)
	}
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		id, from := splitIDFrom(k[len(prefix):])
		if !started || id != cur {
			if err := flush(); err != nil {
				return err
			}
			cur, va, vb, started = id, nil, nil, true
		}
		v := cust.Get(custKey(id, from))
		if v == nil {
			return fmt.Errorf("branch index names a missing row")
		}
		to := rowTo(v)
		if va == nil && from <= a && a < to {
			va = v
		}
		if vb == nil && from <= b && b < to {
			vb = v
		}
	}
	return flush()
}

func rowCustomer(v []byte) (*huiyan.Customer, error) {
	r, err := decodeRecord(rowRecord(v))
	if err != nil {
		return nil, err
	}
	return r.customer()
}

func (f *fsm) customers(branch string, version uint64, fn func(*huiyan.Customer) error) error {
	return f.view(func(tx *bolt.Tx) error {
		if err := f.retained(tx, version); err != nil {
			return err
		}
		return scanBranch(tx, branch, version, version, func(_ string, v, _ []byte) error {
			if v == nil {
				return nil
			}
			c, err := rowCustomer(v)
			if err != nil {
				return err
			}
			return fn(c)
		})
	})
}

func (f *fsm) delta(branch string, have, version uint64, fn func(c *huiyan.Customer, deleted string) error) error {
	return f.view(func(tx *bolt.Tx) error {
		if err := f.retained(tx, version); err != nil {
			return err
		}
		if err := f.retained(tx, have); err != nil {
			return err
		}
		if have > version {
			return fmt.Errorf("delta from %d to %d: %w", have, version, ErrNotFound)
		}
		return scanBranch(tx, branch, have, version, func(id string, old, cur []byte) error {
			switch {
			case cur == nil:
				return fn(nil, id)
			case old != nil && bytes.Equal(rowHash(old), rowHash(cur)):
				return nil
			}
			c, err := rowCustomer(cur)
			if err != nil {
				return err
			}
			return fn(c, "")
		})
	})
}

// liveIDs calls fn with the id of every customer whose current row is
// older than version: the candidates for deletion by the import that
// reserved version. It runs on the leader, in id order (byte order: the
// 0 after the id in a row's key sorts it before any longer id), one page
// at a time: it scans the customers after the id `after` ("" for the
// first page), at most limit of them in one read transaction, and returns
// the last id scanned, for the next page, and whether it reached the end.
func (f *fsm) liveIDs(version uint64, after string, limit int, fn func(id string) error) (last string, done bool, err error) {
	err = f.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bCust).Cursor()
		var k, v []byte
		if after == "" {
			k, v = c.First()
		} else {
			// "after" 1 is past every row of after ("after" 0 ^from) and
			// before the next id.
			k, v = c.Seek(append([]byte(after), 1))
		}
		last = after
		scanned := 0
		for ; k != nil; k, v = c.Next() {
			id, from := splitIDFrom(k)
			if id == last && scanned > 0 {
				continue // an older row of the same customer
			}
			if scanned == limit {
				return nil
			}
			last = id
			scanned++
			if rowTo(v) == live && from < version {
				if err := fn(id); err != nil {
					return err
				}
			}
		}
		done = true
		return nil
	})
	return last, done, err
}

func (f *fsm) staff(version uint64) ([]huiyan.Staff, error) {
	var out []huiyan.Staff
	err := f.view(func(tx *bolt.Tx) error {
		if err := f.retained(tx, version); err != nil {
			return err
		}
		v, err := getVersion(tx, version)
		if err != nil {
			return err
		}
		if v.StaffVersion == 0 {
			return nil
		}
		blob := tx.Bucket(bStaff).Get(be64(v.StaffVersion))
		if blob == nil {
			return fmt.Errorf("roster of version %d: %w", v.StaffVersion, ErrNotFound)
		}
		out, err = decodeStaff(blob)
		return err
	})
	return out, err
}

func encodeStaff(staff []huiyan.Staff) ([]byte, error) {
	recs := make([]staffRecord, len(staff))
	for i, s := range staff {
		recs[i] = staffRecord{ID: s.ID, Branch: s.Branch, Role: string(s.Role), Name: s.DisplayName, PINHash: s.PINHash}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(recs); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeStaff(blob []byte) ([]huiyan.Staff, error) {
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		return nil, fmt.Errorf("decode roster: %w", err)
	}
	var recs []staffRecord
	if err := json.NewDecoder(io.LimitReader(zr, 256<<20)).Decode(&recs); err != nil {
		return nil, fmt.Errorf("decode roster: %w", err)
	}
	out := make([]huiyan.Staff, len(recs))
	for i, r := range recs {
		out[i] = huiyan.Staff{ID: r.ID, Branch: r.Branch, Role: huiyan.Role(r.Role), DisplayName: r.Name, PINHash: r.PINHash}
	}
	return out, nil
}
