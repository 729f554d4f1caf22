package pad

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"huiyan"
)

// backendTimeout bounds each backend call a connection makes.
const backendTimeout = 10 * time.Second

// closeGrace is how long the writer waits, after its close frame, for the
// PAD's answering close frame before it drops the TCP connection: closing
// at once could reset the connection before the PAD read our frame.
const closeGrace = time.Second

// maxVisitIDLen bounds the visit id a PAD may name.
const maxVisitIDLen = 128

// Messages staff read when their connection ends.
const (
	msgSessionEnded = "登录已过期，请重新登录 / session expired, please log in again"
	msgLoggedOut    = "已退出登录 / logged out"
	msgUnavailable  = "服务暂时不可用，正在重新连接 / service unavailable, reconnecting"
)

var errClosed = errors.New("connection closed")

// frame is one item of a connection's send queue: a message, or (close != 0)
// the close frame that ends the connection after the messages before it.
type frame struct {
	data   []byte
	close  int
	text   string // close reason sent to the PAD (at most 123 bytes)
	reason string // close reason for the log
}

type pendingMsg struct {
	seq  uint64
	data []byte
}

// conn is one PAD websocket. Its reader runs on the HTTP handler's
// goroutine and is the only goroutine that calls the backend for it; its
// writer owns every write but the close frames of kill and Shutdown.
//
// Ordering. Publish and the reader both feed the send queue. While the
// reader brings the PAD up to date (hello, replay, state) the connection is
// "holding": Publish parks events in pending instead of the queue. When the
// reader is done it sets synced to the seq the PAD is now current to,
// drains pending (skipping seq <= synced: those were in the replay or the
// state) and only then lets Publish write to the queue directly, again
// skipping seq <= synced. So nothing falls between the replay and the live
// events, and nothing is sent twice.
type conn struct {
	s      *Server
	ws     *websocket.Conn
	sess   Session // immutable: Publish reads it without a lock
	remote string
	opened time.Time

	send       chan frame
	done       chan struct{} // closed by kill: the connection is ending
	readerDone chan struct{}
	writerDone chan struct{}
	ctx        context.Context // cancelled by kill
	cancel     context.CancelFunc

	once      sync.Once
	reason    string // written in kill before done is closed
	closeCode int
	closeText string

	mu      sync.Mutex
	holding bool
	pending []pendingMsg
	// inflight are the server's events in flight when the connection
	// started holding (Server.Publish): what it reads from the backend is
	// followed by those newer than it (queueInFlight).
	inflight []huiyan.FeedEvent
	synced   uint64
	closing  bool // a close is queued or under way: nothing more is queued
}

func newConn(s *Server, ws *websocket.Conn, sess Session, remote string) *conn {
	c := &conn{
		s:          s,
		ws:         ws,
		sess:       sess,
		remote:     remote,
		opened:     time.Now(),
		send:       make(chan frame, s.opts.SendBuffer),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
		holding:    true, // until hello is queued
	}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	return c
}

// serveWS is GET /pad/ws.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, huiyan.EForbidden, "origin not allowed")
		return
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		writeError(w, http.StatusServiceUnavailable, huiyan.EUnavailable, "server shutting down")
		return
	}
	sess, ok := s.requireSession(w, r)
	if !ok {
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered the request
	}
	c := newConn(s, ws, sess, r.RemoteAddr)
	if !s.register(c) {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(s.opts.WriteWait))
		ws.Close()
		return
	}
	s.log.Info("pad connected", "staff", sess.Staff.ID, "role", sess.Staff.Role, "remote", c.remote)
	go c.writePump()
	c.readPump()
}

// readPump sends hello, then reads and handles the PAD's messages until the
// connection ends; then it cleans up.
func (c *conn) readPump() {
	defer c.cleanup()
	o := &c.s.opts
	c.ws.SetReadLimit(o.ReadLimit)
	_ = c.ws.SetReadDeadline(time.Now().Add(o.PongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(o.PongWait))
	})
	if err := c.hello(); err != nil && !errors.Is(err, errClosed) {
		c.s.log.Error("pad hello failed", "staff", c.sess.Staff.ID, "err", err)
		c.closeWithError(huiyan.EUnavailable, msgUnavailable, websocket.CloseTryAgainLater, "hello failed")
	}
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			c.kill(readErrorReason(err), 0, "", false)
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(o.PongWait))
		if c.isClosing() {
			continue // read on, for the PAD's answer to our close frame
		}
		c.handle(typ, data)
		// Handling may have taken a while (a replay to a slow PAD).
		_ = c.ws.SetReadDeadline(time.Now().Add(o.PongWait))
	}
}

