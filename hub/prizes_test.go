package hub_test

import (
	"errors"
	"strings"
	"testing"

	"huiyan"
	"huiyan/hub"
	"huiyan/hub/prizes"
)

// testPrizeTable is branch B001's table in canonical form, as the hub
// ships it, and the table itself.
func testPrizeTable(tb testing.TB) (string, *prizes.PrizeTable) {
	tb.Helper()
	ts, err := prizes.Parse(strings.NewReader("campaign,c1\nstarts,2026-11-01\nends,2026-12-31\n" + prizes.Header +
		"\nB001,cup,保温杯,Thermos cup,20000,50,,\nB001,,谢谢参与,Thanks for playing,rest,,,\n"))
	if err != nil {
		tb.Fatal(err)
	}
	return ts["B001"].Canonical(), ts["B001"]
}

func TestPrizesFingerprint(t *testing.T) {
	text, tb := testPrizeTable(t)
	// The hub computes it from the text without parsing; the wheel from
	// the table: they must agree, or the audit log would name a table the
	// hub never published.
	if got, want := hub.PrizesFingerprint(text), tb.Fingerprint(); got != want || len(got) != 16 {
		t.Fatalf("PrizesFingerprint = %q, want %q", got, want)
	}
	if got := hub.PrizesFingerprint(""); got != "" {
		t.Fatalf("PrizesFingerprint(\"\") = %q, want \"\"", got)
	}
}

