//go:build unix && chaos

package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/cluster"
	"github.com/chatrooms/chatrooms/internal/proctest"
	"github.com/chatrooms/chatrooms/internal/sioclient"
)

// The chaos test runs only with -tags chaos (make chaos); see TestChaos.
var (
	chaosDuration = flag.Duration("chaos.duration", 45*time.Second, "TestChaos: how long clients send (at least until the last fault is over and a settling time has passed)")
	chaosSeed     = flag.Uint64("chaos.seed", 0, "TestChaos: seed of the random choices (0: from the clock); the schedule still depends on timing")
)

// Shape and bounds of the chaos run.
const (
	chaosRooms        = 3
	chaosUsersPerRoom = 4
	// chaosPauseMin/Max: each client waits this long between two sends
	// (about one message a second per user, under the 5/s limit).
	chaosPauseMin = 600 * time.Millisecond
	chaosPauseMax = 1400 * time.Millisecond
	// chaosAckTimeout bounds one wait for an ack (the node's own call
	// timeout is 10 s).
	chaosAckTimeout = 12 * time.Second
	// chaosRetryFor bounds the retries of one message: within the 2-minute
	// duplicate window, so that a retry can never make a second message.
	chaosRetryFor = 100 * time.Second
	chaosRetries  = 60
	// chaosReconnectFor bounds one reconnection (dials with backoff).
	chaosReconnectFor = 90 * time.Second
	// chaosSettle is how long traffic goes on after the last fault.
	chaosSettle = 5 * time.Second
	// chaosDeliveryBound is how long, after the last message was acked,
	// members may still be receiving.
	chaosDeliveryBound = 60 * time.Second
	// maxChaosEvents bounds the events one socket's reader takes.
	maxChaosEvents = 1 << 22
	// chaosExamples is how many of each kind of finding are printed.
	chaosExamples = 12
)

// Per send: the chance that the client cuts its TCP connection (no
// close frame: a network drop) a few milliseconds after emitting, so
// that the ack is often lost while the message was stored. Per pause:
// the chance of a reload (the socket closed properly, a new one opened
// with the same token, resuming from the last seq seen) and of a move
// (the same, insisting on landing on another node through nginx).
const (
	chaosCutChance    = 0.06
	chaosReloadChance = 0.03
	chaosMoveChance   = 0.03
)