func readErrorReason(err error) string {
	var ne net.Error
	switch {
	case websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway):
		return "closed by PAD"
	case errors.Is(err, websocket.ErrReadLimit):
		return "message over the read limit"
	case errors.As(err, &ne) && ne.Timeout():
		return "no pong within the pong wait"
	}
	return "read: " + err.Error()
}

func (c *conn) cleanup() {
	close(c.readerDone)
	c.kill("reader ended", 0, "", false)
	<-c.writerDone
	c.cancel()
	c.s.unregister(c)
	c.s.log.Info("pad disconnected", "staff", c.sess.Staff.ID, "remote", c.remote,
		"reason", c.reason, "duration", time.Since(c.opened).Round(time.Millisecond))
}

// writePump writes the queued frames and the pings. It is the only writer
// of data frames.
func (c *conn) writePump() {
	defer close(c.writerDone)
	o := &c.s.opts
	ping := time.NewTicker(o.PingPeriod)
	defer ping.Stop()
	for {
		select {
		case f := <-c.send:
			if f.close != 0 {
				c.writeClose(f.close, f.text)
				c.kill(f.reason, 0, "", false)
				c.finish()
				return
			}
			_ = c.ws.SetWriteDeadline(time.Now().Add(o.WriteWait))
			if err := c.ws.WriteMessage(websocket.TextMessage, f.data); err != nil {
				c.kill("write: "+err.Error(), 0, "", false)
				c.ws.Close()
				return
			}
			c.s.m.sent.Inc()
		case <-ping.C:
			if c.expired() {
				c.closeWithError(huiyan.EUnauthorized, msgSessionEnded, websocket.ClosePolicyViolation, "session expired")
				continue
			}
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(o.WriteWait)); err != nil {
				c.kill("ping: "+err.Error(), 0, "", false)
				c.ws.Close()
				return
			}
		case <-c.done:
			if c.closeCode != 0 {
				c.writeClose(c.closeCode, c.closeText)
			}
			c.finish()
			return
		}
	}
}

func (c *conn) writeClose(code int, text string) {
	msg := websocket.FormatCloseMessage(code, text)
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.s.opts.WriteWait))
}

// finish waits briefly for the reader to see the PAD's close frame, then
// drops the connection.
func (c *conn) finish() {
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-c.readerDone:
	case <-t.C:
	}
	c.ws.Close()
}

// kill ends the connection: code != 0 sends that close frame first;
// immediate drops the TCP connection at once (a PAD too slow to drain its
// queue would not read a close frame either). It never blocks, so Publish
// may call it.
func (c *conn) kill(reason string, code int, text string, immediate bool) {
	c.once.Do(func() {
		c.reason, c.closeCode, c.closeText = reason, code, text
		close(c.done)
		c.cancel()
		if immediate {
			go c.ws.Close()
		}
	})
}

