package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"huiyan"
	"huiyan/hub"
	hubhttp "huiyan/hub/http"
	"huiyan/hub/prizes"
	"huiyan/hub/store"
)

// The subcommands import and credential talk to any member over HTTP;
// a follower proxies them to the leader. Without -token they use the
// admin token the hub keeps in {data}/admin.token, so that on a hub node
// itself (or in `make demo`) no token has to be copied around; -data
// names that directory (default data/hub).

type clientFlags struct {
	hub   *string
	token *string
	data  *string
}

func addClientFlags(fs *flag.FlagSet) clientFlags {
	def := DefaultConfig()
	return clientFlags{
		hub:   fs.String("hub", "http://"+def.HTTP, "hub member `URL`"),
		token: fs.String("token", "", "admin `token` (default: read from {data}/admin.token)"),
		data:  fs.String("data", def.DataDir, "hub data `dir` whose admin.token is used without -token"),
	}
}

func (f clientFlags) resolve() (*url.URL, string, error) {
	u, err := joinURL(*f.hub)
	if err != nil {
		return nil, "", usageError{fmt.Errorf("-hub: %v", err)}
	}
	token := *f.token
	if token == "" {
		path := filepath.Join(*f.data, "admin.token")
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, "", usageError{fmt.Errorf("no -token and no %s: pass the admin token with -token", path)}
		}
		token = strings.TrimSpace(string(b))
	}
	return u, token, nil
}

// apiError reads an error answer.
func apiError(resp *http.Response) error {
	var er hub.ErrorResponse
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(b, &er) == nil && er.Code != "" {
		return fmt.Errorf("hub answered %d %s: %s", resp.StatusCode, er.Code, er.Message)
	}
	return fmt.Errorf("hub answered %s", resp.Status)
}

func runCredential(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("huiyan-hub credential", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addClientFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: huiyan-hub credential [-hub URL] [-token T] BRANCH

Issues the credential the edge of BRANCH uses (huiyan-edge -hub-token) and
prints it alone as the last line of standard output. Issuing again rotates
it: the previous credential stops working at once.

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("credential: want exactly one BRANCH")}
	}
	branch := fs.Arg(0)
	if !huiyan.ValidBranchID(branch) {
		return usageError{fmt.Errorf("credential: %q is not a branch id ([0-9A-Za-z-]{1,32})", branch)}
	}
	base, token, err := cf.resolve()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var resp *http.Response
	for attempt := 1; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base.String()+"/v1/credentials/"+branch, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		var err error
		if resp, err = http.DefaultClient.Do(req); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusServiceUnavailable || attempt == retries {
			break
		}
		resp.Body.Close()
		if err := sleep(ctx, retryDelay); err != nil {
			return err
		}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return apiError(resp)
	}
	var cr hubhttp.CredentialResponse
	if err := json.NewDecoder(resp.Body).Decode(&cr); err != nil {
		return fmt.Errorf("credential: %w", err)
	}
	fmt.Fprintf(stderr, "credential for branch %s issued at %s; any previous one is revoked\n", cr.Branch, cr.IssuedAt.Format(time.RFC3339))
	fmt.Fprintln(stdout, cr.Credential)
	return nil
}

// errRefused is an import the hub refused: exit status 1.
var errRefused = errors.New("import refused")

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("huiyan-hub import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cf := addClientFlags(fs)
	format := fs.String("format", "", "csv or jsonl (default: from the file name: .csv, .jsonl, .ndjson, optionally .gz)")
	dictFlag := fs.String("dict", "", "HQ's tag dictionary `tagdict.csv` (also recognised by its header among the files)")
	prizesFlag := fs.String("prizes", "", "the prize wheel tables of every branch, `prizes.csv` (also recognised by its header among the files)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: huiyan-hub import [-hub URL] [-token T] [-dict tagdict.csv] [-prizes prizes.csv]
                         tags.csv|tags.jsonl[.gz] [staff.csv] [tagdict.csv] [prizes.csv]

Uploads HQ's snapshot (with the staff roster, HQ's tag dictionary and the
prize wheel tables, if given) to the hub, with a progress bar on a
terminal, and waits until it is committed or refused. Prints the import id
and the new version. An import is all or nothing: one bad line refuses it,
the bad lines are listed, and the exit status is 1.

The files after the snapshot are told apart by their header line: a tag
dictionary starts with
  `+huiyan.TagDictHeader+`
a prize table file has, after its settings, the line
  `+prizes.Header+`
and anything else is taken for the staff roster. A dictionary that differs
from the hub's becomes its next dictionary version (tags may be added,
renamed or retired; a tag id never changes its code or kind), and the
snapshot is checked against it. A prize table file replaces every branch's
table (a branch it has no rows for gets no wheel; the header alone
withdraws every table); without one, the hub keeps the tables it has.

Flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() < 1 || fs.NArg() > 4 {
		return usageError{errors.New("import: want tags.csv|tags.jsonl[.gz] and optionally staff.csv, tagdict.csv and prizes.csv")}
	}
	tagsPath, staffPath, dictPath, prizesPath := fs.Arg(0), "", *dictFlag, *prizesFlag
	for _, p := range fs.Args()[1:] {
		kind, err := fileKind(p)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		isDict := kind == "dict"
		switch {
		case kind == "prizes" && prizesPath != "":
			return usageError{fmt.Errorf("import: two prize table files (%s and %s)", prizesPath, p)}
		case kind == "prizes":
			prizesPath = p
		case isDict && dictPath != "":
			return usageError{fmt.Errorf("import: two tag dictionaries (%s and %s)", dictPath, p)}
		case isDict:
			dictPath = p
		case staffPath != "":
			return usageError{fmt.Errorf("import: two staff rosters (%s and %s); a tag dictionary starts with the header %s", staffPath, p, huiyan.TagDictHeader)}
		default:
			staffPath = p
		}
	}
	if *format == "" {
		if f, _ := hub.DetectFormat(tagsPath); f == hub.FormatUnknown {
			return usageError{fmt.Errorf("import: %s: name it .csv or .jsonl (optionally .gz), or pass -format", tagsPath)}
		}
	} else if _, err := hub.ParseFormat(*format); err != nil {
		return usageError{err}
	}
	base, token, err := cf.resolve()
	if err != nil {
		return err
	}
	// The dictionary goes first: the hub checks the snapshot against it.
	var files []uploadFile
	if dictPath != "" {
		files = append(files, uploadFile{"dict", dictPath})
	}
	files = append(files, uploadFile{"tags", tagsPath})
	if staffPath != "" {
		files = append(files, uploadFile{"staff", staffPath})
	}
	if prizesPath != "" {
		files = append(files, uploadFile{"prizes", prizesPath})
	}
	var total int64
	for _, f := range files {
		fi, err := os.Stat(f.path)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		total += fi.Size()
	}

	u := base.String() + "/v1/imports"
	if *format != "" {
		u += "?format=" + url.QueryEscape(*format)
	}
	var resp *http.Response
	for attempt := 1; ; attempt++ {
		resp, err = upload(ctx, u, token, files, total, stderr)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		// 503: no leader (an election) or the leader unreachable. Nothing
		// was imported; send the files again.
		if resp.StatusCode != http.StatusServiceUnavailable || attempt == retries {
			break
		}
		resp.Body.Close()
		fmt.Fprintf(stderr, "the cluster has no leader right now; retrying (%d/%d)\n", attempt, retries-1)
		if err := sleep(ctx, retryDelay); err != nil {
			return err
		}
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusCreated, http.StatusUnprocessableEntity, http.StatusInternalServerError:
	default:
		return fmt.Errorf("import: %w", apiError(resp))
	}
	var imp store.Import
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&imp); err != nil || imp.ID == "" {
		return fmt.Errorf("import: unreadable answer (%s)", resp.Status)
	}
	switch imp.Status {
	case store.StatusCommitted:
		fmt.Fprintf(stderr, "%d rows: %d customers, %d changed, %d deleted, %d staff\n", imp.Rows, imp.Customers, imp.Changed, imp.Deleted, imp.Staff)
		if dictPath != "" {
			fmt.Fprintf(stderr, "tag dictionary: %d tags, dictionary version %d\n", imp.DictTags, imp.DictVersion)
		}
		if imp.Prizes {
			fmt.Fprintf(stderr, "prize wheel tables: %d branches\n", imp.PrizeTables)
		}
		fmt.Fprintf(stdout, "import %s committed: version %d\n", imp.ID, imp.Version)
		return nil
	case store.StatusRefused:
		fmt.Fprintf(stderr, "import %s refused: %s\n", imp.ID, imp.Message)
		for i, le := range imp.LineErrors {
			if i == 50 {
				fmt.Fprintf(stderr, "… %d more bad lines (GET /v1/imports/%s lists the first %d)\n", imp.Errors-50, imp.ID, store.MaxLineErrors)
				break
			}
			file := filepath.Base(tagsPath)
			switch le.File {
			case "staff":
				file = filepath.Base(staffPath)
			case "dict":
				file = filepath.Base(dictPath)
			case "prizes":
				file = filepath.Base(prizesPath)
			}
			switch {
			case le.Line == 0: // the whole file
				fmt.Fprintf(stderr, "%s: %s\n", file, le.Reason)
			case le.Field != "":
				fmt.Fprintf(stderr, "%s:%d: field %s: %s\n", file, le.Line, le.Field, le.Reason)
			default:
				fmt.Fprintf(stderr, "%s:%d: %s\n", file, le.Line, le.Reason)
			}
		}
		fmt.Fprintf(stdout, "import %s refused: version %d unchanged\n", imp.ID, imp.Version-1)
		return errRefused
	default:
		fmt.Fprintf(stdout, "import %s failed: %s\n", imp.ID, imp.Message)
		return fmt.Errorf("import failed: %s", imp.Message)
	}
}

