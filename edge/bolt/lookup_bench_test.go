package bolt_test

import (
	"bufio"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"huiyan"
	"huiyan/edge"
	"huiyan/edge/bolt"
)

// benchCustomers is the size of the cache the lookup benchmark resolves
// against: 1,000,000 customers (issue 8), five times a large branch.
// BENCH_QUICK=1 (make bench BENCH_QUICK=1) shrinks it to 50,000 to check
// the pipeline end to end in seconds.
func benchCustomers() int {
	if os.Getenv("BENCH_QUICK") != "" {
		return 50_000
	}
	return 1_000_000
}

// lookupParallelism is RunParallel's multiplier: GOMAXPROCS × 4 lookers
// at once, a PAD burst's worth, for both the cache and Redis.
const lookupParallelism = 4

// BenchmarkResolve resolves an identity token to its customer the way an
// arrival does — a read transaction, the alias, the record, its decoding —
// in a real bbolt file of 1,000,000 customers, next to a GET of the same
// record bytes, keyed by the same token, from a redis-server on loopback
// started by the benchmark, in the same process and the same run, so that
// the ratio (Redis/Single ns/op ÷ Bolt/Single ns/op) holds on a noisy
// machine. Single is one looker; Parallel is RunParallel with
// lookupParallelism × GOMAXPROCS goroutines (for Redis, one connection
// each). Redis/GetDecode adds the cache's decoder to the GET, so that both
// sides end with a *huiyan.Customer.
//
// The cache is built once per process in the parent's temporary
// directory (ReplaceSnapshot of generated customers); the build time and
// the file size are logged and reported as metrics of Bolt/Single.
//
//	go test -run '^$' -bench Resolve -benchtime 100000x ./edge/bolt/
func BenchmarkResolve(b *testing.B) {
	n := benchCustomers()
	start := time.Now()
	db := MustOpenDB(b)
	mustReplace(b, db, 1, 0, n)
	built := time.Since(start)
	fi, err := os.Stat(db.Path())
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("cache of %d customers built in %s (%d MB)", n, built.Round(time.Millisecond), fi.Size()>>20)

	// The tokens looked up: a random sample over the whole cache, one of
	// each customer's three always-present kinds, the same list for both.
	rng := rand.New(rand.NewPCG(8, 8))
	tokens := make([]string, 1<<16)
	keys := make([][]byte, len(tokens))
	kinds := []huiyan.IdentKind{huiyan.IdentIDCard, huiyan.IdentBankCard, huiyan.IdentPhone}
	for i := range tokens {
		tokens[i] = token(kinds[rng.IntN(3)], rng.IntN(n))
		keys[i] = []byte(tokens[i])
	}
	ctx := context.Background()
	lookup := func(tok string) error {
		return db.View(ctx, func(tx edge.Tx) error {
			_, err := tx.CustomerByToken(tok)
			return err
		})
	}

	// Redis holds one key per customer: its ID-card token → the record
	// bytes the cache stores, plus the sampled tokens of the other kinds.
	srv := startRedis(b)
	rc, err := dialRedis(ctx, srv.Addr)
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	load := time.Now()
	const chunk = 10_000
	for from := 0; from < n; from += chunk {
		var toks []string
		for i := from; i < min(from+chunk, n); i++ {
			toks = append(toks, token(huiyan.IdentIDCard, i))
		}
		if err := loadRedis(db, rc, toks); err != nil {
			b.Fatal(err)
		}
	}
	if err := loadRedis(db, rc, tokens); err != nil {
		b.Fatal(err)
	}
	mem, _ := rc.info("memory", "used_memory")
	b.Logf("redis loaded with %d customers in %s (used_memory %s)", n, time.Since(load).Round(time.Millisecond), mem)

	conns := make([]*redisConn, lookupParallelism*runtime.GOMAXPROCS(0)) // one per RunParallel goroutine
	for i := range conns {
		if conns[i], err = dialRedis(ctx, srv.Addr); err != nil {
			b.Fatal(err)
		}
		defer conns[i].Close()
	}

	b.Run("Bolt/Single", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := lookup(tokens[i%len(tokens)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(n), "customers")
		b.ReportMetric(built.Seconds(), "build-s")
		b.ReportMetric(float64(fi.Size())/(1<<20), "file-MB")
	})
	b.Run("Redis/Single", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 4096)
		i := 0
		for b.Loop() {
			v, err := rc.get(keys[i%len(keys)], buf)
			if err != nil || len(v) == 0 {
				b.Fatalf("get: %v", err)
			}
			i++
		}
		b.ReportMetric(float64(n), "customers")
	})
	b.Run("Redis/GetDecode", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 4096)
		i := 0
		for b.Loop() {
			v, err := rc.get(keys[i%len(keys)], buf)
			if err != nil {
				b.Fatalf("get: %v", err)
			}
			if _, err := bolt.DecodeCustomer(v); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("Bolt/Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(lookupParallelism)
		var next atomic.Uint64
		b.RunParallel(func(pb *testing.PB) {
			i := int(next.Add(7919))
			for pb.Next() {
				if err := lookup(tokens[i%len(tokens)]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
	b.Run("Redis/Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(lookupParallelism)
		var next, conn atomic.Uint64
		b.RunParallel(func(pb *testing.PB) {
			c := conns[int(conn.Add(1)-1)%len(conns)]
			buf := make([]byte, 4096)
			i := int(next.Add(7919))
			for pb.Next() {
				if _, err := c.get(keys[i%len(keys)], buf); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// loadRedis copies the cache's records of toks into Redis under the tokens.
func loadRedis(db *bolt.DB, rc *redisConn, toks []string) error {
	recs, err := db.CustomerRecords(toks)
	if err != nil {
		return err
	}
	keys := make([][]byte, len(toks))
	for i, t := range toks {
		keys[i] = []byte(t)
	}
	return rc.setAll(keys, recs)
}

// TestRESPReply checks the benchmark's RESP reader on the replies it meets,
// so that a Redis figure is never a parser's mistake.
func TestRESPReply(t *testing.T) {
	for _, tc := range []struct {
		name, wire, want string
		err              error
		bad              bool
	}{
		{"OK", "+OK\r\n", "OK", nil, false},
		{"Integer", ":42\r\n", "42", nil, false},
		{"Bulk", "$5\r\nhe\r\nl\r\n", "he\r\nl", nil, false},
		{"EmptyBulk", "$0\r\n\r\n", "", nil, false},
		{"ErrNil", "$-1\r\n", "", errRedisNil, false},
		{"ErrReply", "-ERR unknown command\r\n", "", nil, true},
		{"ErrShortBulk", "$9\r\nabc\r\n", "", nil, true},
		{"ErrBadLength", "$x\r\n", "", nil, true},
		{"ErrBadType", "*1\r\n", "", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &redisConn{r: bufio.NewReader(strings.NewReader(tc.wire))}
			got, err := c.read(make([]byte, 2))
			switch {
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
			case tc.bad:
				if err == nil {
					t.Fatalf("reply %q: no error", tc.wire)
				}
			case err != nil || string(got) != tc.want:
				t.Fatalf("reply = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
