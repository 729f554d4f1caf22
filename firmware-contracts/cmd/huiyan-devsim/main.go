// Command huiyan-devsim is Huiyan's device simulator and load generator
// (DESIGN.md, "Commands"):
//
//	huiyan-devsim gen [-customers N] [-branches M] [-seed S] [-out DIR]
//	huiyan-devsim run [-data DIR] [-broker URL] [-edge URL] [-branch ID] [-rate R/s] [-duration D | -count N]
//
// gen writes a synthetic HQ snapshot (tags.csv), staff roster (staff.csv)
// and prize wheel tables (prizes.csv);
// run plays simulated branch devices against a broker.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"huiyan/firmware-contracts/devsim"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // the command failed while running
	exitUsage = 2 // bad subcommand or flags
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := NewMain().Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// Main is the program: the subcommands and where they write. Tests run it
// with their own writers.
type Main struct {
	Stdout io.Writer
	Stderr io.Writer
}

// NewMain returns a Main writing to the process's standard streams.
func NewMain() *Main { return &Main{Stdout: os.Stdout, Stderr: os.Stderr} }

// command is one subcommand. ParseFlags reports bad flags as an error
// (flag.ErrHelp for -h, after printing the usage); Run does the work.
type command interface {
	ParseFlags(args []string) error
	Run(ctx context.Context) error
}

// Run runs the subcommand named by args[0] and returns the exit status: 0
// on success and for -h, 2 with one line on standard error for a bad
// subcommand or flag, 1 when the command fails.
func (m *Main) Run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		m.usage(m.Stderr)
		return exitUsage
	}
	var cmd command
	switch args[0] {
	case "gen":
		cmd = &GenCommand{Stdout: m.Stdout, Stderr: m.Stderr}
	case "run":
		cmd = &RunCommand{Stdout: m.Stdout, Stderr: m.Stderr}
	case "-h", "-help", "--help", "help":
		m.usage(m.Stdout)
		return exitOK
	case "version", "-version", "--version":
		fmt.Fprintln(m.Stdout, "huiyan-devsim", version)
		return exitOK
	default:
		fmt.Fprintf(m.Stderr, "huiyan-devsim: unknown command %q (want gen or run; -h for help)\n", args[0])
		return exitUsage
	}
	if err := cmd.ParseFlags(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(m.Stderr, "huiyan-devsim %s: %s\n", args[0], oneLine(err))
		return exitUsage
	}
	if err := cmd.Run(ctx); err != nil {
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintf(m.Stderr, "huiyan-devsim %s: %s\n", args[0], oneLine(err))
			return exitUsage
		}
		fmt.Fprintf(m.Stderr, "huiyan-devsim %s: %s\n", args[0], oneLine(err))
		return exitError
	}
	return exitOK
}

func (m *Main) usage(w io.Writer) {
	fmt.Fprint(w, `Usage: huiyan-devsim <command> [flags]

Commands:
  gen   write a synthetic HQ snapshot (tags.csv), staff roster (staff.csv) and prize wheels (prizes.csv)
  run   simulate super-counters, e-code scans and prize-wheel spins

Run "huiyan-devsim <command> -h" for the flags of a command.
`)
}

// usageError is an error in what the user asked for, reported with exit
// status 2.
type usageError struct{ error }

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// flagSet is a flag set that reports errors through ParseFlags instead of
// printing them (so that a bad flag gives one line), and prints its usage
// to standard output for -h.
type flagSet struct {
	*flag.FlagSet
	synopsis string
	stdout   io.Writer
}

func newFlagSet(name, synopsis string, stdout io.Writer) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{fs, synopsis, stdout}
}

