package hub_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"huiyan"
	"huiyan/hub"
)

// testRecords is a full snapshot of n generated customers: dict, staff,
// upserts.
func testRecords(tb testing.TB, n int, seed uint64) []hub.Record {
	tb.Helper()
	cs := newGen(seed).customers(n)
	return collect(tb, hub.FullRecords(huiyan.DefaultTagDict(), testStaff(tb), seq(cs)))
}

func mustBuild(tb testing.TB, rs []hub.Record, max int) []hub.Chunk {
	tb.Helper()
	chunks, err := hub.BuildChunks(recSeq(rs), max)
	if err != nil {
		tb.Fatal(err)
	}
	return chunks
}

// readChunks reads every chunk back, checking it against its manifest entry.
func readChunks(tb testing.TB, chunks []hub.Chunk) []hub.Record {
	tb.Helper()
	var out []hub.Record
	for i, c := range chunks {
		recs, err := hub.ReadChunk(c.Data, c.SHA256, c.Size)
		if err != nil {
			tb.Fatalf("chunk %d: %v", i, err)
		}
		if len(recs) != c.Records {
			tb.Fatalf("chunk %d: %d records, want %d", i, len(recs), c.Records)
		}
		out = append(out, recs...)
	}
	return out
}

// sameRecord compares records by what the wire carries: customers by
// CustomerHash and their tokens, the roster and the dictionary exactly.
func sameRecord(a, b hub.Record) bool {
	if a.Op != b.Op || a.ID() != b.ID() {
		return false
	}
	switch a.Op {
	case hub.OpUpsert:
		return hub.CustomerHash(a.Customer) == hub.CustomerHash(b.Customer) &&
			reflect.DeepEqual(a.Customer.Tokens, b.Customer.Tokens)
	case hub.OpStaff:
		return reflect.DeepEqual(a.Staff, b.Staff)
	case hub.OpDict:
		return a.Dict.Version() == b.Dict.Version() && reflect.DeepEqual(a.Dict.Tags(), b.Dict.Tags())
	}
	return true
}

func TestBuildReadChunks(t *testing.T) {
	rs := testRecords(t, 1500, 1)
	rs = append(rs, hub.Delete("C999999998"), hub.Delete("C999999999"))
	const max = 128 << 10
	chunks := mustBuild(t, rs, max)
	if len(chunks) < 3 {
		t.Fatalf("%d chunks of %d bytes max, want several", len(chunks), max)
	}
	total := 0
	for i, c := range chunks {
		sum := sha256.Sum256(c.Data)
		switch {
		case c.SHA256 != hex.EncodeToString(sum[:]):
			t.Fatalf("chunk %d: SHA256 is not the hash of Data", i)
		case c.Size != int64(len(c.Data)):
			t.Fatalf("chunk %d: Size=%d, want %d", i, c.Size, len(c.Data))
		case c.Ref() != hub.ChunkRef{SHA256: c.SHA256, Size: c.Size, Records: c.Records}:
			t.Fatalf("chunk %d: Ref = %+v", i, c.Ref())
		}
		if raw := gunzip(t, c.Data); len(raw) > max {
			t.Fatalf("chunk %d: %d bytes uncompressed, more than %d", i, len(raw), max)
		}
		total += c.Records
	}
	if total != len(rs) {
		t.Fatalf("%d records in chunks, want %d", total, len(rs))
	}
	back := readChunks(t, chunks)
	for i := range rs {
		if !sameRecord(rs[i], back[i]) {
			t.Fatalf("record %d: got %+v, want %+v", i, back[i], rs[i])
		}
	}
	// Maturity dates come back as midnight UTC+8.
	for _, r := range back {
		if r.Op != hub.OpUpsert {
			continue
		}
		for _, m := range r.Customer.Maturities {
			if h, mi, s := m.Date.In(cst).Clock(); h+mi+s != 0 {
				t.Fatalf("maturity %v is not midnight UTC+8", m.Date)
			}
		}
	}
}

