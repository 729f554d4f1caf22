package devsim

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	"huiyan"
	"huiyan/firmware-contracts"
)

// Files and headers gen writes (DESIGN.md, "HQ snapshot CSV header" and
// "PAD login").
const (
	TagsFile    = "tags.csv"
	StaffFile   = "staff.csv"
	TagsHeader  = "customer_id,display_name,tier,home_branch,branches,manager,mbank_status,mbank_idle_days,risk,aum_band,lifecycle,opt_out,tags,maturities,idcard_token,bankcard_tokens,mbank_token,phone_token"
	StaffHeader = "staff_id,branch,role,display_name,pin_hash"
)

// DemoPIN is the PIN of every staff account in generated rosters
// (DESIGN.md, "PAD login").
const DemoPIN = "246810"

// Limits of GenConfig.
const (
	MaxGenCustomers = 50_000_000 // a province is ~30 M; identifiers stay unique below this
	MaxGenBranches  = 30_000     // nationwide is ~22,000
)

// MaturityWindowDays is how far after the reference date generated
// maturities fall: 0 to 60 days, so that 30/15/7/1-day reminders all occur.
const MaturityWindowDays = 60

// China Standard Time, without depending on a tz database on the box.
var cst = time.FixedZone("CST", 8*3600)

// DefaultRef is the reference date of generated data sets: maturities fall
// in the MaturityWindowDays after it. It is a constant rather than today so
// that a seed gives byte-identical files on any day (DESIGN.md, "Commands").
// Data generated with it have maturities from 2026-11-23 to 2027-01-22.
var DefaultRef = time.Date(2026, 11, 23, 0, 0, 0, 0, cst)

// GenConfig configures Gen. The zero values of Ref, PINIterations and
// Workers mean the defaults.
type GenConfig struct {
	Customers int   // 1 to MaxGenCustomers
	Branches  int   // 1 to MaxGenBranches
	Seed      int64 // the same seed and config give byte-identical files

	// Ref is the day maturities count from, taken in China Standard Time;
	// zero means DefaultRef.
	Ref time.Time

	// PINIterations is the PBKDF2 work factor of staff PIN hashes; zero
	// means huiyan.PINIterations. Tests lower it (huiyan.VerifyPIN accepts
	// 1000 and up); shipped data sets use the default.
	PINIterations int

	// Workers is how many goroutines generate rows and hash PINs; zero
	// means GOMAXPROCS. Output does not depend on it.
	Workers int
}

// Validate names the first bad field.
func (c GenConfig) Validate() error {
	switch {
	case c.Customers < 1 || c.Customers > MaxGenCustomers:
		return fmt.Errorf("customers %d: must be 1 to %d", c.Customers, MaxGenCustomers)
	case c.Branches < 1 || c.Branches > MaxGenBranches:
		return fmt.Errorf("branches %d: must be 1 to %d", c.Branches, MaxGenBranches)
	case c.PINIterations != 0 && c.PINIterations < 1000:
		return fmt.Errorf("pin iterations %d: must be 0 (default) or at least 1000", c.PINIterations)
	case c.Workers < 0:
		return fmt.Errorf("workers %d: must not be negative", c.Workers)
	}
	return nil
}

// RefDay returns the reference date as midnight China Standard Time.
func (c GenConfig) RefDay() time.Time {
	ref := c.Ref
	if ref.IsZero() {
		ref = DefaultRef
	}
	y, m, d := ref.In(cst).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, cst)
}

func (c GenConfig) workers() int {
	if c.Workers > 0 {
		return c.Workers
	}
	return runtime.GOMAXPROCS(0)
}

func (c GenConfig) pinIterations() int {
	if c.PINIterations > 0 {
		return c.PINIterations
	}
	return huiyan.PINIterations
}

// BranchID returns the id of branch i (0-based): B001, B002 … B999, B1000 ….
// It matches [0-9A-Za-z-]{1,32} and does not depend on the branch count.
func BranchID(i int) string { return fmt.Sprintf("B%03d", i+1) }