// parse parses args, prints the usage for -h and refuses positional
// arguments.
func parse(fs *flagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(fs.stdout, "Usage: huiyan-devsim %s\n\n%s\n\nFlags:\n", fs.Name(), fs.synopsis)
			fs.SetOutput(fs.stdout)
			fs.PrintDefaults()
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// GenCommand is "huiyan-devsim gen".
type GenCommand struct {
	Config devsim.GenConfig
	Out    string

	Stdout, Stderr io.Writer
}

// ParseFlags fills the command from its flags and validates them.
func (c *GenCommand) ParseFlags(args []string) error {
	fs := newFlagSet("gen [-customers N] [-branches M] [-seed S] [-out DIR]",
		`Writes a realistic synthetic HQ snapshot (DIR/tags.csv), staff roster
(DIR/staff.csv) and prize wheel tables (DIR/prizes.csv, for huiyan-hub
import -prizes), creating DIR if missing. The same flags give byte-identical
files on any day: maturities fall in the 60 days after `+devsim.DefaultRef.Format(time.DateOnly)+`.
Identity tokens use the demo key (key id k1); every staff PIN is `+devsim.DemoPIN+`.`, c.Stdout)
	fs.IntVar(&c.Config.Customers, "customers", 10_000, fmt.Sprintf("number of customers, 1 to %d", devsim.MaxGenCustomers))
	fs.IntVar(&c.Config.Branches, "branches", 3, fmt.Sprintf("number of branches (ids B001, B002 …), 1 to %d", devsim.MaxGenBranches))
	fs.Int64Var(&c.Config.Seed, "seed", 1, "random seed; the same seed gives byte-identical files")
	fs.StringVar(&c.Out, "out", "data", "output directory, created if missing (run reads -data, also data by default)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(c.Out) == "" {
		return errors.New("-out: must name a directory")
	}
	if err := c.Config.Validate(); err != nil {
		return fmt.Errorf("-%w", err)
	}
	return nil
}

// Run generates the data set.
func (c *GenCommand) Run(ctx context.Context) error {
	start := time.Now()
	res, err := devsim.Gen(ctx, c.Config, c.Out)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.Stdout, "wrote %s: %d customers, %d branches (%s)\n", res.TagsPath, res.Customers, c.Config.Branches, size(res.TagsBytes))
	fmt.Fprintf(c.Stdout, "wrote %s: %d staff, PIN %s (%s)\n", res.StaffPath, res.Staff, devsim.DemoPIN, size(res.StaffBytes))
	fmt.Fprintf(c.Stdout, "wrote %s: a prize wheel for each of the %d branches, campaign %s (%s)\n", res.PrizesPath, res.Branches, devsim.PrizesCampaign(c.Config), size(res.PrizesBytes))
	fmt.Fprintf(c.Stdout, "seed %d, key id k1, maturities from %s, %.1fs\n",
		c.Config.Seed, res.Ref.Format(time.DateOnly), time.Since(start).Seconds())
	return nil
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// RunCommand is "huiyan-devsim run".
type RunCommand struct {
	Config devsim.SimConfig
	Quiet  bool

	Stdout, Stderr io.Writer
}

// ParseFlags reads run's flags.
func (c *RunCommand) ParseFlags(args []string) error {
	c.Config = devsim.DefaultSimConfig()
	fs := newFlagSet("run [-data DIR] [-broker URL] [-edge URL] [-branch ID] [-rate R/s] [-duration D | -count N]",
		`Plays a branch's devices against an MQTT broker: four super-counters
(sc-01..sc-04), an e-code display (ecode-01) and a prize wheel (wheel-01),
each on its own connection with a retained status and a Last Will. Arrivals
are a realistic mix of channels, known customers of the data set in DIR and
unknown faces; some counter arrivals of customers whose mobile banking is not
active are followed by an e-code scan (the activation and new-user path).
With -edge, e-code scans carry the codes the branch shows: the display's
current code (GET /ecode/ecode-01/code.json), a staff member's own code
(logged in as lobby-, wealth- or account-{branch} with the demo PIN, GET
/pad/mycode), and a few replays of a code the edge has called expired (a
photo scanned later: the edge counts it as not present). Without -edge they
carry a placeholder that an edge with rotating e-codes refuses as forged.
Prints each arrival sent and a summary.`, c.Stdout)
	fs.StringVar(&c.Config.DataDir, "data", c.Config.DataDir, "data set directory written by gen")
	fs.StringVar(&c.Config.Broker, "broker", c.Config.Broker, "broker URL")
	fs.StringVar(&c.Config.Edge, "edge", "", "the edge's HTTP `URL` (http://127.0.0.1:8080), to scan the e-codes it shows")
	fs.Float64Var(&c.Config.StaffShare, "staff-codes", c.Config.StaffShare, "with -edge: share of e-code scans of a staff member's code, 0 to 1")
	fs.Float64Var(&c.Config.ReplayShare, "replays", c.Config.ReplayShare, "with -edge: share of e-code scans replaying an expired code, 0 to 1")
	fs.StringVar(&c.Config.Branch, "branch", c.Config.Branch, "branch id whose devices to play")
	fs.Float64Var(&c.Config.Rate, "rate", c.Config.Rate, "arrivals per second")
	fs.DurationVar(&c.Config.Duration, "duration", 0, "stop after this long (e.g. 5m)")
	fs.IntVar(&c.Config.Count, "count", 0, "stop after this many arrivals")
	fs.DurationVar(&c.Config.FollowUpDelay, "followup", c.Config.FollowUpDelay, "delay from a counter arrival to the e-code scan that follows it")
	fs.Float64Var(&c.Config.UnknownShare, "unknown", c.Config.UnknownShare, "share of arrivals by unknown faces, 0 to 1")
	fs.Int64Var(&c.Config.Seed, "seed", c.Config.Seed, "random seed; 0 takes one from the clock")
	fs.StringVar(&c.Config.Username, "username", "", "device username, when the broker needs one")
	fs.StringVar(&c.Config.Password, "password", "", "device password")
	fs.BoolVar(&c.Quiet, "q", false, "print only the summary")
	if err := parse(fs, args); err != nil {
		return err
	}
	if c.Config.Duration <= 0 && c.Config.Count <= 0 {
		return errors.New("give -duration or -count: a run must end")
	}
	if c.Config.Rate <= 0 || c.Config.Rate > 10000 {
		return fmt.Errorf("-rate %v: must be above 0 and at most 10000", c.Config.Rate)
	}
	if s, r := c.Config.StaffShare, c.Config.ReplayShare; s < 0 || r < 0 || s+r > 1 {
		return fmt.Errorf("-staff-codes %v and -replays %v: must be 0 to 1 together", s, r)
	}
	return nil
}

// Run plays the devices and prints a summary.
func (c *RunCommand) Run(ctx context.Context) error {
	if !c.Quiet {
		c.Config.Out = c.Stdout
	}
	sim, err := devsim.NewSim(c.Config)
	if err != nil {
		return err
	}
	start := time.Now()
	st, err := sim.Run(ctx)
	fmt.Fprintf(c.Stdout, "sent %d arrivals in %.1fs: counter %d, e-code %d, wheel %d; known %d, new faces %d; e-code scans after a counter visit %d; staff codes %d, replayed expired codes %d\n",
		st.Sent, time.Since(start).Seconds(), st.Counter, st.ECode, st.Wheel, st.Known, st.Unknown, st.FollowUps, st.StaffCodes, st.Replays)
	return err
}
