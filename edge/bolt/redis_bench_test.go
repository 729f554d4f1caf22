package bolt_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The Redis reference of the lookup benchmark: a redis-server from Debian's
// package on a loopback port, and a minimal RESP2 client (GET, SET, PING,
// INFO with pipelining) so that no client library enters go.mod for a
// benchmark. The client does what any client does on the wire: one request
// written, one reply read; it does not pool, retry or reconnect.

// redisBinary returns the path of redis-server or an error that names the
// package: a missing server fails the benchmark, it never skips it.
func redisBinary() (string, error) {
	for _, p := range []string{"redis-server", "/usr/bin/redis-server", "/usr/sbin/redis-server"} {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
	}
	return "", errors.New("redis-server not found: install Debian's redis-server package (apt-get install redis-server); `make bench` does it when run as root")
}

// redisServer is a running redis-server.
type redisServer struct {
	Addr string
	out  *lockedBuffer
}

// startRedis starts redis-server on a free loopback port with no
// persistence (no RDB snapshots, no AOF: a cache, as the edge's would be
// if it were Redis) and stops it when the benchmark ends.
func startRedis(tb testing.TB) *redisServer {
	tb.Helper()
	bin, err := redisBinary()
	if err != nil {
		tb.Fatal(err)
	}
	var lastErr error
	for range 5 { // a free port may be taken between Listen and the server's bind
		r, err := tryStartRedis(tb, bin)
		if err == nil {
			return r
		}
		lastErr = err
	}
	tb.Fatalf("start redis-server: %v", lastErr)
	return nil
}

func tryStartRedis(tb testing.TB, bin string) (*redisServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := tb.TempDir()
	out := &lockedBuffer{}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--protected-mode", "yes",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir, "--logfile", "",
		"--dbfilename", "bench.rdb")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	r := &redisServer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), out: out}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		c, err := dialRedis(ctx, r.Addr)
		if err == nil {
			pong, err := c.do("PING")
			c.Close()
			if err == nil && string(pong) == "PONG" {
				break
			}
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("redis-server exited: %s", out.String())
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-exited
			return nil, fmt.Errorf("redis-server not answering on %s after 10s: %s", r.Addr, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		_ = os.RemoveAll(filepath.Join(dir, "bench.rdb"))
	})
	return r, nil
}

// redisConn is one RESP2 connection.
type redisConn struct {
	c net.Conn
	r *bufio.Reader
	w *bufio.Writer
}

func dialRedis(ctx context.Context, addr string) (*redisConn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &redisConn{c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}, nil
}

func (c *redisConn) Close() error { return c.c.Close() }

// write appends a command (an array of bulk strings) to the write buffer.
func (c *redisConn) write(args ...[]byte) error {
	c.w.WriteByte('*')
	c.w.WriteString(strconv.Itoa(len(args)))
	c.w.WriteString("\r\n")
	for _, a := range args {
		c.w.WriteByte('$')
		c.w.WriteString(strconv.Itoa(len(a)))
		c.w.WriteString("\r\n")
		c.w.Write(a)
		if _, err := c.w.WriteString("\r\n"); err != nil {
			return err
		}
	}
	return nil
}

// errRedisNil is a nil bulk reply (GET of a missing key).
var errRedisNil = errors.New("redis: nil")

// read reads one reply: a simple string, an integer or a bulk string; an
// error reply is returned as an error. buf is reused for a bulk string
// when it is large enough, so a GET loop allocates nothing in the steady
// state.
func (c *redisConn) read(buf []byte) ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("redis: bad reply line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+', ':':
		return append(buf[:0], body...), nil
	case '-':
		return nil, fmt.Errorf("redis: %s", body)
	case '$':
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return nil, fmt.Errorf("redis: bad bulk length %q", body)
		}
		if n < 0 {
			return nil, errRedisNil
		}
		if cap(buf) < n+2 {
			buf = make([]byte, n+2)
		}
		buf = buf[:n+2]
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
	return nil, fmt.Errorf("redis: unexpected reply type %q", line[0])
}

// do sends one command and reads its reply.
func (c *redisConn) do(args ...string) ([]byte, error) {
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	if err := c.write(bs...); err != nil {
		return nil, err
	}
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	return c.read(nil)
}

var cmdGet, cmdSet = []byte("GET"), []byte("SET")

// get is one GET round trip; the value is read into buf.
func (c *redisConn) get(key, buf []byte) ([]byte, error) {
	if err := c.write(cmdGet, key); err != nil {
		return nil, err
	}
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	return c.read(buf)
}

// setAll stores the pairs with pipelining: batches of SETs are written
// before their replies are read, so loading a million keys takes seconds,
// not a million round trips.
func (c *redisConn) setAll(keys, values [][]byte) error {
	const batch = 1000
	for i := 0; i < len(keys); i += batch {
		j := min(i+batch, len(keys))
		for k := i; k < j; k++ {
			if err := c.write(cmdSet, keys[k], values[k]); err != nil {
				return err
			}
		}
		if err := c.w.Flush(); err != nil {
			return err
		}
		for k := i; k < j; k++ {
			if r, err := c.read(nil); err != nil || string(r) != "OK" {
				return fmt.Errorf("set %d: %q %v", k, r, err)
			}
		}
	}
	return nil
}

// info returns one field of INFO's section, e.g. ("memory", "used_memory").
func (c *redisConn) info(section, field string) (string, error) {
	b, err := c.do("INFO", section)
	if err != nil {
		return "", err
	}
	for line := range bytes.SplitSeq(b, []byte("\r\n")) {
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && string(k) == field {
			return string(v), nil
		}
	}
	return "", fmt.Errorf("INFO %s has no %s", section, field)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