// closeWithError queues an error message and a close frame after whatever is
// queued, so that the PAD reads why. It never blocks: a full queue drops the
// connection at once.
func (c *conn) closeWithError(code, message string, closeCode int, reason string) {
	data, _ := json.Marshal(ErrorMsg{Type: TypeError, Code: code, Message: message})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.closing = true
	for _, f := range []frame{{data: data}, {close: closeCode, text: code, reason: reason}} {
		select {
		case c.send <- f:
		default:
			c.kill(reason, 0, "", true)
			return
		}
	}
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

func (c *conn) expired() bool {
	return !c.s.opts.Clock().Before(c.sess.Expires)
}

// offer queues a published event (see conn for the ordering). Called by
// Publish; never blocks.
func (c *conn) offer(seq uint64, data []byte) {
	select {
	case <-c.done:
		return
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	if c.holding {
		if len(c.pending) >= c.s.opts.SendBuffer {
			c.dropLocked()
			return
		}
		c.pending = append(c.pending, pendingMsg{seq, data})
		return
	}
	if seq <= c.synced {
		return
	}
	select {
	case c.send <- frame{data: data}:
	default:
		c.dropLocked()
	}
}

func (c *conn) dropLocked() {
	c.closing = true
	c.s.m.dropped.Inc()
	c.kill("too slow: send queue full", 0, "", true)
}

// enqueue queues a frame from the reader, waiting for room: the reader may
// wait for its own PAD; Publish never does.
func (c *conn) enqueue(f frame) bool {
	select {
	case c.send <- f:
		return true
	case <-c.done:
		return false
	}
}

func (c *conn) sendMsg(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	if !c.enqueue(frame{data: data}) {
		return errClosed
	}
	return nil
}

func (c *conn) sendError(code, message, request, visit string) {
	_ = c.sendMsg(ErrorMsg{Type: TypeError, Code: code, Message: message, Request: request, Visit: visit})
}

// hold parks published events until release, and notes the events in
// flight at this moment (atomically with Publish).
func (c *conn) hold() {
	c.s.pubMu.Lock()
	defer c.s.pubMu.Unlock()
	c.mu.Lock()
	c.holding = true
	c.pending = nil
	c.inflight = c.s.inFlightLocked()
	c.mu.Unlock()
}

// queueInFlight follows what the connection read from the backend, up to
// seq read, with the events in flight when it started holding that are
// newer: published before the connection held, committed after the read
// (or not yet). synced moves past them, so release skips them in pending.
func (c *conn) queueInFlight(read uint64) error {
	c.mu.Lock()
	evs := c.inflight
	c.inflight = nil
	c.mu.Unlock()
	synced := read
	for _, e := range evs {
		if e.Seq <= synced {
			continue
		}
		synced = e.Seq
		if err := c.queueEvent(e); err != nil {
			return err
		}
	}
	c.setSynced(synced)
	return nil
}

// queueEvent queues a feed event the reader sends (hello, replay, in
// flight), if the PAD's staff member is in its audience.
func (c *conn) queueEvent(e huiyan.FeedEvent) error {
	if !e.Audience.Includes(&c.sess.Staff) {
		return nil
	}
	data, err := encodeEvent(e, yours(e.Profile, c.sess.Staff.ID))
	if err != nil {
		return err
	}
	if !c.enqueue(frame{data: data}) {
		return errClosed
	}
	return nil
}

func (c *conn) setSynced(seq uint64) {
	c.mu.Lock()
	c.synced = seq
	c.mu.Unlock()
}

// release queues the events parked while holding that are newer than
// synced, then goes live.
func (c *conn) release() {
	for {
		c.mu.Lock()
		if len(c.pending) == 0 {
			c.holding = false
			c.mu.Unlock()
			return
		}
		batch, synced := c.pending, c.synced
		c.pending = nil
		c.mu.Unlock()
		for _, p := range batch {
			if p.seq <= synced {
				continue
			}
			if !c.enqueue(frame{data: p.data}) {
				return
			}
		}
	}
}

// hello queues the hello message with the newest seq. The connection was
// registered holding, before Newest was read, so an event committed in
// between is parked and follows the hello.
func (c *conn) hello() error {
	ctx, cancel := context.WithTimeout(c.ctx, backendTimeout)
	newest, err := c.s.backend.Newest(ctx)
	cancel()
	if err != nil {
		return fmt.Errorf("newest seq: %w", err)
	}
	branch := c.s.opts.Branch
	if branch == "" {
		branch = c.sess.Branch
	}
	st := c.sess.Staff
	if err := c.sendMsg(HelloMsg{
		Type:       TypeHello,
		Seq:        newest,
		Staff:      Staff{ID: st.ID, Name: st.DisplayName, Role: st.Role},
		Branch:     branch,
		ServerTime: FormatTime(c.s.opts.Clock()),
	}); err != nil {
		return err
	}
	c.setSynced(newest)
	if err := c.queueInFlight(newest); err != nil {
		return err
	}
	c.release()
	return nil
}

// handle answers one message from the PAD.
func (c *conn) handle(typ int, data []byte) {
	var in inbound
	if typ != websocket.TextMessage {
		c.sendError(EBadMessage, "messages must be JSON text frames", "", "")
		return
	}
	if err := json.Unmarshal(data, &in); err != nil || in.Type == "" {
		c.sendError(EBadMessage, `message must be a JSON object with a string "type"`, "", "")
		return
	}
	if c.expired() {
		c.closeWithError(huiyan.EUnauthorized, msgSessionEnded, websocket.ClosePolicyViolation, "session expired")
		return
	}
	switch in.Type {
	case TypePing:
		_ = c.sendMsg(PongMsg{Type: TypePong})
	case TypeResume:
		if in.AfterSeq == nil {
			c.sendError(huiyan.EInvalid, "resume needs after_seq", in.Type, "")
			return
		}
		if !c.checkSession(in.Type) {
			return
		}
		c.resume(*in.AfterSeq)
	case TypeClaim, TypeRelease, TypeOutcome:
		c.change(in)
	default:
		c.sendError(EUnknownType, fmt.Sprintf("unknown message type %.32q", in.Type), in.Type, "")
	}
}

// checkSession asks the backend whether the session still stands (it may
// have been revoked); an ended session closes the connection.
func (c *conn) checkSession(request string) bool {
	ctx, cancel := context.WithTimeout(c.ctx, backendTimeout)
	defer cancel()
	_, err := c.s.backend.Session(ctx, c.sess.Token)
	switch {
	case err == nil:
		return true
	case huiyan.ErrorCode(err) == huiyan.EUnauthorized:
		c.closeWithError(huiyan.EUnauthorized, msgSessionEnded, websocket.ClosePolicyViolation, "session ended")
	default:
		c.s.log.Error("pad session check failed", "staff", c.sess.Staff.ID, "err", err)
		c.sendError(huiyan.ErrorCode(err), huiyan.ErrorMessage(err), request, "")
	}
	return false
}

// change handles claim, release and outcome. Success needs no answer: the
// edge publishes the visit's change to every PAD, this one included.
func (c *conn) change(in inbound) {
	if in.Visit == "" || len(in.Visit) > maxVisitIDLen {
		c.sendError(huiyan.EInvalid, in.Type+" needs a visit id", in.Type, "")
		return
	}
	o := huiyan.Outcome(in.Result)
	if in.Type == TypeOutcome && !o.Valid() {
		c.sendError(huiyan.EInvalid, fmt.Sprintf("unknown outcome %.32q", in.Result), in.Type, in.Visit)
		return
	}
	if !c.checkSession(in.Type) {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, backendTimeout)
	defer cancel()
	staff := c.sess.Staff.ID
	var err error
	switch in.Type {
	case TypeClaim:
		err = c.s.backend.Claim(ctx, staff, in.Visit)
	case TypeRelease:
		err = c.s.backend.Release(ctx, staff, in.Visit)
	case TypeOutcome:
		err = c.s.backend.Outcome(ctx, staff, in.Visit, o)
	}
	if err != nil {
		if huiyan.ErrorCode(err) == huiyan.EInternal {
			c.s.log.Error("pad "+in.Type+" failed", "staff", staff, "visit", in.Visit, "err", err)
		}
		c.sendError(huiyan.ErrorCode(err), huiyan.ErrorMessage(err), in.Type, in.Visit)
	}
}

// resume brings the PAD up to date after afterSeq: a replay of the feed, or
// the state when the feed no longer reaches back that far, or afterSeq is
// 0, or names no event: newer than the newest seq (an edge restored from a
// backup), or a seq the PAD was shown for an arrival that never committed
// (Server.Retract, or a crash between the two: the edge then skips those
// seqs, so they name nothing). The newest seq itself, which hello hands
// out, is a good place to resume from even when it names no event. The
// stream restarts after afterSeq: live messages the PAD got since hello
// with a greater seq come again, in order.
func (c *conn) resume(afterSeq uint64) {
	c.hold()
	if err := c.replay(afterSeq); err != nil {
		if !errors.Is(err, errClosed) {
			c.s.log.Error("pad resume failed", "staff", c.sess.Staff.ID, "after_seq", afterSeq, "err", err)
			// A gap is worse than a reconnect: the PAD resumes again.
			c.closeWithError(huiyan.EUnavailable, msgUnavailable, websocket.CloseTryAgainLater, "resume failed")
		}
		return
	}
	c.release()
}

func (c *conn) replay(after uint64) error {
	if after == 0 {
		return c.sendState()
	}
	ctx, cancel := context.WithTimeout(c.ctx, backendTimeout)
	newest, err := c.s.backend.Newest(ctx)
	cancel()
	if err != nil {
		return fmt.Errorf("newest seq: %w", err)
	}
	if after > newest {
		return c.sendState()
	}
	c.setSynced(after)
	limit := c.s.opts.ReplayLimit
	cursor := after
	if after < newest {
		// The PAD's seq must name an event; the page from after-1 starts
		// with it or the PAD holds something that never committed.
		ctx, cancel := context.WithTimeout(c.ctx, backendTimeout)
		events, ok, err := c.s.backend.FeedAfter(ctx, after-1, 1)
		cancel()
		if err != nil {
			return fmt.Errorf("feed after %d: %w", after-1, err)
		}
		if !ok || len(events) == 0 || events[0].Seq != after {
			return c.sendState()
		}
	}
	for {
		ctx, cancel := context.WithTimeout(c.ctx, backendTimeout)
		events, ok, err := c.s.backend.FeedAfter(ctx, cursor, limit)
		cancel()
		if err != nil {
			return fmt.Errorf("feed after %d: %w", cursor, err)
		}
		if !ok {
			return c.sendState()
		}
		start := cursor
		for _, e := range events {
			if e.Seq <= cursor {
				continue // not after the cursor: the backend repeated itself
			}
			cursor = e.Seq
			if err := c.queueEvent(e); err != nil {
				return err
			}
		}
		c.setSynced(cursor)
		if len(events) < limit {
			return c.queueInFlight(cursor)
		}
		if cursor == start {
			return fmt.Errorf("feed after %d: a full page without a newer seq", start)
		}
	}
}

func (c *conn) sendState() error {
	ctx, cancel := context.WithTimeout(c.ctx, backendTimeout)
	newest, cards, devices, err := c.s.backend.State(ctx)
	cancel()
	if err != nil {
		return fmt.Errorf("state: %w", err)
	}
	if err := c.sendMsg(StateFor(newest, cards, devices, &c.sess.Staff)); err != nil {
		return err
	}
	c.setSynced(newest)
	return c.queueInFlight(newest)
}