// TestChaos: 3 chat nodes on a 3-server NATS JetStream cluster (R3)
// behind nginx; 12 users in 3 rooms, each a client that sends a message
// about every second with its own client_id and retries a send whose
// ack it did not get (a timeout, a dropped connection) with the same
// client_id after reconnecting; clients drop their connection at random
// (often with a send in flight), reload (a new socket with the same
// token) and move to another node, and every reconnection resumes from
// the last seq the client saw. Meanwhile, one after another: SIGKILL of a
// chat node (then its restart), SIGKILL of the NATS server leading the
// ROOMS stream (then its restart), and a rolling restart of the three
// nodes (SIGTERM, graceful drain, restart, readiness, one at a time).
//
// Then each room gets a last message and the checker verifies, for every
// member, that every acked message of its room (all sent after every
// member joined) was received exactly once and in increasing seq order,
// except within a gap the server declared with recovered: false (counted
// and printed, not owed); that no client_id produced two messages (among
// the deliveries and in the ROOMS stream); and that every acked message
// is stored at its seq. It prints
//
//	chaos: sent=N acked=N delivered=N lost=N duplicated=N gaps=N
//
// (sent: messages, each with its own client_id, however many retries;
// delivered: acked messages received, summed over members) and a line of
// details. It fails on a lost, doubled or reordered acked message, a
// client_id with two messages, a protocol violation, or nothing acked.
//
//	make chaos CHAOS_DURATION=5m
//	go test -race -count=1 -tags chaos -run TestChaos -v ./test/cluster/ -args -chaos.duration=40s
func TestChaos(t *testing.T) {
	duration := *chaosDuration
	seed := *chaosSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("chaos: duration %v, seed %d", duration, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	tp := startTopology(t, topoOptions{Grace: 10 * time.Minute}) // nobody expires
	lb := tp.endpoint("nginx")
	w := newWorld(tp, layout{name: "chaos", sockets: []string{"nginx"}, api: []string{"nginx"}})

	// Users and rooms: each room is created through the API by its first
	// user, the others switch into it. Nobody switches afterwards.
	var clients []*chaosClient
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for r := range chaosRooms {
		var members []*member
		for range chaosUsersPerRoom {
			members = append(members, w.join(t, fmt.Sprintf("User %d", len(clients)+len(members))))
		}
		room := w.createRoom(t, members[0], fmt.Sprintf("Chaos %d", r))
		for _, m := range members[1:] {
			m.enter(t, room.ID)
		}
		for i, m := range members {
			c := newChaosClient(ctx, m, len(clients), room.ID, lb, rng.Uint64())
			c.fencer = i == 0
			clients = append(clients, c)
		}
	}
	ctl := &chaosControl{stopSending: make(chan struct{}), fence: make(chan struct{}), finish: make(chan struct{})}
	maxSends := int(duration/chaosPauseMin) + 1000 // more than the run can use; the duration ends it
	for _, c := range clients {
		go c.run(ctl, maxSends)
	}
	t.Cleanup(func() {
		cancel()
		for _, c := range clients {
			c.halt(t)
		}
	})

	// The faults, one after another, from this goroutine (the harness
	// fails the test from it).
	began := time.Now()
	var timeline []string
	mark := func(format string, args ...any) {
		line := fmt.Sprintf("%6.1fs ", time.Since(began).Seconds()) + fmt.Sprintf(format, args...)
		timeline = append(timeline, line)
		t.Log("chaos: " + line)
	}
	spacing := max(duration/8, 2*time.Second)
	pause := func(d time.Duration) {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	pause(spacing)

	// Every life of every node, for what their logs say at the end.
	var lives []*proctest.Proc
	for _, n := range tp.nodes {
		lives = append(lives, n.p)
	}

	victim := tp.nodes[rng.IntN(len(tp.nodes))]
	mark("SIGKILL node %s (pid %d)", victim.name, victim.p.PID())
	victim.p.Kill(t)
	pause(2 * time.Second)
	victim.start(t, tp)
	lives = append(lives, victim.p)
	tp.waitReady(victim, startTimeout)
	mark("node %s restarted and ready", victim.name)
	pause(spacing)

	js := jsConn(t, tp)
	leader := roomsLeader(t, tp, js)
	mark("SIGKILL NATS server %s (pid %d), leader of ROOMS", leader.name, leader.p.PID())
	leader.p.Kill(t)
	pause(3 * time.Second)
	leader.start(t)
	tp.waitNATS(startTimeout)
	mark("NATS server %s restarted, cluster healthy", leader.name)
	pause(spacing)

	mark("rolling restart")
	for _, n := range tp.nodes {
		if !n.p.Stop(t) || n.p.Err() != nil {
			t.Errorf("node %s did not exit cleanly on SIGTERM: %v", n.name, n.p.Err())
		}
		mark("node %s stopped (SIGTERM)", n.name)
		n.start(t, tp)
		lives = append(lives, n.p)
		tp.waitReady(n, startTimeout)
		mark("node %s restarted and ready", n.name)
	}

	// Traffic goes on for the rest of the duration, and for a while
	// after the last fault in any case.
	pause(max(duration-time.Since(began), chaosSettle))
	if ctx.Err() != nil {
		t.Fatal("cancelled")
	}
	mark("senders stop")
	close(ctl.stopSending)
	waitChans(t, "clients done sending", chaosRetryFor+chaosReconnectFor+30*time.Second, clients, func(c *chaosClient) chan struct{} { return c.idle })
	close(ctl.fence)
	waitChans(t, "last message of each room sent", chaosRetryFor+chaosReconnectFor+30*time.Second, clients, func(c *chaosClient) chan struct{} { return c.fenced })
	mark("last messages sent")

	// Every member has what it is owed when its last seq reaches the
	// room's last acked seq (or the wait ends: the checker says what is
	// missing).
	lastAcked := map[string]uint64{}
	for _, c := range clients {
		for _, s := range c.sendsSnapshot() {
			if s.acked != nil {
				lastAcked[c.room] = max(lastAcked[c.room], s.acked.Seq)
			}
		}
	}
	deadline := time.Now().Add(chaosDeliveryBound)
	for time.Now().Before(deadline) {
		behind := 0
		for _, c := range clients {
			if c.last() < lastAcked[c.room] {
				behind++
			}
		}
		if behind == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	mark("deliveries settled")
	close(ctl.finish)
	for _, c := range clients {
		c.halt(t)
	}

	rep := checkChaos(t, js, clients)
	for _, c := range clients {
		t.Logf("chaos: %s", c.summary())
	}
	t.Logf("chaos: timeline:\n%s", strings.Join(timeline, "\n"))
	for _, l := range rep.details {
		t.Log("chaos: " + l)
	}
	// What the nodes said about delivery: a consumer replaced, a resume
	// that failed (the client was closed to retry).
	for _, p := range lives {
		for _, l := range strings.Split(p.Output(), "\n") {
			if chaosLogRE.MatchString(l) {
				t.Logf("chaos: %s (pid %d): %s", p.Name(), p.PID(), l)
			}
		}
	}
	line := fmt.Sprintf("chaos: sent=%d acked=%d delivered=%d lost=%d duplicated=%d gaps=%d", rep.sent, rep.acked, rep.delivered, rep.lost, rep.duplicated, rep.gaps)
	t.Log(line)
	fmt.Println(line) //nolint:forbidigo // make chaos shows the measured line on stdout
	for _, f := range rep.failures {
		t.Error(f)
	}
	if rep.acked == 0 {
		t.Error("no message was acked")
	}
}

// chaosLogRE matches the node log lines about delivery that TestChaos
// shows: a room-event consumer replaced, a resume that failed.
var chaosLogRE = regexp.MustCompile(`consumer went silent|msg=resume\b`)

// chaosControl are the phases of the run, as the test closes them.
type chaosControl struct {
	stopSending chan struct{} // no new message
	fence       chan struct{} // each room's fencer sends one last message
	finish      chan struct{} // clients stop reconnecting
}

// chaosClient is one user's client: one socket at a time through nginx,
// a controller goroutine (run) that sends, retries, disturbs and
// reconnects, and a reader goroutine per socket that records what it
// receives.
type chaosClient struct {
	m      *member
	idx    int
	room   string
	lb     endpoint
	ctx    context.Context
	rng    *rand.Rand // the controller's
	fencer bool       // sends its room's last message

	// The controller's own.
	cur        *sioclient.Client
	raw        net.Conn
	node       string
	readerDone chan struct{}
	nextSend   int

	idle   chan struct{} // closed when it stopped sending
	fenced chan struct{} // closed when its last message is done (at once if not the fencer)
	done   chan struct{} // closed when run returns
	halted sync.Once

	mu       sync.Mutex
	lastSeq  uint64
	got      []chaosDelivery
	gaps     []chaosGap
	sockets  []chaosSocket
	sends    []*chaosSend
	problems []string
	stats    chaosStats
}

type chaosDelivery struct {
	msg  chat.Message
	sock int // index in sockets
	at   time.Time
}

// chaosGap is a recovered: false: the events after `after` up to the
// next one received were not replayed.
type chaosGap struct {
	after  uint64
	idx    int // len(got) when it was reported
	reason string
	sock   int
}

type chaosSocket struct {
	sid      string
	node     string
	after    uint64 // resume after_seq; 0 for the first socket
	resumed  bool
	opened   time.Time
	recovery string // "true", "false:<reason>", "" (none seen)
	why      string
}

type chaosSend struct {
	clientID, content string
	first             time.Time
	attempts          int
	noAck             int            // attempts without an ack (timeout, connection lost)
	refusals          map[string]int // ack error codes
	acked             *chat.Message
	ackedAt           time.Time
	duplicate         bool   // the ack said duplicate: true
	refused           string // a refusal not retried
	gaveUp            bool
}

type chaosStats struct {
	cuts, reloads, moves, reconnects, nodeChanges, dialErrors, ackTimeouts int
	recovered                                                              int
}

func newChaosClient(ctx context.Context, m *member, idx int, room string, lb endpoint, seed uint64) *chaosClient {
	c := &chaosClient{m: m, idx: idx, room: room, lb: lb, ctx: ctx, rng: rand.New(rand.NewPCG(seed, uint64(idx))),
		idle: make(chan struct{}), fenced: make(chan struct{}), done: make(chan struct{})}
	// The socket the user entered the room with is the first; it was
	// not opened with resume. Its events since the room switch are still
	// in its inbox.
	c.cur = m.C
	c.node = sidNode(m.C.SessionID())
	c.sockets = append(c.sockets, chaosSocket{sid: m.C.SessionID(), node: c.node, opened: time.Now(), why: "initial"})
	c.readerDone = make(chan struct{})
	go c.read(m.C, 0, false, c.readerDone)
	return c
}

func (c *chaosClient) problem(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problems = append(c.problems, c.m.Name+": "+fmt.Sprintf(format, args...))
}

func (c *chaosClient) last() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastSeq
}

func (c *chaosClient) sendsSnapshot() []chaosSend {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]chaosSend, len(c.sends))
	for i, s := range c.sends {
		out[i] = *s
	}
	return out
}