// StaffID returns the id of the n-th (1-based) staff member of a role at a
// branch: lobby-B001 for the first, lobby-B001-2 for the second …
// (DESIGN.md, "PAD login": every branch has lobby-, wealth- and account-).
func StaffID(role huiyan.Role, branch string, n int) string {
	if n <= 1 {
		return string(role) + "-" + branch
	}
	return string(role) + "-" + branch + "-" + strconv.Itoa(n)
}

// GenResult says what Gen wrote.
type GenResult struct {
	TagsPath, StaffPath, PrizesPath    string
	TagsBytes, StaffBytes, PrizesBytes int64
	Customers, Staff, Branches         int
	Ref                                time.Time // the reference day of the maturities
}

// Gen writes a synthetic HQ snapshot, dir/tags.csv, staff roster,
// dir/staff.csv, and prize wheel tables, dir/prizes.csv (WritePrizes),
// creating dir if missing. Each file is written under a
// temporary name and renamed into place, so a reader never sees half a
// file. Files are mode 0600: they hold identity tokens and PIN hashes.
func Gen(ctx context.Context, cfg GenConfig, dir string) (*GenResult, error) {
	g, err := newGenerator(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("gen: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	res := &GenResult{
		TagsPath:   filepath.Join(dir, TagsFile),
		StaffPath:  filepath.Join(dir, StaffFile),
		PrizesPath: filepath.Join(dir, PrizesFile),
		Customers:  cfg.Customers,
		Branches:   cfg.Branches,
		Ref:        cfg.RefDay(),
	}
	// The roster's PBKDF2 hashes and the customer rows are both CPU work;
	// doing them side by side keeps every core busy while rows are written.
	var staffErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		res.StaffBytes, staffErr = writeFile(res.StaffPath, func(w io.Writer) error {
			n, err := g.writeStaff(ctx, w)
			res.Staff = n
			return err
		})
		if staffErr != nil {
			cancel()
		}
	})
	var tagsErr error
	res.TagsBytes, tagsErr = writeFile(res.TagsPath, func(w io.Writer) error { return g.writeTags(ctx, w) })
	if tagsErr != nil {
		cancel()
	}
	wg.Wait()
	if err := errors.Join(tagsErr, staffErr); err != nil {
		return nil, err
	}
	if res.PrizesBytes, err = writeFile(res.PrizesPath, func(w io.Writer) error { return WritePrizes(cfg, w) }); err != nil {
		return nil, err
	}
	return res, nil
}

