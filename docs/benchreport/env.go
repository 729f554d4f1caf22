package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Env is the machine and the versions a report was measured with.
type Env struct {
	Date      time.Time
	Started   time.Time // when make bench began (zero: unknown)
	CPU       string
	Cores     int
	RAM       string
	Kernel    string
	Go        string
	Mosquitto string
	Redis     string
	Chromium  string
	Commit    string
	LoadStart string // /proc/loadavg's three averages when the run began
	LoadEnd   string // and when it ended
	Binaries  []Binary
}

// Binary is a built binary and its size.
type Binary struct {
	Name string
	Size int64
}

// gatherEnv reads the machine from /proc and asks each program its version;
// what cannot be found reads "unknown" rather than failing the report.
func gatherEnv(binDir string) Env {
	e := Env{Date: time.Now(), Cores: runtime.NumCPU(), Go: runtime.Version()}
	e.CPU = procField("/proc/cpuinfo", "model name")
	if kb := procField("/proc/meminfo", "MemTotal"); kb != "unknown" {
		if n, err := strconv.ParseFloat(strings.TrimSuffix(kb, " kB"), 64); err == nil {
			e.RAM = strconv.FormatFloat(n/(1<<20), 'f', 1, 64) + " GiB"
		}
	}
	if e.RAM == "" {
		e.RAM = "unknown"
	}
	e.Kernel = firstLine(readFile("/proc/sys/kernel/osrelease"))
	if f := strings.Fields(readFile("/proc/loadavg")); len(f) >= 3 {
		e.LoadEnd = strings.Join(f[:3], " ") // now; the run's own end when make bench saved it
	}
	e.Mosquitto = version("mosquitto", "mosquitto version", "-h")
	e.Redis = version("redis-server", "Redis server", "--version")
	e.Chromium = version("chromium", "Chromium", "--version")
	e.Commit = firstLine(command("git", "rev-parse", "--short=12", "HEAD"))
	if e.Commit == "" {
		e.Commit = "unknown"
	} else if strings.TrimSpace(command("git", "status", "--porcelain", "--untracked-files=no")) != "" {
		e.Commit += " (with uncommitted changes)"
	}
	paths, _ := filepath.Glob(filepath.Join(binDir, "*"))
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			e.Binaries = append(e.Binaries, Binary{Name: filepath.Base(p), Size: fi.Size()})
		}
	}
	return e
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}

// procField returns the value of the first "key : value" line.
func procField(path, key string) string {
	sc := bufio.NewScanner(strings.NewReader(readFile(path)))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// command runs a program with a deadline and returns its combined output.
func command(name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, name, args...).CombinedOutput() // some print their version and exit 1 (mosquitto -h)
	return string(out)
}

// version returns the first output line of the program that starts with
// prefix (Debian's chromium wrapper prints shell noise first).
func version(prog, prefix string, args ...string) string {
	path, err := exec.LookPath(prog)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
			if _, err := os.Stat(filepath.Join(dir, prog)); err == nil {
				path = filepath.Join(dir, prog)
			}
		}
	}
	if path == "" {
		return "not installed"
	}
	sc := bufio.NewScanner(bytes.NewReader([]byte(command(path, args...))))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, prefix) {
			return line
		}
	}
	return "unknown"
}
