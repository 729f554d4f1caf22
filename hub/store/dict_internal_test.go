package store

import (
	"bytes"
	"compress/gzip"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"huiyan"
	"huiyan/hub"
)

// TestFSM_Dict: the FSM checks a dictionary that comes with import_finish
// again, on the dictionaries it stored, whatever the leader checked: a
// re-pointed id or a missing required tag is an application error, the
// version is not committed and nothing is stored; a good one is stored
// with the data version it first belongs to.
func TestFSM_Dict(t *testing.T) {
	f, err := openFSM(filepath.Join(t.TempDir(), "state.db"), 3, 1<<20, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	var index uint64
	apply := func(t *testing.T, ct commandType, hdr any, blob []byte) response {
		t.Helper()
		data, err := encodeCommand(ct, hdr, blob)
		if err != nil {
			t.Fatal(err)
		}
		index++
		resp, _ := f.Apply(&raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}).(response)
		return resp
	}
	customer, err := encodeCustomer(&huiyan.Customer{ID: "C1", DisplayName: "王*", Tier: huiyan.TierGold, HomeBranch: "B001",
		MBankStatus: huiyan.MBankNone, MBankIdleDays: -1, Risk: "R2", AUMBand: "aum_50k_200k", Lifecycle: huiyan.LifecycleGrowth})
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(append(customer, '\n'))
	zw.Close()
	// importWith runs one import of the customer whose finish brings d.
	importWith := func(t *testing.T, id string, d *huiyan.TagDict) response {
		t.Helper()
		now := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
		if r := apply(t, cmdImportStart, importStartCmd{ID: id, Format: "csv", At: now}, nil); r.err != nil {
			t.Fatal(r.err)
		}
		if r := apply(t, cmdImportBatch, importBatchCmd{ID: id, Seq: 1, Records: 1, Rows: 1}, z.Bytes()); r.err != nil {
			t.Fatal(r.err)
		}
		blob, err := encodeDict(d)
		if err != nil {
			t.Fatal(err)
		}
		return apply(t, cmdImportFinish, importFinishCmd{ID: id, Outcome: StatusCommitted, At: now, Rows: 1, Dict: d.Version()}, blob)
	}
	parse := func(t *testing.T, csv string, version int) *huiyan.TagDict {
		t.Helper()
		d, errs, err := hub.ReadTagDict(strings.NewReader(csv), version, nil)
		if err != nil || len(errs) != 0 {
			t.Fatalf("dictionary: %v %v", errs, err)
		}
		return d
	}
	var shipped strings.Builder
	shipped.WriteString(huiyan.TagDictHeader + "\n")
	for _, tg := range huiyan.DefaultTagDict().Tags() {
		shipped.WriteString(strings.Join([]string{strconv.Itoa(tg.ID), tg.Code, tg.NameZH, tg.NameEN, string(tg.Kind), tg.Category, strconv.Itoa(tg.Priority)}, ",") + "\n")
	}
	v1 := parse(t, shipped.String(), 1)
	v2 := parse(t, shipped.String()+"155,drone_hobbyist,无人机爱好者,Drone hobbyist,branch,lifestyle,85\n", 2)

	for _, tt := range []struct {
		name    string
		dict    *huiyan.TagDict
		want    string // the error code; "" for a commit
		version uint64 // the newest version after it
	}{
		{"OKFirst", v1, "", 1},
		{"OKAddTag", v2, "", 2},
		{"ErrRepointed", parse(t, shipped.String()+"155,kite_flyer,风筝爱好者,Kite flyer,branch,lifestyle,85\n", 3), huiyan.EInvalid, 2},
		{"ErrRequiredMissing", withoutTag(t, v2, huiyan.TagPotentialVIP), huiyan.EInvalid, 2},
		{"ErrSameVersion", v2, huiyan.EConflict, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := "imp-" + tt.name
			r := importWith(t, id, tt.dict)
			if got := huiyan.ErrorCode(r.err); (r.err == nil) != (tt.want == "") || (r.err != nil && got != tt.want) {
				t.Fatalf("finish: %v, want code %q", r.err, tt.want)
			}
			if r.err != nil {
				// The import is still open: refuse it, as the leader's
				// failStaleImport would.
				if r := apply(t, cmdImportFinish, importFinishCmd{ID: id, Outcome: StatusFailed, At: time.Now()}, nil); r.err != nil {
					t.Fatal(r.err)
				}
			}
			if v := f.version.Load(); v != tt.version {
				t.Fatalf("newest version %d, want %d", v, tt.version)
			}
			st, err := f.dictState()
			if err != nil {
				t.Fatal(err)
			}
			want := v1
			if tt.version == 2 {
				want = v2
			}
			if !hub.SameTags(st.current, want) || !st.stored {
				t.Fatalf("current dictionary version %d with %d tags, want version %d", st.current.Version(), len(st.current.Tags()), want.Version())
			}
		})
	}
}

// withoutTag is d, one version up, without the tag: what hub.ReadTagDict
// would refuse for a required tag, made directly.
func withoutTag(t *testing.T, d *huiyan.TagDict, code string) *huiyan.TagDict {
	t.Helper()
	var tags []huiyan.Tag
	for _, tg := range d.Tags() {
		if tg.Code != code {
			tags = append(tags, tg)
		}
	}
	out, err := huiyan.NewTagDict(d.Version()+1, tags)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