func gunzip(tb testing.TB, data []byte) []byte {
	tb.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// TestChunkFormat pins the bytes a chunk holds: gzip with an empty header,
// JSON Lines with the documented shapes.
func TestChunkFormat(t *testing.T) {
	c := newGen(7).customer(1, "B001")
	c.Tokens = c.Tokens[:1]
	c.Tokens[0].Token = strings.Repeat("0", 63) + "1"
	c.Maturities = nil
	chunks := mustBuild(t, []hub.Record{
		{Op: hub.OpStaff, Staff: testStaff(t)[:1]},
		hub.Upsert(c),
		hub.Delete("C2"),
	}, 0)
	if len(chunks) != 1 {
		t.Fatalf("%d chunks, want 1", len(chunks))
	}
	zr, err := gzip.NewReader(bytes.NewReader(chunks[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	if zr.Name != "" || zr.Comment != "" || !zr.ModTime.IsZero() || zr.Extra != nil {
		t.Errorf("gzip header = %+v, want empty", zr.Header)
	}
	raw, _ := io.ReadAll(zr)
	lines := strings.Split(string(raw), "\n")
	if len(lines) != 4 || lines[3] != "" {
		t.Fatalf("chunk = %q, want 3 lines", raw)
	}
	if !strings.HasPrefix(lines[0], `{"op":"staff","staff":[{"staff_id":"lobby-B001","branch":"B001","role":"lobby","display_name":"大堂 王*","pin_hash":"pbkdf2-sha256$1000$`) {
		t.Errorf("staff line = %s", lines[0])
	}
	wantCustomer := fmt.Sprintf(`{"op":"upsert","customer":{"customer_id":"C000000001","display_name":%q,"tier":%q,"home_branch":"B001",`,
		c.DisplayName, c.Tier)
	if !strings.HasPrefix(lines[1], wantCustomer) ||
		!strings.HasSuffix(lines[1], `"tokens":[{"kind":"idcard","key":"k1","token":"`+c.Tokens[0].Token+`"}]}}`) {
		t.Errorf("upsert line = %s", lines[1])
	}
	if lines[2] != `{"op":"delete","customer_id":"C2"}` {
		t.Errorf("delete line = %s", lines[2])
	}
}

func TestBuildChunks_Deterministic(t *testing.T) {
	// Two runs from separately generated (equal) data give the same
	// addresses: content addressing works across builds of one binary.
	a := mustBuild(t, testRecords(t, 1000, 42), 64<<10)
	b := mustBuild(t, testRecords(t, 1000, 42), 64<<10)
	if len(a) != len(b) {
		t.Fatalf("%d and %d chunks", len(a), len(b))
	}
	for i := range a {
		if a[i].SHA256 != b[i].SHA256 || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Fatalf("chunk %d differs between runs", i)
		}
	}
	c := mustBuild(t, testRecords(t, 1000, 43), 64<<10)
	if c[len(c)-1].SHA256 == a[len(a)-1].SHA256 {
		t.Fatal("different data, same address")
	}
}

func TestBuildChunks_Errors(t *testing.T) {
	bad := newGen(1).customer(1, "B001")
	bad.DisplayName = "王小明" // not masked
	failing := func(yield func(hub.Record, error) bool) {
		yield(hub.Delete("C1"), nil)
		yield(hub.Record{}, errors.New("store read failed"))
	}
	for _, tt := range []struct {
		name string
		recs iter.Seq2[hub.Record, error]
		max  int
		sub  string
	}{
		{"RecordTooLarge", recSeq(testRecords(t, 1, 1)), 4 << 10, "more than the chunk limit"},
		{"MaxTooLarge", recSeq(nil), hub.MaxChunkBytes + 1, "max chunk bytes"},
		{"NegativeMax", recSeq(nil), -1, "max chunk bytes"},
		{"UnmaskedName", recSeq([]hub.Record{hub.Upsert(bad)}), 0, "display_name"},
		{"UnknownOp", recSeq([]hub.Record{{Op: "merge"}}), 0, "unknown op"},
		{"UpsertWithoutCustomer", recSeq([]hub.Record{{Op: hub.OpUpsert}}), 0, "without a customer"},
		{"DictWithoutDict", recSeq([]hub.Record{{Op: hub.OpDict}}), 0, "without a dictionary"},
		{"IteratorError", failing, 0, "store read failed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := hub.BuildChunks(tt.recs, tt.max)
			if err == nil || !strings.Contains(err.Error(), tt.sub) {
				t.Fatalf("err = %v, want one containing %q", err, tt.sub)
			}
			if strings.Contains(fmt.Sprint(err), bad.DisplayName) {
				t.Fatalf("err = %v names a customer", err)
			}
		})
	}
	if chunks, err := hub.BuildChunks(recSeq(nil), 0); err != nil || len(chunks) != 0 {
		t.Fatalf("no records: %d chunks, %v; want none", len(chunks), err)
	}
}

func TestReadChunk_Refusals(t *testing.T) {
	c := mustBuild(t, testRecords(t, 50, 3), 0)[0]
	tampered := bytes.Clone(c.Data)
	tampered[len(tampered)/2] ^= 0x01
	for _, tt := range []struct {
		name string
		data []byte
		sha  string
		size int64
		want error
	}{
		{"OK", c.Data, c.SHA256, c.Size, nil},
		{"ErrChunkHash/Tampered", tampered, c.SHA256, c.Size, hub.ErrChunkHash},
		{"ErrChunkHash/OtherChunk", c.Data, strings.Repeat("0", 64), c.Size, hub.ErrChunkHash},
		{"ErrChunkSize/Truncated", c.Data[:len(c.Data)-1], c.SHA256, c.Size, hub.ErrChunkSize},
		{"ErrChunkSize/Longer", append(bytes.Clone(c.Data), 0), c.SHA256, c.Size, hub.ErrChunkSize},
		{"ErrChunkSize/Empty", nil, c.SHA256, c.Size, hub.ErrChunkSize},
		{"ErrMalformed/BadSHA", c.Data, "xyz", c.Size, hub.ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := hub.ReadChunk(tt.data, tt.sha, tt.size)
			if tt.want == nil {
				if err != nil || len(recs) != c.Records {
					t.Fatalf("ReadChunk = %d records, %v; want %d", len(recs), err, c.Records)
				}
				return
			}
			if !errors.Is(err, tt.want) || recs != nil {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// gz compresses raw as the hub would and returns it with its address, so
// that decoding, not the hash, is what a case tests.
func gz(tb testing.TB, raw string) ([]byte, string, int64) {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := io.WriteString(zw, raw); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), hex.EncodeToString(sum[:]), int64(buf.Len())
}

func TestReadChunk_Malformed(t *testing.T) {
	good := newGen(9).customer(1, "B001")
	line := func(edit func(*hub.CustomerWire)) string {
		w := hub.NewCustomerWire(good)
		edit(&w)
		return string(must(json.Marshal(map[string]any{"op": "upsert", "customer": w}))) + "\n"
	}
	ok := line(func(*hub.CustomerWire) {})
	for _, tt := range []struct {
		name string
		raw  string
		ok   bool
	}{
		{"OK", ok, true},
		{"OK/Delete", `{"op":"delete","customer_id":"C1"}` + "\n", true},
		{"OK/EmptyRoster", `{"op":"staff"}` + "\n", true},
		{"NoFinalNewline", strings.TrimSuffix(ok, "\n"), false},
		{"BlankLine", ok + "\n" + ok, false},
		{"TwoOnOneLine", strings.TrimSuffix(ok, "\n") + ok, false},
		{"Empty", "", false},
		{"NotJSON", "hello\n", false},
		{"UnknownOp", `{"op":"merge"}` + "\n", false},
		{"UnknownField", `{"op":"delete","customer_id":"C1","why":"x"}` + "\n", false},
		{"ExtraField", `{"op":"delete","customer_id":"C1","staff":[]}` + "\n", false},
		{"StaffWithCustomer", `{"op":"staff","customer_id":"C1"}` + "\n", false},
		{"DeleteWithoutID", `{"op":"delete"}` + "\n", false},
		{"DeleteTokenShapedID", `{"op":"delete","customer_id":"` + strings.Repeat("a", 64) + `"}` + "\n", false},
		{"UpsertWithoutCustomer", `{"op":"upsert"}` + "\n", false},
		{"UnmaskedName", line(func(w *hub.CustomerWire) { w.DisplayName = "王小明" }), false},
		{"IDCardAsID", line(func(w *hub.CustomerWire) { w.ID = "110101199003074578" }), false},
		{"UnknownTier", line(func(w *hub.CustomerWire) { w.Tier = "silver" }), false},
		{"BadHome", line(func(w *hub.CustomerWire) { w.HomeBranch = "B 1" }), false},
		{"HomeInBranches", line(func(w *hub.CustomerWire) { w.Branches = []string{w.HomeBranch} }), false},
		{"UnsortedTags", line(func(w *hub.CustomerWire) { w.Tags = []int{5, 3} }), false},
		{"NoTokens", line(func(w *hub.CustomerWire) { w.Tokens = nil }), false},
		{"UpperHexToken", line(func(w *hub.CustomerWire) { w.Tokens[0].Token = strings.ToUpper(w.Tokens[0].Token) }), false},
		{"UnknownTokenKind", line(func(w *hub.CustomerWire) { w.Tokens[0].Kind = "passport" }), false},
		{"RepeatedToken", line(func(w *hub.CustomerWire) { w.Tokens = append(w.Tokens, w.Tokens[0]) }), false},
		{"BadDate", line(func(w *hub.CustomerWire) {
			w.Maturities = []hub.MaturityWire{{Product: "td_1y", Date: "2026-02-30"}}
		}), false},
		{"IdleWithNone", line(func(w *hub.CustomerWire) { w.MBankStatus, w.MBankIdleDays = "none", new(int) }), false},
		{"BadStaff", `{"op":"staff","staff":[{"staff_id":"x","branch":"B001","role":"boss","display_name":"a","pin_hash":"b"}]}` + "\n", false},
		{"BadDict", `{"op":"dict","dict":{"version":1,"tags":[{"id":0}]}}` + "\n", false},
		{"DictVersionZero", `{"op":"dict","dict":{"version":0,"tags":[]}}` + "\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data, sha, size := gz(t, tt.raw)
			_, err := hub.ReadChunk(data, sha, size)
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, hub.ErrMalformed)) {
				t.Fatalf("ReadChunk = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), good.DisplayName) {
				t.Fatalf("err = %v names the customer", err)
			}
		})
	}

	t.Run("NotGzip", func(t *testing.T) {
		data := []byte(ok)
		sum := sha256.Sum256(data)
		if _, err := hub.ReadChunk(data, hex.EncodeToString(sum[:]), int64(len(data))); !errors.Is(err, hub.ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
	})
	t.Run("TwoGzipMembers", func(t *testing.T) {
		a, _, _ := gz(t, ok)
		data := append(bytes.Clone(a), a...)
		sum := sha256.Sum256(data)
		if _, err := hub.ReadChunk(data, hex.EncodeToString(sum[:]), int64(len(data))); !errors.Is(err, hub.ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
	})
	t.Run("Bomb", func(t *testing.T) {
		// 17 MiB of spaces compress to ~17 KB: decompression stops at
		// MaxChunkBytes.
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(bytes.Repeat([]byte(" "), hub.MaxChunkBytes+1<<20))
		zw.Close()
		sum := sha256.Sum256(buf.Bytes())
		_, err := hub.ReadChunk(buf.Bytes(), hex.EncodeToString(sum[:]), int64(buf.Len()))
		if !errors.Is(err, hub.ErrMalformed) || !strings.Contains(err.Error(), "uncompressed") {
			t.Fatalf("err = %v, want ErrMalformed for the size", err)
		}
	})
}

func TestCustomerWire_RoundTrip(t *testing.T) {
	g := newGen(5)
	for i := range 500 {
		c := g.customer(i, "B001")
		w := hub.NewCustomerWire(c)
		back, err := w.Customer()
		if err != nil {
			t.Fatalf("customer %d: %v", i, err)
		}
		if !reflect.DeepEqual(normalize(c), normalize(back)) {
			t.Fatalf("customer %d:\n got %+v\nwant %+v", i, back, c)
		}
		if hub.CustomerHash(c) != hub.CustomerHash(back) {
			t.Fatalf("customer %d: hash changed by the wire", i)
		}
	}
}

// normalize makes empty lists nil and dates comparable, for DeepEqual.
func normalize(c *huiyan.Customer) *huiyan.Customer {
	d := clone(c)
	if len(d.Branches) == 0 {
		d.Branches = nil
	}
	if len(d.Tags) == 0 {
		d.Tags = nil
	}
	if len(d.Maturities) == 0 {
		d.Maturities = nil
	}
	for i := range d.Maturities {
		d.Maturities[i].Date = d.Maturities[i].Date.UTC()
	}
	return d
}

func TestStreamChecker(t *testing.T) {
	staff := testStaff(t)
	dict := huiyan.DefaultTagDict()
	g := newGen(11)
	c1, c2, c3 := g.customer(1, "B001"), g.customer(2, "B001"), g.customer(3, "B001")
	foreign := g.customer(4, "B777")
	otherStaff := append([]huiyan.Staff(nil), staff...)
	otherStaff[0].Branch = "B002"
	dictRec := hub.Record{Op: hub.OpDict, Dict: dict}
	staffRec := hub.Record{Op: hub.OpStaff, Staff: staff}

	full := fullManifest()
	delta := testManifest()
	for _, tt := range []struct {
		name     string
		m        hub.Manifest
		haveDict int
		chunks   [][]hub.Record
		ok       bool
	}{
		{"OK/Full", full, 0, [][]hub.Record{{dictRec, staffRec, hub.Upsert(c1)}, {hub.Upsert(c2), hub.Upsert(c3)}}, true},
		{"OK/Delta", delta, 1, [][]hub.Record{{hub.Upsert(c1), hub.Delete(c2.ID)}, {hub.Upsert(c3)}}, true},
		{"OK/DeltaWithRoster", delta, 1, [][]hub.Record{{staffRec, hub.Delete(c2.ID)}, {hub.Upsert(c3)}}, true},
		{"FullWithoutDict", full, 1, [][]hub.Record{{staffRec, hub.Upsert(c1)}, {hub.Upsert(c2), hub.Upsert(c3)}}, false},
		{"FullWithoutStaff", full, 1, [][]hub.Record{{dictRec, hub.Upsert(c1), hub.Upsert(c2)}, {hub.Upsert(c3)}}, false},
		{"FullWithDelete", full, 0, [][]hub.Record{{dictRec, staffRec, hub.Delete(c1.ID)}, {hub.Upsert(c2), hub.Upsert(c3)}}, false},
		{"DictAfterCustomers", delta, 1, [][]hub.Record{{hub.Upsert(c1), dictRec}, {hub.Upsert(c3)}}, false},
		{"TwoRosters", delta, 1, [][]hub.Record{{staffRec, staffRec}, {hub.Upsert(c3)}}, false},
		{"OutOfOrder", delta, 1, [][]hub.Record{{hub.Upsert(c2), hub.Upsert(c1)}, {hub.Upsert(c3)}}, false},
		{"OrderAcrossChunks", delta, 1, [][]hub.Record{{hub.Upsert(c2), hub.Upsert(c3)}, {hub.Upsert(c1)}}, false},
		{"Repeated", delta, 1, [][]hub.Record{{hub.Upsert(c1), hub.Delete(c1.ID)}, {hub.Upsert(c3)}}, false},
		{"ForeignCustomer", delta, 1, [][]hub.Record{{hub.Upsert(c1), hub.Upsert(foreign)}, {hub.Upsert(c3)}}, false},
		{"ForeignStaff", delta, 1, [][]hub.Record{{{Op: hub.OpStaff, Staff: otherStaff}, hub.Upsert(c1)}, {hub.Upsert(c3)}}, false},
		{"RecordCount", delta, 1, [][]hub.Record{{hub.Upsert(c1)}, {hub.Upsert(c3)}}, false},
		{"MissingChunk", delta, 1, [][]hub.Record{{hub.Upsert(c1), hub.Upsert(c2)}}, false},
		{"DictVersionNotHeld", delta, 2, [][]hub.Record{{hub.Upsert(c1), hub.Upsert(c2)}, {hub.Upsert(c3)}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.m
			m.Chunks = []hub.ChunkRef{
				{SHA256: strings.Repeat("ab", 32), Size: 10, Records: 3},
				{SHA256: strings.Repeat("cd", 32), Size: 10, Records: 2},
			}
			if tt.m.Full {
				m.Chunks[0].Records, m.Chunks[1].Records = 3, 2
			} else {
				m.Chunks[0].Records, m.Chunks[1].Records = 2, 1
			}
			sc := hub.NewStreamChecker(m, tt.haveDict)
			var err error
			for i, recs := range tt.chunks {
				if err = sc.Check(m.Chunks[i], recs); err != nil {
					break
				}
			}
			if err == nil {
				err = sc.Done()
			}
			if tt.ok != (err == nil) || (err != nil && !errors.Is(err, hub.ErrMalformed)) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
		})
	}

	t.Run("WrongChunk", func(t *testing.T) {
		m := testManifest()
		sc := hub.NewStreamChecker(m, 1)
		err := sc.Check(m.Chunks[1], make([]hub.Record, m.Chunks[1].Records))
		if !errors.Is(err, hub.ErrMalformed) {
			t.Fatalf("err = %v, want ErrMalformed", err)
		}
		if err2 := sc.Done(); err2 != err {
			t.Fatalf("Done = %v, want the sticky %v", err2, err)
		}
	})
}

func TestServeChunk(t *testing.T) {
	c := mustBuild(t, testRecords(t, 100, 1), 0)[0]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub.ServeChunk(w, r, c.SHA256, bytes.NewReader(c.Data))
	}))
	defer srv.Close()

	for _, tt := range []struct {
		name       string
		rng, ifRng string
		status     int
		body       []byte
	}{
		{"Whole", "", "", 200, c.Data},
		{"Range", "bytes=100-", hub.ChunkETag(c.SHA256), 206, c.Data[100:]},
		{"StaleIfRange", "bytes=100-", `"` + strings.Repeat("0", 64) + `"`, 200, c.Data},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Header.Set("Accept-Encoding", "identity")
			if tt.rng != "" {
				req.Header.Set("Range", tt.rng)
				req.Header.Set("If-Range", tt.ifRng)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !bytes.Equal(body, tt.body) {
				t.Fatalf("status=%d, %d bytes; want %d, %d bytes", resp.StatusCode, len(body), tt.status, len(tt.body))
			}
			if resp.Header.Get("ETag") != hub.ChunkETag(c.SHA256) || resp.Header.Get("Content-Type") != "application/gzip" ||
				resp.Header.Get("Content-Encoding") != "" {
				t.Fatalf("headers = %v", resp.Header)
			}
		})
	}
}

// BenchmarkBuildChunks builds the full snapshot of a branch of 100,000
// customers, as the hub does for an edge that has nothing.
func BenchmarkBuildChunks(b *testing.B) {
	rs := testRecords(b, 100_000, 1)
	var raw int64
	b.ReportAllocs()
	b.ResetTimer()
	var chunks []hub.Chunk
	for range b.N {
		var err error
		if chunks, err = hub.BuildChunks(recSeq(rs), 0); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	var size int64
	for _, c := range chunks {
		size += c.Size
		raw += int64(len(gunzip(b, c.Data)))
	}
	b.ReportMetric(float64(len(chunks)), "chunks")
	b.ReportMetric(float64(size)/1e6, "MB")
	b.ReportMetric(float64(size)/100_000, "B/customer")
	b.ReportMetric(float64(raw)/float64(size), "ratio")
	b.ReportMetric(float64(b.N)*100_000/b.Elapsed().Seconds(), "customers/s")
}

// BenchmarkReadChunks decodes that snapshot, as the edge does.
func BenchmarkReadChunks(b *testing.B) {
	chunks := mustBuild(b, testRecords(b, 100_000, 1), 0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, c := range chunks {
			if _, err := hub.ReadChunk(c.Data, c.SHA256, c.Size); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)*100_000/b.Elapsed().Seconds(), "customers/s")
}