// sleep waits d unless the run is cancelled; false then.
func (c *chaosClient) sleep(d time.Duration) bool {
	select {
	case <-time.After(d):
		return true
	case <-c.ctx.Done():
		return false
	}
}

// run is the controller: send, disturb, reconnect; then the room's last
// message if it is the fencer; then keep the socket up until finish.
func (c *chaosClient) run(ctl *chaosControl, maxSends int) {
	defer close(c.done)
	sending := true
	for i := 0; i < maxSends && sending; i++ {
		pause := chaosPauseMin + time.Duration(c.rng.Int64N(int64(chaosPauseMax-chaosPauseMin)))
		select {
		case <-ctl.stopSending:
			sending = false
			continue
		case <-c.ctx.Done():
			return
		case <-time.After(pause):
		}
		switch p := c.rng.Float64(); {
		case p < chaosReloadChance:
			c.count(func(s *chaosStats) { s.reloads++ })
			_ = c.reconnect("reload", false)
		case p < chaosReloadChance+chaosMoveChance:
			c.count(func(s *chaosStats) { s.moves++ })
			_ = c.reconnect("move", true)
		}
		c.send(true)
	}
	close(c.idle)
	fenceDone := !c.fencer
	if fenceDone {
		close(c.fenced)
	}
	fence := ctl.fence
	for range int(time.Hour / (200 * time.Millisecond)) {
		select {
		case <-ctl.finish:
			return
		case <-c.ctx.Done():
			return
		case <-fence:
			fence = nil // closed: ready for good
			if !fenceDone {
				c.send(false)
				fenceDone = true
				close(c.fenced)
			}
		case <-time.After(200 * time.Millisecond):
		}
		if !c.alive() {
			_ = c.reconnect("closed", false)
		}
	}
}