// writeFile writes path through a temporary file in the same directory and
// renames it into place.
func writeFile(path string, write func(io.Writer) error) (int64, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return 0, fmt.Errorf("gen: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename this fails harmlessly
	bw := bufio.NewWriterSize(f, 1<<20)
	cw := &countWriter{w: bw}
	err = write(cw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return 0, fmt.Errorf("gen %s: %w", filepath.Base(path), err)
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteTags writes the tags.csv of cfg to w.
func WriteTags(ctx context.Context, cfg GenConfig, w io.Writer) error {
	g, err := newGenerator(cfg)
	if err != nil {
		return err
	}
	return g.writeTags(ctx, w)
}

// WriteStaff writes the staff.csv of cfg to w and returns how many staff it
// wrote.
func WriteStaff(ctx context.Context, cfg GenConfig, w io.Writer) (int, error) {
	g, err := newGenerator(cfg)
	if err != nil {
		return 0, err
	}
	return g.writeStaff(ctx, w)
}

func errIndex(index int) error {
	return fmt.Errorf("customer index %d: must be 0 to %d", index, MaxGenCustomers-1)
}

// generator holds what every row needs: the model, the seed's keys, the
// branches with their sizes and the roster's shape.
type generator struct {
	cfg      GenConfig
	m        *model
	k        seedKeys
	branches []string
	cum      []float64 // cumulative branch weights, for drawing a home branch
	roster   []staffMember
	accounts []int // account staff per branch
	dates    [MaturityWindowDays + 1]string
}

type staffMember struct {
	id, branch string
	role       huiyan.Role
	name       string
	salt       [16]byte
}

func newGenerator(cfg GenConfig) (*generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := defaultModel()
	if err != nil {
		return nil, err
	}
	g := &generator{cfg: cfg, m: m, k: newSeedKeys(cfg.Seed)}
	ref := cfg.RefDay()
	for d := range g.dates {
		g.dates[d] = ref.AddDate(0, 0, d).Format(time.DateOnly)
	}

	// Each branch has its own stream: its size, then its roster. Lobby 1–2,
	// wealth 1–3, account 1–3 and one supervisor: 4 to 9 staff, the first
	// of each role named lobby-{branch} and so on.
	var pcg rand.PCG
	r := rand.New(&pcg)
	total := 0.0
	g.accounts = make([]int, cfg.Branches)
	for b := range cfg.Branches {
		id := BranchID(b)
		g.branches = append(g.branches, id)
		g.k.seedStaff(&pcg, b)
		total += math.Exp(0.5 * r.NormFloat64())
		g.cum = append(g.cum, total)
		counts := []struct {
			role huiyan.Role
			n    int
		}{
			{huiyan.RoleLobby, 1 + r.IntN(2)},
			{huiyan.RoleWealth, 1 + r.IntN(3)},
			{huiyan.RoleAccount, 1 + r.IntN(3)},
			{huiyan.RoleSupervisor, 1},
		}
		for _, rc := range counts {
			for n := 1; n <= rc.n; n++ {
				s := staffMember{id: StaffID(rc.role, id, n), branch: id, role: rc.role}
				s.name = fullName(r, r.IntN(2) == 0, 25+r.IntN(30))
				for i := 0; i < len(s.salt); i += 8 {
					v := r.Uint64()
					for j := range 8 {
						s.salt[i+j] = byte(v >> (8 * j))
					}
				}
				g.roster = append(g.roster, s)
			}
			if rc.role == huiyan.RoleAccount {
				g.accounts[b] = rc.n
			}
		}
	}
	return g, nil
}

// writeStaff hashes every PIN on cfg.workers() goroutines and writes the
// roster in order.
func (g *generator) writeStaff(ctx context.Context, w io.Writer) (int, error) {
	hashes := make([]string, len(g.roster))
	errs := make([]error, len(g.roster))
	next := make(chan int)
	var wg sync.WaitGroup
	for range g.cfg.workers() {
		wg.Go(func() {
			for i := range next {
				if err := ctx.Err(); err != nil {
					errs[i] = err
					continue
				}
				hashes[i], errs[i] = huiyan.HashPIN(DemoPIN, g.roster[i].salt[:], g.cfg.pinIterations())
			}
		})
	}
	for i := range g.roster {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}

	buf := make([]byte, 0, 64<<10)
	buf = append(buf, StaffHeader...)
	buf = append(buf, '\n')
	for i, s := range g.roster {
		buf = append(buf, s.id...)
		buf = append(buf, ',')
		buf = append(buf, s.branch...)
		buf = append(buf, ',')
		buf = append(buf, s.role...)
		buf = append(buf, ',')
		buf = append(buf, s.name...)
		buf = append(buf, ',')
		buf = append(buf, hashes[i]...)
		buf = append(buf, '\n')
		if len(buf) > 60<<10 {
			if _, err := w.Write(buf); err != nil {
				return 0, err
			}
			buf = buf[:0]
		}
	}
	if _, err := w.Write(buf); err != nil {
		return 0, err
	}
	return len(g.roster), nil
}

// rowsPerBatch is the unit of parallel work; the writer keeps at most
// 2×workers batches in flight, so memory stays at a few megabytes.
const rowsPerBatch = 1024

type batch struct {
	lo, hi int
	buf    []byte
	err    error
	done   chan struct{}
}

// writeTags generates customers on cfg.workers() goroutines, each batch of
// rows into its own buffer, and writes the buffers in index order, so the
// output does not depend on scheduling.
func (g *generator) writeTags(ctx context.Context, w io.Writer) error {
	if _, err := io.WriteString(w, TagsHeader+"\n"); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := g.cfg.workers()
	jobs := make(chan *batch)
	order := make(chan *batch, 2*workers)
	free := make(chan []byte, 3*workers)

	go func() { // producer: hands out batches, in order to the writer too
		defer close(order)
		defer close(jobs)
		for lo := 0; lo < g.cfg.Customers; lo += rowsPerBatch {
			b := &batch{lo: lo, hi: min(lo+rowsPerBatch, g.cfg.Customers), done: make(chan struct{})}
			select {
			case order <- b:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- b:
			case <-ctx.Done():
				b.err = ctx.Err()
				close(b.done)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			wk := g.newWorker()
			for b := range jobs {
				if b.err = ctx.Err(); b.err == nil {
					var buf []byte
					select {
					case buf = <-free:
					default:
						buf = make([]byte, 0, rowsPerBatch*640)
					}
					b.buf, b.err = wk.rows(buf[:0], b.lo, b.hi)
				}
				close(b.done)
			}
		})
	}
	defer wg.Wait()

	var err error
	for b := range order {
		<-b.done
		if err == nil {
			err = b.err
			if err == nil {
				_, err = w.Write(b.buf)
			}
			if err != nil {
				cancel() // the producer and workers stop; keep draining
			}
		}
		select {
		case free <- b.buf:
		default:
		}
	}
	if err == nil {
		err = ctx.Err() // the producer stopped early: the caller canceled
	}
	return err
}

// worker generates rows; each goroutine has its own.
type worker struct {
	g                 *generator
	core, place       rand.PCG
	coreRand, placeRd *rand.Rand
	c                 customer
	tk                tokenizer
}

func (g *generator) newWorker() *worker {
	wk := &worker{g: g, tk: tokenizer{mac: hmac.New(sha256.New, firmware.DemoKey)}}
	wk.coreRand = rand.New(&wk.core)
	wk.placeRd = rand.New(&wk.place)
	return wk
}

func (wk *worker) rows(dst []byte, lo, hi int) ([]byte, error) {
	var err error
	for i := lo; i < hi; i++ {
		wk.customer(i)
		if dst, err = wk.g.appendRow(dst, &wk.c, &wk.tk); err != nil {
			return dst, fmt.Errorf("customer %d: %w", i, err)
		}
	}
	return dst, nil
}

// customer fills wk.c with customer i: the person from the core stream,
// then home branch, other branches and manager from the place stream.
func (wk *worker) customer(i int) {
	g, c := wk.g, &wk.c
	c.index = i
	g.k.seedCore(&wk.core, i)
	g.m.person(wk.coreRand, c, &g.k)

	r := wk.placeRd
	g.k.seedPlace(&wk.place, i)
	c.home = sort.SearchFloat64s(g.cum, r.Float64()*g.cum[len(g.cum)-1])
	c.home = min(c.home, len(g.cum)-1)
	c.nOthers = 0
	share := 0.085
	if c.has(g.m.multiBr) {
		share = 0.80
	}
	if len(g.branches) > 1 && r.Float64() < share {
		n := 1
		if len(g.branches) > 2 && r.Float64() < 0.3 {
			n = 2
		}
		for c.nOthers < n {
			b := r.IntN(len(g.branches))
			if b != c.home && (c.nOthers == 0 || c.others[0] != b) {
				c.others[c.nOthers] = b
				c.nOthers++
			}
		}
		if c.nOthers == 2 && c.others[1] < c.others[0] {
			c.others[0], c.others[1] = c.others[1], c.others[0]
		}
	}
	c.manager = -1
	share = managerShareNormal
	if c.vip() {
		share = managerShareVIP
	}
	if r.Float64() < share {
		c.manager = r.IntN(g.accounts[c.home])
	}
}

// appendRow appends c as one tags.csv line. No field can hold a comma, a
// quote or a line break (codes, ids, digits, hex and masked CJK names), so
// nothing needs quoting.
func (g *generator) appendRow(dst []byte, c *customer, tk *tokenizer) ([]byte, error) {
	dst = g.k.appendCustomerID(dst, c.index)
	dst = append(dst, ',')
	dst = append(dst, c.name...)
	dst = append(dst, ',')
	dst = append(dst, c.tier...)
	dst = append(dst, ',')
	dst = append(dst, g.branches[c.home]...)
	dst = append(dst, ',')
	for j := range c.nOthers {
		if j > 0 {
			dst = append(dst, ';')
		}
		dst = append(dst, g.branches[c.others[j]]...)
	}
	dst = append(dst, ',')
	if c.manager >= 0 {
		dst = append(dst, StaffID(huiyan.RoleAccount, g.branches[c.home], c.manager+1)...)
	}
	dst = append(dst, ',')
	dst = append(dst, c.mbank...)
	dst = append(dst, ',')
	if c.idle >= 0 {
		dst = strconv.AppendInt(dst, int64(c.idle), 10)
	}
	dst = append(dst, ",R"...)
	dst = append(dst, byte('0'+c.risk))
	dst = append(dst, ',')
	dst = append(dst, huiyan.AUMBands[c.band].Code...)
	dst = append(dst, ',')
	dst = append(dst, huiyan.Lifecycles[c.life]...)
	if c.optOut {
		dst = append(dst, ",1,"...)
	} else {
		dst = append(dst, ",0,"...)
	}
	first := true
	for w, bits := range c.tags {
		for bits != 0 {
			b := 0
			for bits&(1<<b) == 0 {
				b++
			}
			bits &^= 1 << b
			if !first {
				dst = append(dst, ';')
			}
			first = false
			dst = append(dst, g.m.codes[w*64+b]...)
		}
	}
	dst = append(dst, ',')
	for j, mt := range c.mats[:c.nMats] {
		if j > 0 {
			dst = append(dst, ';')
		}
		dst = append(dst, huiyan.Products[mt.product].Code...)
		dst = append(dst, ':')
		dst = append(dst, g.dates[mt.day]...)
	}

	var err error
	tok := func(kind huiyan.IdentKind, raw string) {
		if err == nil {
			dst, err = tk.appendToken(dst, kind, raw)
		}
	}
	dst = append(dst, ',')
	tok(huiyan.IdentIDCard, c.ids.IDCard)
	dst = append(dst, ',')
	for j, card := range c.ids.BankCards {
		if j > 0 {
			dst = append(dst, ';')
		}
		tok(huiyan.IdentBankCard, card)
	}
	dst = append(dst, ',')
	if c.ids.MBank != "" {
		tok(huiyan.IdentMBank, c.ids.MBank)
	}
	dst = append(dst, ',')
	tok(huiyan.IdentPhone, c.ids.Phone)
	dst = append(dst, '\n')
	return dst, err
}

// tokenizer computes firmware.Token(firmware.DemoKey, kind, raw) with one
// reused HMAC and no allocation: the reference implementation builds a new
// HMAC and several strings per call, which is a third of the work of a row.
// It refuses a raw value firmware.Normalize would change, so it hashes
// exactly what Token hashes; TestCustomerIdents checks the tokens against
// firmware.Token itself.
type tokenizer struct {
	mac hash.Hash
	msg []byte
	sum [sha256.Size]byte
}

func (t *tokenizer) appendToken(dst []byte, kind huiyan.IdentKind, raw string) ([]byte, error) {
	norm, err := firmware.Normalize(kind, raw)
	if err != nil {
		return dst, err
	}
	if norm != raw {
		return dst, fmt.Errorf("%s identifier not in normal form", kind)
	}
	t.msg = append(append(append(t.msg[:0], kind...), ':'), raw...)
	t.mac.Reset()
	t.mac.Write(t.msg)
	return hex.AppendEncode(dst, t.mac.Sum(t.sum[:0])), nil
}