// retries and retryDelay: how long the subcommands wait out an election.
const (
	retries    = 10
	retryDelay = time.Second
)

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fileKind tells the files after the snapshot apart by their header line
// (a byte-order mark ignored): "dict" for a file that starts with the tag
// dictionary's header, "prizes" for one whose rows header
// (prizes.Header) comes within its first 64 lines (after the settings and
// comments), "staff" for anything else.
func fileKind(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 4096)
	for i := range 64 {
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return "", err
		}
		line = strings.TrimRight(line, "\r\n")
		if i == 0 {
			line = strings.TrimPrefix(line, "\uFEFF")
			if line == huiyan.TagDictHeader {
				return "dict", nil
			}
		}
		if line == prizes.Header {
			return "prizes", nil
		}
		if err == io.EOF {
			break
		}
	}
	return "staff", nil
}

// uploadFile is one part of an upload: its form name and the file.
type uploadFile struct {
	name, path string
}

// upload streams the files as a multipart body, in order, with a
// progress bar.
func upload(ctx context.Context, u, token string, files []uploadFile, total int64, stderr io.Writer) (*http.Response, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	bar := newProgress(stderr, total)
	go func() {
		err := func() error {
			for _, uf := range files {
				f, err := os.Open(uf.path)
				if err != nil {
					return err
				}
				w, err := mw.CreateFormFile(uf.name, filepath.Base(uf.path))
				if err == nil {
					_, err = io.Copy(w, bar.reader(f))
				}
				f.Close()
				if err != nil {
					return err
				}
			}
			return mw.Close()
		}()
		bar.done()
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	pr.CloseWithError(errors.New("request ended"))
	bar.done()
	return resp, err
}

// progress draws an upload progress bar on a terminal, and nothing
// elsewhere (a pipe or a CI log gets the final summary only).
type progress struct {
	w     io.Writer
	tty   bool
	total int64
	mu    sync.Mutex
	n     int64
	last  time.Time
	once  sync.Once
}

func newProgress(w io.Writer, total int64) *progress {
	p := &progress{w: w, total: total}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) reader(r io.Reader) io.Reader { return &progressReader{r: r, p: p} }

type progressReader struct {
	r io.Reader
	p *progress
}

func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.p.add(int64(n))
	return n, err
}

func (p *progress) add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n += n
	if p.tty && time.Since(p.last) > 100*time.Millisecond {
		p.last = time.Now()
		p.draw()
	}
}

func (p *progress) draw() {
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(p.n)/float64(p.total), 1)
	}
	const width = 30
	fill := int(frac * width)
	fmt.Fprintf(p.w, "\rupload [%s%s] %3.0f%% %s / %s", strings.Repeat("#", fill), strings.Repeat(".", width-fill),
		frac*100, mb(p.n), mb(p.total))
}

func (p *progress) done() {
	p.once.Do(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.tty {
			p.draw()
			fmt.Fprintln(p.w)
		}
		fmt.Fprintf(p.w, "uploaded %s; waiting for the cluster to commit\n", mb(p.n))
	})
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
