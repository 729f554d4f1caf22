package http

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"huiyan/hub"
)

func TestGCChunks(t *testing.T) {
	dir := t.TempDir()
	chunk := func(data string) hub.Chunk {
		cs, err := hub.BuildChunks(func(yield func(hub.Record, error) bool) { yield(hub.Delete(data), nil) }, 1<<20)
		if err != nil || len(cs) != 1 {
			t.Fatal(err)
		}
		return cs[0]
	}
	old, reused, fresh := chunk("C-old"), chunk("C-reused"), chunk("C-fresh")
	for _, c := range []hub.Chunk{old, reused, fresh} {
		if err := writeChunk(dir, c); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-chunkKeep - time.Hour)
	for _, c := range []hub.Chunk{old, reused} {
		if err := os.Chtimes(filepath.Join(dir, c.SHA256), long, long); err != nil {
			t.Fatal(err)
		}
	}
	// A new manifest names the reused chunk again: it must survive.
	if err := writeChunk(dir, reused); err != nil {
		t.Fatal(err)
	}
	n, err := gcChunks(dir, time.Now())
	if err != nil || n != 1 {
		t.Fatalf("gcChunks removed %d (%v), want 1", n, err)
	}
	for c, want := range map[string]bool{old.SHA256: false, reused.SHA256: true, fresh.SHA256: true} {
		if _, err := os.Stat(filepath.Join(dir, c)); (err == nil) != want {
			t.Errorf("chunk %s present=%v, want %v", c[:8], err == nil, want)
		}
	}
}
