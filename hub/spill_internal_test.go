package hub

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestSpillSorter checks that a merge returns every entry added, in (key,
// line) order, whether the entries stayed in memory, went to a few runs, or
// to so many runs that they were compacted.
func TestSpillSorter(t *testing.T) {
	for _, tt := range []struct {
		name             string
		n, budget, fanIn int
		minRuns, maxRuns int // run files after the adds, before the merge
	}{
		{name: "InMemory", n: 100, budget: 64 << 10, fanIn: 64},
		{name: "Runs", n: 5000, budget: 4 << 10, fanIn: 64, minRuns: 2, maxRuns: 63},
		// 4 KiB hold ~200 entries: 100 runs, compacted every 4.
		{name: "Compacted", n: 20000, budget: 4 << 10, fanIn: 4, minRuns: 1, maxRuns: 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSpillSorter(t.TempDir(), "test", tt.budget)
			s.fanIn = tt.fanIn
			rng := rand.New(rand.NewPCG(1, 2))
			type ent struct {
				key  string
				line uint32
				col  uint8
			}
			var want []ent
			for i := range tt.n {
				// Keys repeat (1 in 4) and vary in length, lines are unique.
				k := fmt.Sprintf("C%0*d", 1+rng.IntN(12), rng.IntN(tt.n*3/4))
				e := ent{k, uint32(i + 2), uint8(i % 7)}
				want = append(want, e)
				if err := s.add([]byte(e.key), e.line, e.col); err != nil {
					t.Fatal(err)
				}
			}
			if n := len(s.runs); n < tt.minRuns || n > tt.maxRuns {
				t.Fatalf("runs=%d, want %d to %d", n, tt.minRuns, tt.maxRuns)
			}
			slices.SortFunc(want, func(a, b ent) int {
				if c := bytes.Compare([]byte(a.key), []byte(b.key)); c != 0 {
					return c
				}
				return int(a.line) - int(b.line)
			})
			for pass := range 2 { // a merge can be read more than once
				m, err := s.merge()
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; ; i++ {
					it, err := m.next()
					if err == io.EOF {
						if i != len(want) {
							t.Fatalf("pass %d: %d entries, want %d", pass, i, len(want))
						}
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					if got := (ent{string(it.Key), it.Line, it.Col}); i >= len(want) || got != want[i] {
						t.Fatalf("pass %d: entry %d = %+v, want %+v", pass, i, got, want[min(i, len(want)-1)])
					}
				}
				m.close()
			}
			s.close()
		})
	}
}

func TestSpillSorter_Errors(t *testing.T) {
	t.Run("ErrKeyTooLong", func(t *testing.T) {
		s := newSpillSorter(t.TempDir(), "test", 4<<10)
		if err := s.add(make([]byte, 256), 2, 0); err == nil {
			t.Fatal("add of a 256-byte key: no error")
		}
	})
	t.Run("ErrAddAfterMerge", func(t *testing.T) {
		s := newSpillSorter(t.TempDir(), "test", 4<<10)
		if _, err := s.merge(); err != nil {
			t.Fatal(err)
		}
		if err := s.add([]byte("C1"), 2, 0); err == nil {
			t.Fatal("add after merge: no error")
		}
	})
	t.Run("ErrTruncatedRun", func(t *testing.T) {
		dir := t.TempDir()
		s := newSpillSorter(dir, "test", 4<<10)
		for i := range 2000 {
			if err := s.add(fmt.Appendf(nil, "C%06d", i), uint32(i+2), 0); err != nil {
				t.Fatal(err)
			}
		}
		if len(s.runs) == 0 {
			t.Fatal("no run written")
		}
		st, err := os.Stat(s.runs[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(s.runs[0], st.Size()-3); err != nil {
			t.Fatal(err)
		}
		m, err := s.merge()
		for err == nil {
			_, err = m.next()
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("merge of a truncated run: %v, want io.ErrUnexpectedEOF", err)
		}
		s.close()
	})
	t.Run("ErrNoDir", func(t *testing.T) {
		s := newSpillSorter(filepath.Join(t.TempDir(), "missing"), "test", 4<<10)
		var err error
		for i := 0; err == nil && i < 2000; i++ {
			err = s.add(fmt.Appendf(nil, "C%06d", i), uint32(i+2), 0)
		}
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("spilling into a missing directory: %v, want os.ErrNotExist", err)
		}
	})
}