func (c *chaosClient) count(f func(*chaosStats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

func (c *chaosClient) alive() bool { return c.cur != nil && c.cur.Err() == nil }

// send sends the next message with its own client_id until it is acked,
// refused for good, or the retries run out: each retry has the same
// client_id, after reconnecting if the socket is gone. With disturb, the
// connection may be cut right after the emit.
func (c *chaosClient) send(disturb bool) {
	i := c.nextSend
	c.nextSend++
	s := &chaosSend{clientID: fmt.Sprintf("chaos-%d-%d", c.idx, i), content: fmt.Sprintf("%s #%d", c.m.Name, i), first: time.Now(), refusals: map[string]int{}}
	c.mu.Lock()
	c.sends = append(c.sends, s)
	c.mu.Unlock()
	update := func(f func()) {
		c.mu.Lock()
		defer c.mu.Unlock()
		f()
	}
	for attempt := 0; attempt < chaosRetries && time.Since(s.first) < chaosRetryFor; attempt++ {
		if c.ctx.Err() != nil {
			return
		}
		if !c.alive() {
			if err := c.reconnect("closed", false); err != nil {
				break
			}
		}
		cl := c.cur
		if disturb && c.raw != nil && c.rng.Float64() < chaosCutChance { // the first socket's connection is not at hand
			raw, delay := c.raw, time.Duration(c.rng.Int64N(int64(30*time.Millisecond)))
			c.count(func(s *chaosStats) { s.cuts++ })
			time.AfterFunc(delay, func() { _ = raw.Close() })
		}
		update(func() { s.attempts++ })
		ctx, cancel := context.WithTimeout(c.ctx, chaosAckTimeout)
		ack, err := cl.EmitWithAck(ctx, "send_message", map[string]string{"content": s.content, "client_id": s.clientID})
		cancel()
		if err != nil {
			update(func() { s.noAck++ })
			if cl.Err() == nil && c.ctx.Err() == nil {
				c.count(func(st *chaosStats) { st.ackTimeouts++ })
			}
			continue // the same client_id again (after reconnecting if need be)
		}
		// {"ok": true, "message": Message, "duplicate": true}, or
		// {"error": code, "message": text, "retry_after_ms": N}.
		var res struct {
			OK           bool            `json:"ok"`
			Message      json.RawMessage `json:"message"`
			Duplicate    bool            `json:"duplicate"`
			Error        string          `json:"error"`
			RetryAfterMS int64           `json:"retry_after_ms"`
		}
		if err := ack.Arg(0, &res); err != nil {
			c.problem("send %s: undecodable ack %s: %v", s.clientID, ack.Args, err)
			return
		}
		if res.OK {
			var m *chat.Message
			if err := json.Unmarshal(res.Message, &m); err != nil {
				c.problem("send %s: undecodable message in ack %s: %v", s.clientID, ack.Args, err)
				return
			}
			if m == nil || m.ClientID != s.clientID || m.RoomID != c.room || m.Type != chat.MessageText || m.Sender == nil || m.Sender.ID != c.m.ID || m.Seq == 0 || m.Content != s.content {
				c.problem("send %s: ack %s does not carry the message sent", s.clientID, ack.Args)
			}
			if m != nil {
				update(func() { s.acked, s.ackedAt, s.duplicate = m, time.Now(), res.Duplicate })
			}
			return
		}
		update(func() { s.refusals[res.Error]++ })
		switch res.Error {
		case apierr.CodeRateLimited:
			c.sleep(min(max(time.Duration(res.RetryAfterMS)*time.Millisecond, 50*time.Millisecond), 5*time.Second))
		case apierr.CodeUnavailable, apierr.CodeInternal:
			// Storage or the node in trouble (a fault, a drain): the
			// message may or may not be stored; retry it.
			c.sleep(500 * time.Millisecond)
		default:
			update(func() { s.refused = res.Error })
			if res.Error == apierr.CodeInvalidRequest {
				c.problem("send %s refused: %s", s.clientID, ack.Args)
			}
			return
		}
	}
	update(func() { s.gaveUp = true })
}

// reconnect closes the current socket (properly: a reload, a move; it
// may already be gone), lets its reader take what it had received, and
// opens a new one through nginx resuming after the last seq seen. With
// otherNode it tries a few times to land on another node.
func (c *chaosClient) reconnect(why string, otherNode bool) error {
	oldNode := c.node
	if !c.closeCurrent() {
		c.problem("the reader of socket %d did not end within %v of its close", len(c.sockets)-1, stepTimeout)
	}
	c.cur, c.raw = nil, nil
	began := time.Now()
	var last error
	backoff := 100 * time.Millisecond
	for attempt := 0; attempt < 200 && time.Since(began) < chaosReconnectFor; attempt++ {
		if c.ctx.Err() != nil {
			return c.ctx.Err()
		}
		after := c.last()
		cl, raw, err := c.dial(after)
		if err != nil {
			last = err
			var ce *sioclient.ConnectError
			if errors.As(err, &ce) && ce.Message == apierr.CodeInvalidToken {
				c.problem("token refused on reconnecting (the user expired?): %v", err)
				return err
			}
			c.count(func(s *chaosStats) { s.dialErrors++ })
			if !c.sleep(backoff) {
				return c.ctx.Err()
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		node := sidNode(cl.SessionID())
		if otherNode && node == oldNode && attempt < 5 {
			_ = cl.Close() // round-robin brings another node next
			continue
		}
		c.mu.Lock()
		c.sockets = append(c.sockets, chaosSocket{sid: cl.SessionID(), node: node, after: after, resumed: true, opened: time.Now(), why: why})
		sock := len(c.sockets) - 1
		c.stats.reconnects++
		if node != oldNode {
			c.stats.nodeChanges++
		}
		c.mu.Unlock()
		c.cur, c.raw, c.node = cl, raw, node
		c.readerDone = make(chan struct{})
		go c.read(cl, sock, true, c.readerDone)
		return nil
	}
	c.problem("no reconnection within %v (%s): %v", time.Since(began).Round(time.Second), why, last)
	return fmt.Errorf("no reconnection: %w", last)
}

// dial opens a /chat socket through nginx with resume after `after`,
// keeping the TCP connection so that it can be cut.
func (c *chaosClient) dial(after uint64) (*sioclient.Client, net.Conn, error) {
	var mu sync.Mutex
	var raw net.Conn
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	cl, err := sioclient.Dial(ctx, c.lb.url, sioclient.Options{
		Namespace: "/chat",
		Auth: map[string]any{
			"token":  c.m.Token,
			"resume": map[string]any{"room_id": c.room, "after_seq": after},
		},
		EventBuffer: 1 << 16,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			conn, err := d.DialContext(ctx, network, addr)
			mu.Lock()
			raw = conn
			mu.Unlock()
			return conn, err
		},
	})
	if err != nil {
		return nil, nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	return cl, raw, nil
}

// read records what socket sock receives until it is closed and its
// inbox empty: the room's chat_messages, and the recovery answer.
func (c *chaosClient) read(cl *sioclient.Client, sock int, resumed bool, done chan struct{}) {
	defer close(done)
	recovered := !resumed
	for range maxChaosEvents {
		ev, err := cl.Next(c.ctx, "")
		if err != nil {
			return
		}
		switch ev.Name {
		case "chat_message":
			var m chat.Message
			if err := ev.Arg(0, &m); err != nil {
				c.problem("socket %d: undecodable chat_message: %v", sock, err)
				continue
			}
			if m.RoomID != c.room {
				continue // _default's, from before the switch
			}
			c.mu.Lock()
			if !recovered {
				c.problems = append(c.problems, fmt.Sprintf("%s: socket %d: chat_message seq %d before recovery", c.m.Name, sock, m.Seq))
			}
			c.got = append(c.got, chaosDelivery{msg: m, sock: sock, at: time.Now()})
			c.lastSeq = max(c.lastSeq, m.Seq)
			c.mu.Unlock()
		case "recovery":
			var r struct {
				RoomID    string `json:"room_id"`
				Recovered bool   `json:"recovered"`
				Reason    string `json:"reason"`
			}
			if err := ev.Arg(0, &r); err != nil {
				c.problem("socket %d: undecodable recovery: %v", sock, err)
				continue
			}
			c.mu.Lock()
			switch {
			case !resumed || recovered:
				c.problems = append(c.problems, fmt.Sprintf("%s: socket %d: unexpected recovery %+v", c.m.Name, sock, r))
			case r.RoomID != c.room:
				c.problems = append(c.problems, fmt.Sprintf("%s: socket %d: recovery of room %s, resumed %s", c.m.Name, sock, r.RoomID, c.room))
			case r.Recovered:
				c.stats.recovered++
				c.sockets[sock].recovery = "true"
			default:
				c.gaps = append(c.gaps, chaosGap{after: c.lastSeq, idx: len(c.got), reason: r.Reason, sock: sock})
				c.sockets[sock].recovery = "false:" + r.Reason
			}
			recovered = true
			c.mu.Unlock()
		case "current_room_changed":
			var r chat.Room
			if err := ev.Arg(0, &r); err == nil && sock > 0 && r.ID != c.room {
				c.problem("socket %d: current room %s, want %s (nobody switches during the run)", sock, r.ID, c.room)
			}
		}
	}
	c.problem("socket %d: more than %d events", sock, maxChaosEvents)
}

// halt cancels nothing: it waits for the controller (bounded), then
// closes the socket and waits for its reader. Idempotent.
func (c *chaosClient) halt(t *testing.T) {
	c.halted.Do(func() {
		select {
		case <-c.done:
		case <-time.After(chaosRetryFor + chaosReconnectFor + 30*time.Second):
			t.Errorf("chaos client %s did not stop", c.m.Name)
			return
		}
		if !c.closeCurrent() {
			t.Errorf("chaos client %s: the last reader did not end", c.m.Name)
		}
	})
}

// closeCurrent closes the current socket, if any, and waits (bounded)
// for its reader to take what it had received; false if it did not end.
func (c *chaosClient) closeCurrent() bool {
	if c.cur != nil {
		_ = c.cur.Close()
	}
	if c.readerDone == nil {
		return true
	}
	select {
	case <-c.readerDone:
		return true
	case <-time.After(stepTimeout):
		return false
	}
}

func (c *chaosClient) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	acked, dups, retried, gaveUp := 0, 0, 0, 0
	for _, s := range c.sends {
		if s.acked != nil {
			acked++
		}
		if s.duplicate {
			dups++
		}
		if s.attempts > 1 {
			retried++
		}
		if s.gaveUp {
			gaveUp++
		}
	}
	nodes := map[string]int{}
	for _, s := range c.sockets {
		nodes[s.node]++
	}
	st := c.stats
	return fmt.Sprintf("%s in %s: %d sent, %d acked (%d answered duplicate), %d retried, %d given up; %d received; %d sockets %v: %d reloads, %d moves, %d cuts, %d reconnections (%d to another node, %d recovered), %d failed dials, %d ack timeouts",
		c.m.Name, c.room, len(c.sends), acked, dups, retried, gaveUp, len(c.got), len(c.sockets), nodes, st.reloads, st.moves, st.cuts, st.reconnects, st.nodeChanges, st.recovered, st.dialErrors, st.ackTimeouts)
}

// waitChans waits, bounded, until ch(c) is closed for every client.
func waitChans(t *testing.T, what string, d time.Duration, clients []*chaosClient, ch func(*chaosClient) chan struct{}) {
	t.Helper()
	deadline := time.After(d)
	for _, c := range clients {
		select {
		case <-ch(c):
		case <-deadline:
			t.Fatalf("%s: not within %v (%s still busy)", what, d, c.m.Name)
		}
	}
}

// chaosReport is what the checker found.
type chaosReport struct {
	sent, acked, delivered, lost, duplicated, gaps int
	details, failures                              []string
}

// storedEvent is a room event as the ROOMS stream holds it.
type storedEvent struct {
	Type     int       `json:"type"`
	ID       string    `json:"id"`
	User     chat.User `json:"user"`
	ClientID string    `json:"client_id"`
}

// checkChaos checks every member's deliveries against the acked
// messages of its room and the ROOMS stream.
func checkChaos(t *testing.T, js jetstream.JetStream, clients []*chaosClient) chaosReport {
	t.Helper()
	var rep chaosReport
	examples := map[string]int{}
	fail := func(kind, format string, args ...any) {
		if examples[kind]++; examples[kind] <= chaosExamples {
			rep.failures = append(rep.failures, fmt.Sprintf(format, args...))
		}
	}
	names := map[string]string{} // user id → name
	for _, c := range clients {
		names[c.m.ID] = c.m.Name
	}

	// What was acked, per room, by seq.
	ackedBySeq := map[string]map[uint64]chat.Message{}
	ackedSends := map[string]chaosSend{} // message id → its send
	retried, dupAnswers, gaveUp, storedUnacked := 0, 0, 0, 0
	refusals := map[string]int{}
	var unacked []chaosSend
	for _, c := range clients {
		if ackedBySeq[c.room] == nil {
			ackedBySeq[c.room] = map[uint64]chat.Message{}
		}
		for _, s := range c.sendsSnapshot() {
			rep.sent++
			for code, n := range s.refusals {
				refusals[code] += n
			}
			if s.attempts > 1 {
				retried++
			}
			if s.gaveUp {
				gaveUp++
			}
			if s.acked == nil {
				unacked = append(unacked, s)
				continue
			}
			rep.acked++
			if s.duplicate {
				dupAnswers++
			}
			if other, ok := ackedBySeq[c.room][s.acked.Seq]; ok {
				fail("seq", "seq %d acked as two messages: %s and %s", s.acked.Seq, other.ClientID, s.clientID)
			}
			ackedBySeq[c.room][s.acked.Seq] = *s.acked
			ackedSends[s.acked.ID] = s
		}
	}

	// Every member: each acked message of its room once, in seq order,
	// except within a declared gap.
	byClientID := map[string]map[string]uint64{} // sender:client_id → message id → seq, from every delivery and ack
	note := func(m chat.Message) {
		if m.Type != chat.MessageText || m.ClientID == "" || m.Sender == nil {
			return
		}
		k := m.Sender.ID + ":" + m.ClientID
		if byClientID[k] == nil {
			byClientID[k] = map[string]uint64{}
		}
		byClientID[k][m.ID] = m.Seq
	}
	for _, ms := range ackedBySeq {
		for _, m := range ms {
			note(m)
		}
	}
	inGap, outOfOrder, problems := 0, 0, 0
	for _, c := range clients {
		c.mu.Lock()
		got, gaps, sockets := slices.Clone(c.got), slices.Clone(c.gaps), slices.Clone(c.sockets)
		for _, p := range c.problems {
			fail("problem", "%s", p)
			problems++
		}
		c.mu.Unlock()
		rep.gaps += len(gaps)
		for _, g := range gaps {
			upper := "∞"
			if g.idx < len(got) {
				upper = fmt.Sprint(got[g.idx].msg.Seq)
			}
			rep.details = append(rep.details, fmt.Sprintf("gap: %s, socket %d (%s on %s): recovered false (%s) after seq %d, next seq received %s",
				c.m.Name, g.sock, sockets[g.sock].sid, sockets[g.sock].node, g.reason, g.after, upper))
		}
		inAGap := func(seq uint64) bool {
			for _, g := range gaps {
				if seq <= g.after {
					continue
				}
				if g.idx >= len(got) || seq < got[g.idx].msg.Seq {
					return true
				}
			}
			return false
		}
		seen := map[string]int{}
		var prev uint64
		for i, d := range got {
			m := d.msg
			note(m)
			seen[m.ID]++
			if seen[m.ID] > 1 {
				rep.duplicated++
				first := slices.IndexFunc(got, func(x chaosDelivery) bool { return x.msg.ID == m.ID })
				fail("dup", "duplicated: %s received seq %d (%s %q) again: first on socket %d (%s on %s), again on socket %d (%s on %s, resumed after %d, recovery %s) at %s",
					c.m.Name, m.Seq, m.ClientID, m.Content, got[first].sock, sockets[got[first].sock].sid, sockets[got[first].sock].node,
					d.sock, sockets[d.sock].sid, sockets[d.sock].node, sockets[d.sock].after, sockets[d.sock].recovery, d.at.Format("15:04:05.000"))
				continue
			}
			if m.Seq <= prev {
				outOfOrder++
				fail("order", "out of order: %s received seq %d after %d (delivery %d, socket %d on %s)", c.m.Name, m.Seq, prev, i, d.sock, sockets[d.sock].node)
			}
			prev = max(prev, m.Seq)
			if a, ok := ackedBySeq[c.room][m.Seq]; ok && a.ID != m.ID {
				fail("seq", "%s received seq %d as message %s, acked as %s", c.m.Name, m.Seq, m.ID, a.ID)
			}
		}
		for seq, a := range ackedBySeq[c.room] {
			switch {
			case seen[a.ID] > 0:
				rep.delivered++
			case inAGap(seq):
				inGap++
			default:
				rep.lost++
				s := ackedSends[a.ID]
				sender := ""
				if a.Sender != nil {
					sender = names[a.Sender.ID]
				}
				fail("lost", "lost: %s never received seq %d (%s from %s, first sent %s, acked %s after %d attempts%s); its sockets: %s",
					c.m.Name, seq, a.ClientID, sender, s.first.Format("15:04:05.000"), s.ackedAt.Format("15:04:05.000"), s.attempts,
					map[bool]string{true: ", answered duplicate", false: ""}[s.duplicate], describeSockets(sockets, got))
			}
		}
	}

	// The ROOMS stream: every acked message at its seq, and no client_id
	// stored twice.
	rooms := map[string]bool{}
	for _, c := range clients {
		rooms[c.room] = true
	}
	storedByClientID := map[string][]uint64{}
	for room := range rooms {
		stored := streamRoom(t, js, room)
		for seq, a := range ackedBySeq[room] {
			if e, ok := stored[seq]; !ok || e.ID != a.ID {
				fail("stored", "acked message seq %d (%s) is not stored at its seq in ROOMS (found %+v)", seq, a.ClientID, e)
			}
		}
		for seq, e := range stored {
			if e.Type == chat.MessageText && e.ClientID != "" {
				k := e.User.ID + ":" + e.ClientID
				storedByClientID[k] = append(storedByClientID[k], seq)
			}
		}
	}
	for _, s := range unacked {
		for k := range storedByClientID {
			if strings.HasSuffix(k, ":"+s.clientID) {
				storedUnacked++
			}
		}
	}
	dupClientIDs := 0
	for k, seqs := range storedByClientID {
		if len(seqs) > 1 {
			dupClientIDs++
			sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
			fail("clientid", "client_id %s stored as %d messages: seqs %v", k, len(seqs), seqs)
		}
	}
	for k, ids := range byClientID {
		if len(ids) > 1 {
			dupClientIDs++
			fail("clientid", "client_id %s seen as %d messages: %v", k, len(ids), ids)
		}
	}
	if rep.lost > 0 {
		rep.failures = append(rep.failures, fmt.Sprintf("%d acked messages lost", rep.lost))
	}
	if rep.duplicated > 0 {
		rep.failures = append(rep.failures, fmt.Sprintf("%d messages delivered more than once", rep.duplicated))
	}
	if outOfOrder > 0 {
		rep.failures = append(rep.failures, fmt.Sprintf("%d messages out of seq order", outOfOrder))
	}
	if dupClientIDs > 0 {
		rep.failures = append(rep.failures, fmt.Sprintf("%d client_ids with two messages", dupClientIDs))
	}
	for kind, n := range examples {
		if n > chaosExamples {
			rep.failures = append(rep.failures, fmt.Sprintf("(%d more of kind %s not shown)", n-chaosExamples, kind))
		}
	}
	rep.details = append(rep.details, fmt.Sprintf("details: owed in gaps=%d out-of-order=%d retried=%d answered-duplicate=%d given-up=%d not-acked-but-stored=%d refusals=%v client-id-doubles=%d problems=%d",
		inGap, outOfOrder, retried, dupAnswers, gaveUp, storedUnacked, refusals, dupClientIDs, problems))
	return rep
}

// describeSockets lists a member's sockets: which node, resumed after
// which seq, the recovery answer, and the seqs received on it.
func describeSockets(sockets []chaosSocket, got []chaosDelivery) string {
	var b strings.Builder
	for i, s := range sockets {
		var first, last uint64
		n := 0
		for _, d := range got {
			if d.sock == i {
				if n == 0 {
					first = d.msg.Seq
				}
				last = d.msg.Seq
				n++
			}
		}
		fmt.Fprintf(&b, "[%d %s %s opened %s after=%d recovery=%q got %d seqs %d..%d] ", i, s.why, s.sid, s.opened.Format("15:04:05.000"), s.after, s.recovery, n, first, last)
	}
	return b.String()
}

// streamRoom reads every event of room stored in the ROOMS stream, by
// stream seq. The cluster has just been through faults: a read that the
// JetStream API does not answer yet (no responders while a server
// rejoins, a timeout) is made again from the start, within stepTimeout.
// Events that do not decode fail the test at once.
func streamRoom(t *testing.T, js jetstream.JetStream, room string) map[uint64]storedEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	subject := cluster.RoomSubjectPrefix + room
	var out map[uint64]storedEvent
	waitFor(t, stepTimeout, "read "+subject, func() error {
		var err error
		out, err = readStreamRoom(ctx, t, js, subject)
		return err
	})
	return out
}

// readStreamRoom is one attempt of streamRoom.
func readStreamRoom(ctx context.Context, t *testing.T, js jetstream.JetStream, subject string) (map[uint64]storedEvent, error) {
	s, err := js.Stream(ctx, cluster.StreamRooms)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return nil, err
	}
	count := info.State.Subjects[subject]
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		return nil, err
	}
	out := map[uint64]storedEvent{}
	for uint64(len(out)) < count && ctx.Err() == nil {
		batch, err := cons.Fetch(int(min(count-uint64(len(out)), 500)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, err
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				return nil, err
			}
			var e storedEvent
			if err := json.Unmarshal(msg.Data(), &e); err != nil {
				t.Fatalf("read %s seq %d: %v", subject, meta.Sequence.Stream, err)
			}
			out[meta.Sequence.Stream] = e
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("%d of %d events, then nothing", len(out), count)
		}
	}
	return out, ctx.Err()
}