func TestPrizes_Validate(t *testing.T) {
	text, _ := testPrizeTable(t)
	fp := hub.PrizesFingerprint(text)
	for _, tt := range []struct {
		name string
		p    *hub.Prizes
		ok   bool
	}{
		{"OK", &hub.Prizes{Branch: "B001", Fingerprint: fp, Table: text}, true},
		{"OK/NoTable", &hub.Prizes{Branch: "B001"}, true},
		{"ErrNil", nil, false},
		{"ErrBranch", &hub.Prizes{Branch: "B 001", Fingerprint: fp, Table: text}, false},
		{"ErrFingerprint", &hub.Prizes{Branch: "B001", Fingerprint: strings.Repeat("0", 16), Table: text}, false},
		{"ErrFingerprintWithoutTable", &hub.Prizes{Branch: "B001", Fingerprint: fp}, false},
		{"ErrTableWithoutFingerprint", &hub.Prizes{Branch: "B001", Table: text}, false},
		{"ErrUTF8", &hub.Prizes{Branch: "B001", Fingerprint: hub.PrizesFingerprint("\xff"), Table: "\xff"}, false},
		{"ErrTooLarge", func() *hub.Prizes {
			big := strings.Repeat("x", hub.MaxPrizesBytes+1)
			return &hub.Prizes{Branch: "B001", Fingerprint: hub.PrizesFingerprint(big), Table: big}
		}(), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestPrizes_Chunk: an OpPrizes record goes through a chunk as it was,
// and a malformed one is refused by the builder and by the reader.
func TestPrizes_Chunk(t *testing.T) {
	text, _ := testPrizeTable(t)
	p := &hub.Prizes{Branch: "B001", Fingerprint: hub.PrizesFingerprint(text), Table: text}
	g := newGen(3)
	c := g.customer(1, "B001")
	recs := []hub.Record{{Op: hub.OpDict, Dict: huiyan.DefaultTagDict()}, {Op: hub.OpStaff, Staff: testStaff(t)},
		{Op: hub.OpPrizes, Prizes: p}, {Op: hub.OpPrizes, Prizes: &hub.Prizes{Branch: "B001"}}, hub.Upsert(c)}
	chunks, err := hub.BuildChunks(recSeq(recs), 0)
	if err != nil || len(chunks) != 1 {
		t.Fatalf("BuildChunks = %d chunks, %v", len(chunks), err)
	}
	got, err := hub.ReadChunk(chunks[0].Data, chunks[0].SHA256, chunks[0].Size)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) || got[2].Op != hub.OpPrizes || *got[2].Prizes != *p || got[3].Prizes.Table != "" {
		t.Fatalf("records read back: %+v", got)
	}

	t.Run("ErrBuildBadFingerprint", func(t *testing.T) {
		bad := *p
		bad.Fingerprint = strings.Repeat("0", 16)
		if _, err := hub.BuildChunks(recSeq([]hub.Record{{Op: hub.OpPrizes, Prizes: &bad}}), 0); err == nil {
			t.Fatal("the builder published a prize table whose fingerprint is wrong")
		}
		if _, err := hub.BuildChunks(recSeq([]hub.Record{{Op: hub.OpPrizes}}), 0); err == nil {
			t.Fatal("the builder published a prize record without a table")
		}
	})
}

func TestStreamChecker_Prizes(t *testing.T) {
	text, _ := testPrizeTable(t)
	g := newGen(5)
	c1, c2 := g.customer(1, "B001"), g.customer(2, "B001")
	dictRec := hub.Record{Op: hub.OpDict, Dict: huiyan.DefaultTagDict()}
	staffRec := hub.Record{Op: hub.OpStaff, Staff: testStaff(t)}
	przRec := hub.Record{Op: hub.OpPrizes, Prizes: &hub.Prizes{Branch: "B001", Fingerprint: hub.PrizesFingerprint(text), Table: text}}
	noneRec := hub.Record{Op: hub.OpPrizes, Prizes: &hub.Prizes{Branch: "B001"}}
	foreignRec := hub.Record{Op: hub.OpPrizes, Prizes: &hub.Prizes{Branch: "B002"}}
	for _, tt := range []struct {
		name string
		full bool
		recs []hub.Record
		ok   bool
	}{
		{"OK/Full", true, []hub.Record{dictRec, staffRec, przRec, hub.Upsert(c1)}, true},
		{"OK/FullWithout", true, []hub.Record{dictRec, staffRec, hub.Upsert(c1), hub.Upsert(c2)}, true},
		{"OK/FullNoTable", true, []hub.Record{dictRec, staffRec, noneRec, hub.Upsert(c1)}, true},
		{"OK/DeltaOnlyPrizes", false, []hub.Record{przRec}, true},
		{"OK/DeltaBeforeCustomers", false, []hub.Record{staffRec, przRec, hub.Upsert(c1)}, true},
		{"ErrAfterCustomers", false, []hub.Record{hub.Upsert(c1), przRec}, false},
		{"ErrTwice", false, []hub.Record{przRec, noneRec}, false},
		{"ErrOtherBranch", false, []hub.Record{foreignRec, hub.Upsert(c1)}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := testManifest()
			if tt.full {
				m = fullManifest()
			}
			m.Chunks = []hub.ChunkRef{{SHA256: strings.Repeat("ab", 32), Size: 10, Records: len(tt.recs)}}
			sc := hub.NewStreamChecker(m, 1)
			err := sc.Check(m.Chunks[0], tt.recs)
			if err == nil {
				err = sc.Done()
			}
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, hub.ErrMalformed)) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestWithPrizes: the record goes after the dictionary and the roster and
// before the first customer, whatever the stream holds.
func TestWithPrizes(t *testing.T) {
	g := newGen(9)
	cs := []*huiyan.Customer{g.customer(1, "B001"), g.customer(2, "B001")}
	p := &hub.Prizes{Branch: "B001"}
	ops := func(rs []hub.Record) string {
		var b strings.Builder
		for _, r := range rs {
			b.WriteString(string(r.Op) + " ")
		}
		return strings.TrimSpace(b.String())
	}
	for _, tt := range []struct {
		name string
		recs []hub.Record
		want string
	}{
		{"Full", collect(t, hub.WithPrizes(p, hub.FullRecords(huiyan.DefaultTagDict(), nil, seq(cs)))), "dict staff prizes upsert upsert"},
		{"NoCustomers", collect(t, hub.WithPrizes(p, hub.FullRecords(huiyan.DefaultTagDict(), nil, seq(nil)))), "dict staff prizes"},
		{"DeltaBare", collect(t, hub.WithPrizes(p, hub.DeltaRecords(nil, nil, hub.Digests(seq(cs[:1])), seq(cs)))), "prizes upsert"},
		{"Nil", collect(t, hub.WithPrizes(nil, hub.FullRecords(huiyan.DefaultTagDict(), nil, seq(cs)))), "dict staff upsert upsert"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ops(tt.recs); got != tt.want {
				t.Fatalf("ops %q, want %q", got, tt.want)
			}
		})
	}
}
