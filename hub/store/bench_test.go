package store_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"

	"huiyan/firmware-contracts/devsim"
	"huiyan/hub"
	"huiyan/hub/store"
)

// BenchmarkLogAppend measures the raft log store (raft-wal) the hub uses:
// fsync'd appends of batches of entries, as raft writes them. DESIGN.md in
// this folder compares it with raft-boltdb/v2.
func BenchmarkLogAppend(b *testing.B) {
	for _, c := range []struct{ batch, size int }{{1, 256}, {64, 256}, {1, 64 << 10}, {16, 64 << 10}} {
		b.Run(fmt.Sprintf("batch=%d/size=%d", c.batch, c.size), func(b *testing.B) {
			meta := &metadb.BoltMetaDB{}
			w, err := wal.Open(b.TempDir(), wal.WithMetaStore(meta))
			if err != nil {
				b.Fatal(err)
			}
			defer meta.Close()
			defer w.Close()
			data := bytes.Repeat([]byte{0x5a}, c.size)
			idx := uint64(1)
			b.SetBytes(int64(c.batch * c.size))
			for b.Loop() {
				logs := make([]*raft.Log, c.batch)
				for j := range logs {
					logs[j] = &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: data}
					idx++
				}
				if err := w.StoreLogs(logs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*c.batch)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkImport measures an import of 20,000 generated customers into a
// one-node cluster (validation, replication through raft, FSM writes,
// commit), in rows per second. HUIYAN_BENCH_CUSTOMERS is not read: change
// the constant for a bigger run.
func BenchmarkImport(b *testing.B) {
	const customers = 20000
	var tags bytes.Buffer
	if err := devsim.WriteTags(context.Background(), devsim.GenConfig{Customers: customers, Branches: 50, Seed: 1}, &tags); err != nil {
		b.Fatal(err)
	}
	s := MustOpenLeader(b, "bench")
	b.SetBytes(int64(tags.Len()))
	for b.Loop() {
		ctx := context.Background()
		run, err := s.BeginImport(ctx, store.ImportOptions{Format: hub.FormatCSV})
		if err != nil {
			b.Fatal(err)
		}
		if err := run.Tags(ctx, bytes.NewReader(tags.Bytes())); err != nil {
			b.Fatal(err)
		}
		if imp, err := run.Finish(ctx); err != nil || imp.Rows != customers {
			b.Fatalf("import: %v", err)
		}
	}
	b.ReportMetric(float64(b.N*customers)/b.Elapsed().Seconds(), "rows/s")
}
