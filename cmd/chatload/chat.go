package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/chatrooms/chatrooms/internal/siocodec"
	"github.com/gobwas/ws"
)

// The chat scenario drives the real chat contract of a running chatrooms
// server (docs/protocol.md): POST /api/users, Socket.IO /chat with a token,
// POST /api/rooms, switch_room, send_message with a client_id. Every
// connection is a rawConn read on its own goroutine until the end; events
// are recognised by prefix and chat_message is scanned, not decoded, so
// that the load generator's core goes to reading.

// Phases for the list-bytes counters.
const (
	phaseConnect = iota // from the first connect until every client has had its current_room_changed
	phaseSwitch         // rooms made and users switched into them
	phaseSend           // the rate steps and the drain
	numPhases
)

var phaseNames = [numPhases]string{"connect", "switch", "send"}

// Message states in a sender's record.
const (
	msgPending uint8 = iota
	msgAcked
	msgDuplicate
	msgRefused
)

type msgRec struct {
	step     int8
	state    uint8
	sentNano int64
	ackNano  int64
	code     string
}

// chatClient is one user with one connection.
type chatClient struct {
	idx          int
	name, token  string
	id           string
	c            *rawConn
	done         chan struct{} // closed when the read loop ends
	welcomed     chan struct{} // closed at the first current_room_changed (the last of the events on connect)
	welcomeOnce  sync.Once
	disconnected atomic.Bool // the connection ended before the run did

	amu     sync.Mutex
	nextAck int
	pending map[int]func([]byte)

	// List bytes and counts by phase and kind (0 user list, 1 room list).
	listBytes [numPhases][2]atomic.Int64
	listCount [numPhases][2]atomic.Int64
	delivered atomic.Int64 // this run's chat messages received in the right room

	// Owned by the read loop; read after done is closed.
	closeReason string
	got         [][]uint8 // by sender: receptions per seq
	lat         [][]int32 // per step: send→arrival latency, µs (see arrival)
	latRead     [][]int32 // per step: send→read latency, µs
	unstamped   int64     // deliveries and acks with no kernel receive time
	misrouted   []int64   // per step
	foreign     int64     // chat_message not of this run (or unparsable)

	// sender state (senders only)
	smu  sync.Mutex
	msgs []msgRec
}

// routing is published once the rooms are set, before any message is sent.
type routing struct {
	clientRoom []int32 // by client index; -1: not in a bench room
	senderRoom []int32 // by sender index
	senderUser []int   // by sender index: client index
	roomIDs    []string
	members    [][]int // by room: client indexes
}

type chatRun struct {
	cfg     *config
	log     *slog.Logger
	runID   string
	http    *http.Client
	clients []*chatClient
	phase   atomic.Int32
	route   atomic.Pointer[routing]
	stop    atomic.Bool
	steps   int

	badAckOnce sync.Once
	badAck     string // the first undecodable ack, for the report
}

func (r *chatRun) post(ctx context.Context, path, token string, body, out any) (int, string, error) {
	j, err := json.Marshal(body)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(r.cfg.baseURL, "/")+path, bytes.NewReader(j))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := r.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return res.StatusCode, "", err
	}
	if res.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		if e.Error == "" {
			e.Error = fmt.Sprintf("http_%d", res.StatusCode)
		}
		return res.StatusCode, e.Error, nil
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return res.StatusCode, "", fmt.Errorf("decode %s answer: %w", path, err)
		}
	}
	return res.StatusCode, "", nil
}

// emit sends event with payload (JSON) and an ack id; cb gets the ack's
// argument on the read goroutine (it must not keep the slice).
func (cl *chatClient) emit(event string, payload []byte, cb func(ack []byte)) error {
	cl.amu.Lock()
	id := cl.nextAck
	cl.nextAck++
	cl.pending[id] = cb
	cl.amu.Unlock()
	pkt := sioHeader(make([]byte, 0, 32+len(event)+len(payload)), siocodec.Event, chatNamespace, int64(id))
	pkt = append(append(append(pkt, `["`...), event...), `",`...)
	pkt = append(append(pkt, payload...), ']')
	if err := cl.c.writeText(pkt); err != nil {
		cl.amu.Lock()
		delete(cl.pending, id)
		cl.amu.Unlock()
		return err
	}
	return nil
}

type ackAnswer struct {
	OK        bool   `json:"ok"`
	Error     string `json:"error"`
	Duplicate bool   `json:"duplicate"`
	Room      struct {
		ID string `json:"id"`
	} `json:"room"`
	// Message is the Message object of a successful ack, and the error's
	// text in a refusal: decoded by messageRoom.
	Message json.RawMessage `json:"message"`
}

// messageRoom is the room_id of the acked Message ("" in a refusal).
func (a *ackAnswer) messageRoom() string {
	var m struct {
		RoomID string `json:"room_id"`
	}
	if len(a.Message) == 0 || a.Message[0] != '{' || json.Unmarshal(a.Message, &m) != nil {
		return ""
	}
	return m.RoomID
}

// call emits and waits for the decoded ack (bounded by ctx and 30 s).
func (cl *chatClient) call(ctx context.Context, event string, payload []byte) (ackAnswer, error) {
	ch := make(chan ackAnswer, 1)
	err := cl.emit(event, payload, func(b []byte) {
		var a ackAnswer
		if json.Unmarshal(b, &a) != nil {
			a.Error = "malformed_ack"
		}
		ch <- a
	})
	if err != nil {
		return ackAnswer{}, err
	}
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case a := <-ch:
		return a, nil
	case <-t.C:
		return ackAnswer{}, fmt.Errorf("%s: no ack within 30s", event)
	case <-cl.done:
		return ackAnswer{}, fmt.Errorf("%s: connection ended: %s", event, cl.closeReasonSafe())
	case <-ctx.Done():
		return ackAnswer{}, context.Cause(ctx)
	}
}

func (cl *chatClient) closeReasonSafe() string {
	select {
	case <-cl.done:
		return cl.closeReason
	default:
		return "open"
	}
}

// chatNamespace is the chat server's Socket.IO namespace.
const chatNamespace = "/chat"

var (
	evPrefix         = append(sioHeader(nil, siocodec.Event, chatNamespace, siocodec.NoID), `["`...)
	ackPrefix        = sioHeader(nil, siocodec.Ack, chatNamespace, siocodec.NoID)
	disconnectPrefix = sioHeader(nil, siocodec.Disconnect, chatNamespace, siocodec.NoID)
	keyRoom          = []byte(`"room_id":"`)
	keyCont          = []byte(`"content":"`)
	keyType          = []byte(`"type":`)
)

// readLoop reads every frame until the connection ends.
func (r *chatRun) readLoop(cl *chatClient) {
	defer close(cl.done)
	for {
		op, p, err := cl.c.readFrame()
		if err != nil {
			if !r.stop.Load() {
				cl.disconnected.Store(true)
				cl.closeReason = err.Error()
			}
			return
		}
		if op != ws.OpText {
			continue
		}
		switch {
		case isPing(p):
			_ = cl.c.pong()
		case bytes.HasPrefix(p, evPrefix):
			r.event(cl, p)
		case bytes.HasPrefix(p, ackPrefix):
			rest := p[len(ackPrefix):]
			i := 0
			for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
				i++
			}
			id, err := strconv.Atoi(string(rest[:i]))
			if err != nil || len(rest) < i+2 {
				continue
			}
			cl.amu.Lock()
			cb := cl.pending[id]
			delete(cl.pending, id)
			cl.amu.Unlock()
			if cb != nil {
				cb(rest[i+1 : len(rest)-1]) // strip [ ]
			}
		case bytes.HasPrefix(p, disconnectPrefix):
			if !r.stop.Load() {
				cl.disconnected.Store(true)
				cl.closeReason = "socket.io disconnect"
			}
		}
	}
}

func (r *chatRun) event(cl *chatClient, p []byte) {
	rest := p[len(evPrefix):]
	q := bytes.IndexByte(rest, '"')
	if q < 0 {
		return
	}
	name := rest[:q]
	phase := r.phase.Load()
	switch string(name) {
	case "user_list_changed", "user_list_delta", "lists": // lists: both, on connect (delta mode)
		cl.listBytes[phase][0].Add(int64(cl.c.lastLen))
		cl.listCount[phase][0].Add(1)
	case "room_list_changed", "room_list_delta":
		cl.listBytes[phase][1].Add(int64(cl.c.lastLen))
		cl.listCount[phase][1].Add(1)
	case "current_room_changed":
		cl.welcomeOnce.Do(func() { close(cl.welcomed) })
	case "chat_message":
		r.chatMessage(cl, rest[q:])
	}
}

// isTextMessage reports whether the Message object b is a text message
// ("type":0), not a notice. "type": cannot occur inside a JSON string
// (a quote there is escaped), and no object nested in a Message has
// that key.
func isTextMessage(b []byte) bool {
	i := bytes.Index(b, keyType)
	if i < 0 {
		return false
	}
	v := b[i+len(keyType):]
	return len(v) >= 2 && v[0] == '0' && (v[1] == ',' || v[1] == '}')
}

// scanString returns the JSON string value after key (no escapes expected).
func scanString(b, key []byte) []byte {
	i := bytes.Index(b, key)
	if i < 0 {
		return nil
	}
	v := b[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return nil
	}
	return v[:j]
}

// content is "<runID>:<step>:<sender>:<seq>:<unix nanos>".
func (r *chatRun) contentFor(step, sender, seq int, nano int64) string {
	return fmt.Sprintf("%s:%d:%d:%d:%d", r.runID, step, sender, seq, nano)
}

func parseContent(runID string, c []byte) (step, sender, seq int, nano int64, ok bool) {
	rest, found := bytes.CutPrefix(c, []byte(runID))
	if !found || len(rest) == 0 || rest[0] != ':' {
		return 0, 0, 0, 0, false
	}
	var f [4]int64
	for i := range f {
		rest = rest[1:] // the ':' before the field
		n, v := 0, int64(0)
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			d := int64(rest[n] - '0')
			if v > (math.MaxInt64-d)/10 {
				return 0, 0, 0, 0, false
			}
			v = v*10 + d
			n++
		}
		if n == 0 || (i < 3 && v > math.MaxInt32) {
			return 0, 0, 0, 0, false
		}
		f[i], rest = v, rest[n:]
		if (i < 3) != (len(rest) > 0 && rest[0] == ':') {
			return 0, 0, 0, 0, false // a ':' after each of the first three fields, nothing after the last
		}
	}
	if len(rest) != 0 {
		return 0, 0, 0, 0, false
	}
	return int(f[0]), int(f[1]), int(f[2]), f[3], true
}

// micros32 is a duration in nanoseconds as whole microseconds, clamped to
// the int32 range (±35 minutes) the latency samples are kept in.
func micros32(nanos int64) int32 {
	us := nanos / 1000
	if us > math.MaxInt32 {
		return math.MaxInt32
	}
	if us < math.MinInt32 {
		return math.MinInt32
	}
	return int32(us)
}

// receiveTimes: the chat clients keep the kernel's receive time of what
// they read (stampReader, Linux only), and the latencies end there.
const receiveTimes = runtime.GOOS == "linux"

// arrival returns when the frame just read reached the client's socket
// (the kernel's receive time, receiveTimes) and the time now, as it is
// handled (Unix ns). Without a receive time both are now. The latency
// to the arrival is the server's and the network's; the one to now adds
// this process's own wait: at 200,000 deliveries/s its one core is
// nearly full, and a connection that became readable waits its turn
// behind the others (docs/measurements.md). Called on cl's read loop.
func (cl *chatClient) arrival() (arrived, now int64) {
	now = time.Now().UnixNano()
	arrived = cl.c.arrival()
	if arrived == 0 || arrived > now {
		cl.unstamped++
		arrived = now
	}
	return arrived, now
}

func (r *chatRun) chatMessage(cl *chatClient, b []byte) {
	// Join and leave notices are most of what a switch into a big room
	// sends (each goes to every member): skipped before the clock is read
	// and the content searched for, which took 18 % of this process's CPU
	// in the switches into one room of 2,000.
	if !isTextMessage(b) {
		return
	}
	arrived, now := cl.arrival()
	content := scanString(b, keyCont)
	if content == nil {
		return
	}
	rt := r.route.Load()
	step, sender, seq, nano, ok := parseContent(r.runID, content)
	if !ok || rt == nil || step >= r.steps || sender >= len(rt.senderRoom) || sender >= len(cl.got) {
		cl.foreign++
		return
	}
	room := rt.senderRoom[sender]
	if rt.clientRoom[cl.idx] != room || string(scanString(b, keyRoom)) != rt.roomIDs[room] {
		cl.misrouted[step]++
		return
	}
	s := cl.got[sender]
	for len(s) <= seq {
		s = append(s, 0)
	}
	if s[seq] < 255 {
		s[seq]++
	}
	cl.got[sender] = s
	cl.lat[step] = append(cl.lat[step], micros32(arrived-nano))
	cl.latRead[step] = append(cl.latRead[step], micros32(now-nano))
	cl.delivered.Add(1)
}

// Report figures (also the -json document).
type chatReport struct {
	Date        string            `json:"date"`
	Server      string            `json:"server_url"`
	ServerFlags string            `json:"server_flags"`
	Lists       string            `json:"lists"` // full or delta
	LatencyAt   string            `json:"latency_at"`
	Users       int               `json:"users"`
	Rooms       int               `json:"rooms"`
	RoomSize    int               `json:"room_size"`
	Senders     int               `json:"senders"`
	StepSeconds float64           `json:"step_seconds"`
	Setup       []phaseReport     `json:"setup"`
	ListBytes   []listReport      `json:"list_bytes_per_client"`
	Steps       []stepReport      `json:"steps"`
	Disconnects int               `json:"unexpected_disconnects"`
	Foreign     int64             `json:"foreign_messages"`
	ServerRSS   int64             `json:"server_rss_kib_end,omitempty"`
	Notes       []string          `json:"notes"`
	Extra       map[string]string `json:"extra,omitempty"`
}

type phaseReport struct {
	Name       string         `json:"name"`
	Count      int            `json:"count"`
	OK         int            `json:"ok"`
	Failed     map[string]int `json:"failed_by_code"` // failed attempts, retried ones included
	Retried    int            `json:"retried"`
	Seconds    float64        `json:"seconds"`
	PerSecond  float64        `json:"per_second"`
	ServerCPU  float64        `json:"server_cpu_percent,omitempty"`
	ServerRSSK int64          `json:"server_rss_kib,omitempty"`
}

type listReport struct {
	Phase          string  `json:"phase"`
	UserListsMean  float64 `json:"user_lists_mean"`
	UserBytesMean  float64 `json:"user_list_bytes_mean"`
	UserBytesMax   int64   `json:"user_list_bytes_max"`
	RoomListsMean  float64 `json:"room_lists_mean"`
	RoomBytesMean  float64 `json:"room_list_bytes_mean"`
	RoomBytesMax   int64   `json:"room_list_bytes_max"`
	TotalBytesMean float64 `json:"total_bytes_mean"`
}

type stepReport struct {
	Rate          int            `json:"target_deliveries_per_second"`
	MsgRate       float64        `json:"target_messages_per_second"`
	PerSenderRate float64        `json:"per_sender_messages_per_second"`
	Sent          int            `json:"sent"`
	Acked         int            `json:"acked"`
	Duplicate     int            `json:"acked_duplicate"`
	Refused       map[string]int `json:"refused_by_code"`
	Unacked       int            `json:"unacked"`
	Expected      int64          `json:"expected_deliveries"`
	Delivered     int64          `json:"delivered"`
	DeliveriesPS  float64        `json:"deliveries_per_second"`
	LatP50ms      float64        `json:"latency_p50_ms"`
	LatP90ms      float64        `json:"latency_p90_ms"`
	LatP99ms      float64        `json:"latency_p99_ms"`
	LatMaxms      float64        `json:"latency_max_ms"`
	ReadP50ms     float64        `json:"read_latency_p50_ms"` // to the generator's read (latency_at)
	ReadP99ms     float64        `json:"read_latency_p99_ms"`
	AckP50ms      float64        `json:"ack_p50_ms"`
	AckP99ms      float64        `json:"ack_p99_ms"`
	Lost          int64          `json:"lost"`
	Duplicated    int64          `json:"duplicated"`
	Misrouted     int64          `json:"misrouted"`
	Unexpected    int64          `json:"delivered_not_acked"`
	ServerCPU     float64        `json:"server_cpu_percent,omitempty"`
	ServerRSSK    int64          `json:"server_rss_kib,omitempty"`
	LoadCPU       float64        `json:"loadgen_cpu_percent"`
}

// cpuWatch measures the server's and this process's CPU over an interval.
type cpuWatch struct {
	pids         []int // the servers (-server-pid and -server-pids), CPU summed
	start        time.Time
	server, self time.Duration
}

func startCPU(pids []int) cpuWatch {
	return cpuWatch{pids: pids, start: time.Now(), self: ownCPU(), server: sumCPU(pids)}
}

// percent of one core used by the server and by this process since start.
func (w cpuWatch) percent() (server, self float64) {
	el := time.Since(w.start).Seconds()
	if el <= 0 {
		return 0, 0
	}
	self = (ownCPU() - w.self).Seconds() / el * 100
	if len(w.pids) > 0 {
		server = (sumCPU(w.pids) - w.server).Seconds() / el * 100
	}
	return server, self
}

func (r *chatRun) rss() int64 {
	if r.cfg.serverPID <= 0 {
		return 0
	}
	st, err := readProcStatus(r.cfg.serverPID)
	if err != nil {
		return 0
	}
	return st.rssKiB
}

func newRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "b" + hex.EncodeToString(b[:])
}

func runChat(ctx context.Context, cfg *config, stdout io.Writer, log *slog.Logger) error {
	d := newDialers(cfg.localAddrs)
	r := &chatRun{
		cfg: cfg, log: log, runID: newRunID(), steps: len(cfg.rates),
		http: &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				DialContext:         d.dial,
				MaxIdleConns:        cfg.httpConc,
				MaxIdleConnsPerHost: cfg.httpConc,
				IdleConnTimeout:     30 * time.Second,
			},
		},
	}
	defer r.http.CloseIdleConnections()
	rep := &chatReport{
		Date: time.Now().UTC().Format(time.RFC3339), Server: cfg.baseURL, ServerFlags: cfg.serverFlags,
		Users: cfg.users, Rooms: cfg.rooms, RoomSize: cfg.roomSize, Senders: cfg.senders,
		StepSeconds: cfg.step.Seconds(), Lists: cfg.lists,
	}
	defer r.closeAll()
	r.clients = make([]*chatClient, cfg.users)
	for i := range r.clients {
		r.clients[i] = &chatClient{
			idx: i, name: fmt.Sprintf("%s-%d", r.runID, i), done: make(chan struct{}), welcomed: make(chan struct{}),
			pending: map[int]func([]byte){}, got: make([][]uint8, cfg.senders),
			lat: make([][]int32, r.steps), latRead: make([][]int32, r.steps), misrouted: make([]int64, r.steps),
		}
	}

	// 1. Users.
	ph, err := r.phaseRun(ctx, "create users", cfg.users, cfg.httpConc, func(ctx context.Context, i int) (string, error) {
		cl := r.clients[i]
		var out struct {
			User struct {
				ID string `json:"id"`
			} `json:"user"`
			Token string `json:"token"`
		}
		_, code, err := r.post(ctx, "/api/users", "", map[string]string{"username": cl.name}, &out)
		if err != nil || code != "" {
			return code, err
		}
		cl.id, cl.token = out.User.ID, out.Token
		return "", nil
	})
	rep.Setup = append(rep.Setup, ph)
	if err != nil {
		return err
	}

	// 2. Connections, each read from the moment it is up.
	r.phase.Store(phaseConnect)
	ph, err = r.phaseRun(ctx, "connect", cfg.users, cfg.dialConc, func(ctx context.Context, i int) (string, error) {
		cl := r.clients[i]
		auth := map[string]string{"token": cl.token}
		if cfg.lists == "delta" {
			auth["lists"] = "delta"
		}
		tok, _ := json.Marshal(auth)
		c, err := dialNamespace(ctx, wsURL(cfg.nodeURL(i)), d.dial, chatNamespace, tok, receiveTimes)
		if err != nil {
			if s := err.Error(); strings.Contains(s, "connect refused") {
				if strings.Contains(s, `"error":"unavailable"`) {
					return "unavailable", nil // retried by phaseRun
				}
				return "connect_error", err
			}
			return "dial", err
		}
		cl.c = c
		// User lists of thousands of users are hundreds of KiB: only their
		// event name is read (messages and acks are far below the buffer).
		c.headOnly, c.head = 256, make([]byte, 256)
		go r.readLoop(cl)
		// Connected means the lists and current room have arrived.
		t := time.NewTimer(30 * time.Second)
		defer t.Stop()
		select {
		case <-cl.welcomed:
			return "", nil
		case <-cl.done:
			return "closed", errors.New("connection ended before current_room_changed")
		case <-t.C:
			return "no_welcome", errors.New("no current_room_changed within 30s")
		case <-ctx.Done():
			return "cancelled", context.Cause(ctx)
		}
	})
	rep.Setup = append(rep.Setup, ph)
	if err != nil {
		return err
	}

	// 3. Rooms: the first member of each creates it (and is moved into it),
	// then the others switch in.
	r.phase.Store(phaseSwitch)
	rt := &routing{clientRoom: make([]int32, cfg.users), roomIDs: make([]string, cfg.rooms), members: make([][]int, cfg.rooms)}
	for i := range rt.clientRoom {
		rt.clientRoom[i] = -1
	}
	ph, err = r.phaseRun(ctx, "create rooms", cfg.rooms, cfg.httpConc, func(ctx context.Context, i int) (string, error) {
		var out struct {
			ID string `json:"id"`
		}
		_, code, err := r.post(ctx, "/api/rooms", r.clients[i*cfg.roomSize].token,
			map[string]string{"name": fmt.Sprintf("bench %s %d", r.runID, i), "description": "chatload"}, &out)
		if err != nil || code != "" {
			return code, err
		}
		rt.roomIDs[i] = out.ID
		return "", nil
	})
	rep.Setup = append(rep.Setup, ph)
	if err != nil {
		return err
	}
	var rmu sync.Mutex
	for room := range cfg.rooms {
		c := room * cfg.roomSize
		rt.clientRoom[c] = int32(room)
		rt.members[room] = append(rt.members[room], c)
	}
	switchers := cfg.rooms * (cfg.roomSize - 1)
	ph, err = r.phaseRun(ctx, "switch_room", switchers, cfg.dialConc, func(ctx context.Context, j int) (string, error) {
		room := j / (cfg.roomSize - 1)
		c := room*cfg.roomSize + 1 + j%(cfg.roomSize-1)
		a, err := r.clients[c].call(ctx, "switch_room", fmt.Appendf(nil, `{"room_id":%q}`, rt.roomIDs[room]))
		if err != nil {
			select {
			case <-r.clients[c].done: // closed by the server (e.g. slow consumer): counted, the run goes on
				return "disconnected", nil
			default:
				return "no_ack", err
			}
		}
		if !a.OK {
			return a.Error, nil // a failed switch leaves the user out of the room; the run goes on
		}
		rmu.Lock()
		rt.clientRoom[c] = int32(room) //nolint:gosec // room < -rooms ≤ -users ≤ 15,000 (checkChat)
		rt.members[room] = append(rt.members[room], c)
		rmu.Unlock()
		return "", nil
	})
	rep.Setup = append(rep.Setup, ph)
	if err != nil {
		return err
	}

	// Users whose connection has ended by now (closed by the server as slow
	// consumers, say) are taken out of their rooms: nothing is owed to them.
	gone := 0
	for room, ms := range rt.members {
		rt.members[room] = slices.DeleteFunc(ms, func(c int) bool {
			if r.clients[c].disconnected.Load() {
				rt.clientRoom[c] = -1
				gone++
				return true
			}
			return false
		})
	}
	if gone > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d room members had been disconnected before the steps: left out of the rooms and the expected deliveries", gone))
	}

	// Senders: spread over the rooms, only users that are in their room.
	for s := 0; len(rt.senderUser) < cfg.senders && s < cfg.rooms*cfg.roomSize; s++ {
		room, k := s%cfg.rooms, s/cfg.rooms
		c := room*cfg.roomSize + k
		if rt.clientRoom[c] != int32(room) { //nolint:gosec // room < -rooms ≤ -users ≤ 15,000 (checkChat)
			continue
		}
		rt.senderUser = append(rt.senderUser, c)
		rt.senderRoom = append(rt.senderRoom, int32(room)) //nolint:gosec // as above
	}
	if len(rt.senderUser) < cfg.senders {
		rep.Notes = append(rep.Notes, fmt.Sprintf("only %d senders: the rest failed to switch or were disconnected", len(rt.senderUser)))
	}
	// -pause: the setup's last list changes (every switch changes every
	// member's user list) go on arriving for seconds after the last
	// switch's ack, paced by the server (a client gets at most ~64 KiB/s
	// of lists); without a pause they land in the first step, whose
	// server CPU is then partly the setup's. They count as the switch
	// phase's lists.
	if cfg.pause > 0 {
		ph, err := r.pause(ctx, cfg.pause)
		rep.Setup = append(rep.Setup, ph)
		if err != nil {
			return err
		}
	}
	r.route.Store(rt)
	r.phase.Store(phaseSend)

	// 4. Rate steps.
	for st, rate := range cfg.rates {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		sr := r.runStep(ctx, rt, st, rate)
		rep.Steps = append(rep.Steps, sr)
	}

	// 5. Drain: until every acked message has reached every member of its
	// room, or -drain has passed.
	drainStart := time.Now()
	for time.Since(drainStart) < cfg.drain && ctx.Err() == nil {
		exp, pending := r.expected(rt)
		var got int64
		for _, cl := range r.clients {
			got += cl.delivered.Load()
		}
		if pending == 0 && got >= exp {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	rep.Notes = append(rep.Notes, fmt.Sprintf("drain %.2fs (bound %v)", time.Since(drainStart).Seconds(), cfg.drain))
	rep.ServerRSS = r.rss()

	// Stop every connection, then read what the read loops collected.
	r.closeAll()
	r.clients2report(rt, rep)
	r.badAckOnce.Do(func() {}) // no more writers
	if r.badAck != "" {
		rep.Notes = append(rep.Notes, "first undecodable ack: "+r.badAck)
	}
	r.clients = nil // closed already

	if cfg.senders > 0 {
		perSender := float64(cfg.rates[len(cfg.rates)-1]) / float64(cfg.roomSize) / float64(len(rt.senderUser))
		rep.Notes = append(rep.Notes, fmt.Sprintf("highest per-sender rate %.2f msg/s: the server's default --limit-messages is 5/1s:20 per user; server flags given: %q", perSender, cfg.serverFlags))
	}
	writeChatTable(stdout, rep)
	if cfg.jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.jsonOut, append(b, '\n'), 0o644); err != nil { //nolint:gosec // a report file
			return err
		}
	}
	return nil
}

// phaseRun runs fn n times, conc at once, timing it and counting failures
// by code. A failure that is still there after the retries aborts the run,
// except in switch_room, whose refusals are counted and leave the user out
// of the room.
func (r *chatRun) phaseRun(ctx context.Context, name string, n, conc int, fn func(ctx context.Context, i int) (string, error)) (phaseReport, error) {
	ph := phaseReport{Name: name, Count: n, Failed: map[string]int{}}
	var mu sync.Mutex
	cpu := startCPU(r.cfg.cpuPIDs())
	start := time.Now()
	err := parallel(ctx, n, conc, func(ctx context.Context, i int) error {
		code, err := fn(ctx, i)
		// unavailable (503: nothing was changed) and rate_limited are
		// retried, twice, after a pause; every failed attempt is counted.
		for attempt := 1; attempt < 3 && err == nil && (code == "unavailable" || code == "rate_limited"); attempt++ {
			mu.Lock()
			ph.Failed[code]++
			ph.Retried++
			mu.Unlock()
			t := time.NewTimer(time.Duration(attempt) * 200 * time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return context.Cause(ctx)
			}
			code, err = fn(ctx, i)
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			ph.Failed[code]++
			return fmt.Errorf("%s %d: %w", name, i, err)
		case code != "":
			ph.Failed[code]++
			if name != "switch_room" {
				return fmt.Errorf("%s %d: %s", name, i, code)
			}
		default:
			ph.OK++
		}
		return nil
	})
	ph.Seconds = time.Since(start).Seconds()
	ph.PerSecond = float64(ph.OK) / ph.Seconds
	ph.ServerCPU, _ = cpu.percent()
	ph.ServerRSSK = r.rss()
	r.log.Info("phase", "name", name, "ok", ph.OK, "failed", ph.Failed, "seconds", ph.Seconds)
	return ph, err
}

// pause waits d before the steps, and reports the server's CPU and the
// lists received meanwhile.
func (r *chatRun) pause(ctx context.Context, d time.Duration) (phaseReport, error) {
	ph := phaseReport{Name: "pause", Count: 1, Failed: map[string]int{}}
	lists := func() (n int64) {
		for _, cl := range r.clients {
			n += cl.listCount[phaseSwitch][0].Load() + cl.listCount[phaseSwitch][1].Load()
		}
		return n
	}
	before := lists()
	cpu := startCPU(r.cfg.cpuPIDs())
	start := time.Now()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return ph, context.Cause(ctx)
	}
	got := lists() - before
	ph.OK = 1
	ph.Seconds = time.Since(start).Seconds()
	ph.PerSecond = float64(got) / ph.Seconds // lists received a second, all clients
	ph.ServerCPU, _ = cpu.percent()
	ph.ServerRSSK = r.rss()
	r.log.Info("phase", "name", ph.Name, "lists", got, "seconds", ph.Seconds)
	return ph, nil
}

// runStep sends at rate deliveries/s for cfg.step.
func (r *chatRun) runStep(ctx context.Context, rt *routing, st, rate int) stepReport {
	cfg := r.cfg
	nS := len(rt.senderUser)
	msgRate := float64(rate) / float64(cfg.roomSize)
	total := int(math.Round(msgRate * cfg.step.Seconds()))
	sr := stepReport{Rate: rate, MsgRate: msgRate, PerSenderRate: msgRate / float64(max(nS, 1)), Refused: map[string]int{}}
	cpu := startCPU(cfg.cpuPIDs())
	start := time.Now()
	var wg sync.WaitGroup
	for s := range nS {
		n := total / nS
		if s < total%nS {
			n++
		}
		if n == 0 {
			continue
		}
		wg.Go(func() {
			r.send(ctx, rt, st, s, n, start, func(k int) time.Duration { return sendAt(cfg.step, total, nS, s, k) })
		})
	}
	wg.Wait()
	if d := time.Until(start.Add(cfg.step)); d > 0 { // steps follow each other at their rate
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	sr.ServerCPU, sr.LoadCPU = cpu.percent()
	sr.ServerRSSK = r.rss()
	r.log.Info("step", "rate", rate, "messages", total, "elapsed", time.Since(start).Round(time.Millisecond))
	return sr
}

// sendAt is when, after a step's start, sender s of nS sends its k-th
// message, when the senders together send total messages in step: message
// j of the step goes at j × step / total, from sender j mod nS, so that
// together they send at an even rate, not in bursts.
func sendAt(step time.Duration, total, nS, s, k int) time.Duration {
	return step * time.Duration(s+k*nS) / time.Duration(total)
}

// send has sender s send n messages over the step from start, its k-th at
// start + at(k).
func (r *chatRun) send(ctx context.Context, rt *routing, st, s, n int, start time.Time, at func(k int) time.Duration) {
	cl := r.clients[rt.senderUser[s]]
	for k := range n {
		if ctx.Err() != nil {
			return
		}
		if d := time.Until(start.Add(at(k))); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		now := time.Now().UnixNano()
		cl.smu.Lock()
		seq := len(cl.msgs)
		cl.msgs = append(cl.msgs, msgRec{step: int8(st), sentNano: now}) //nolint:gosec // st < len(-rates) ≤ 100 (checkChat)
		cl.smu.Unlock()
		payload := fmt.Appendf(nil, `{"content":%q,"client_id":"%s-%d-%d"}`, r.contentFor(st, s, seq, now), r.runID, s, seq)
		err := cl.emit("send_message", payload, func(b []byte) {
			at, _ := cl.arrival() // on the read loop, as every ack callback
			var a ackAnswer
			if json.Unmarshal(b, &a) != nil {
				a.Error = "malformed_ack"
				r.badAckOnce.Do(func() { r.badAck = fmt.Sprintf("%.300q", b) })
			}
			cl.smu.Lock()
			m := &cl.msgs[seq]
			m.ackNano = at
			switch {
			case a.OK && a.Duplicate:
				m.state = msgDuplicate
			case a.OK && a.messageRoom() == rt.roomIDs[rt.senderRoom[s]]:
				m.state = msgAcked
			case a.OK:
				m.state, m.code = msgRefused, "acked_other_room"
			default:
				m.state, m.code = msgRefused, a.Error
			}
			cl.smu.Unlock()
		})
		if err != nil {
			cl.smu.Lock()
			cl.msgs[seq].state, cl.msgs[seq].code = msgRefused, "write_failed"
			cl.smu.Unlock()
		}
	}
}

// expected is the deliveries owed for the messages acked so far, and how
// many messages still await their ack.
func (r *chatRun) expected(rt *routing) (exp int64, pending int) {
	for s, c := range rt.senderUser {
		cl := r.clients[c]
		members := int64(len(rt.members[rt.senderRoom[s]]))
		cl.smu.Lock()
		for _, m := range cl.msgs {
			switch m.state {
			case msgAcked:
				exp += members
			case msgPending:
				pending++
			}
		}
		cl.smu.Unlock()
	}
	return exp, pending
}

// clients2report fills the list, delivery and latency figures; the read
// loops have all ended.
func (r *chatRun) clients2report(rt *routing, rep *chatReport) {
	cfg := r.cfg
	var unstamped int64
	for p := range numPhases {
		lr := listReport{Phase: phaseNames[p]}
		for _, cl := range r.clients {
			ub, rb := cl.listBytes[p][0].Load(), cl.listBytes[p][1].Load()
			lr.UserBytesMean += float64(ub)
			lr.RoomBytesMean += float64(rb)
			lr.UserListsMean += float64(cl.listCount[p][0].Load())
			lr.RoomListsMean += float64(cl.listCount[p][1].Load())
			lr.UserBytesMax = max(lr.UserBytesMax, ub)
			lr.RoomBytesMax = max(lr.RoomBytesMax, rb)
		}
		n := float64(len(r.clients))
		lr.UserBytesMean /= n
		lr.RoomBytesMean /= n
		lr.UserListsMean /= n
		lr.RoomListsMean /= n
		lr.TotalBytesMean = lr.UserBytesMean + lr.RoomBytesMean
		rep.ListBytes = append(rep.ListBytes, lr)
	}
	for _, cl := range r.clients {
		if cl.disconnected.Load() {
			rep.Disconnects++
			if rep.Disconnects <= 3 {
				rep.Notes = append(rep.Notes, fmt.Sprintf("user %d disconnected: %s", cl.idx, cl.closeReason))
			}
		}
		rep.Foreign += cl.foreign
		unstamped += cl.unstamped
	}
	rep.LatencyAt = "read" // the time this process handled the frame
	if receiveTimes {
		rep.LatencyAt = "arrival" // the kernel's receive time at the client's socket
		if unstamped > 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%d deliveries and acks had no receive time from the kernel: timed at their read", unstamped))
		}
	}
	for st := range rep.Steps {
		sr := &rep.Steps[st]
		var lat, latRead, ack []int32
		for _, cl := range r.clients {
			lat = append(lat, cl.lat[st]...)
			latRead = append(latRead, cl.latRead[st]...)
			sr.Misrouted += cl.misrouted[st]
		}
		for s, c := range rt.senderUser {
			scl := r.clients[c]
			members := rt.members[rt.senderRoom[s]]
			for seq, m := range scl.msgs {
				if int(m.step) != st {
					continue
				}
				sr.Sent++
				recv := func(member int) uint8 {
					g := r.clients[member].got[s]
					if seq < len(g) {
						return g[seq]
					}
					return 0
				}
				if m.state != msgPending {
					ack = append(ack, micros32(m.ackNano-m.sentNano))
				}
				switch m.state {
				case msgAcked:
					sr.Acked++
					sr.Expected += int64(len(members))
					for _, mb := range members {
						switch g := recv(mb); {
						case g == 0:
							sr.Lost++
						case g > 1:
							sr.Duplicated += int64(g - 1)
						}
					}
				default:
					switch m.state {
					case msgDuplicate:
						sr.Duplicate++
					case msgRefused:
						sr.Refused[m.code]++
					default:
						sr.Unacked++
					}
					for _, mb := range members {
						sr.Unexpected += int64(recv(mb))
					}
				}
			}
		}
		sr.Delivered = int64(len(lat))
		sr.DeliveriesPS = float64(sr.Delivered) / cfg.step.Seconds()
		slices.Sort(lat)
		slices.Sort(latRead)
		slices.Sort(ack)
		sr.ReadP50ms, sr.ReadP99ms = pctMS(latRead, 0.5), pctMS(latRead, 0.99)
		sr.LatP50ms, sr.LatP90ms, sr.LatP99ms = pctMS(lat, 0.5), pctMS(lat, 0.9), pctMS(lat, 0.99)
		if len(lat) > 0 {
			sr.LatMaxms = float64(lat[len(lat)-1]) / 1000
		}
		sr.AckP50ms, sr.AckP99ms = pctMS(ack, 0.5), pctMS(ack, 0.99)
	}
}

// pctMS is the q-quantile (nearest rank) of sorted µs values, in ms.
func pctMS(sorted []int32, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return float64(sorted[max(i, 0)]) / 1000
}

func codes(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, ",")
}

func writeChatTable(w io.Writer, rep *chatReport) {
	fmt.Fprintf(w, "chat scenario %s against %s (server flags: %q, lists: %s)\n", rep.Date, rep.Server, rep.ServerFlags, rep.Lists)
	fmt.Fprintf(w, "%d users, %d rooms of %d, %d senders, steps of %.0fs; latencies from the send to the %s, read p50/p99 to this process's read\n\n",
		rep.Users, rep.Rooms, rep.RoomSize, rep.Senders, rep.StepSeconds, latencyEnd(rep.LatencyAt))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "setup phase\tcount\tok\tfailed attempts\tretried\tseconds\tper s\tsrv cpu %\tsrv rss MiB\t")
	for _, p := range rep.Setup {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%.2f\t%.0f\t%.0f\t%.1f\t\n", p.Name, p.Count, p.OK, codes(p.Failed), p.Retried, p.Seconds, p.PerSecond, p.ServerCPU, float64(p.ServerRSSK)/1024)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "lists per client\tuser lists\tuser bytes mean\tmax\troom lists\troom bytes mean\tmax\ttotal mean\t")
	for _, l := range rep.ListBytes {
		fmt.Fprintf(tw, "%s\t%.1f\t%.0f\t%d\t%.1f\t%.0f\t%d\t%.0f\t\n", l.Phase, l.UserListsMean, l.UserBytesMean, l.UserBytesMax, l.RoomListsMean, l.RoomBytesMean, l.RoomBytesMax, l.TotalBytesMean)
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(tw, "target deliv/s\tmsg/s\tper sender\tsent\tacked\trefused\tunacked\tdeliv/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\tread p50\tread p99\tack p50\tack p99\tlost\tdup\tmisrouted\tsrv cpu %\tsrv rss MiB\tgen cpu %\t")
	for _, s := range rep.Steps {
		fmt.Fprintf(tw, "%d\t%.0f\t%.2f\t%d\t%d\t%s\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t%d\t%.0f\t%.1f\t%.0f\t\n",
			s.Rate, s.MsgRate, s.PerSenderRate, s.Sent, s.Acked, codes(s.Refused), s.Unacked, s.DeliveriesPS,
			s.LatP50ms, s.LatP90ms, s.LatP99ms, s.LatMaxms, s.ReadP50ms, s.ReadP99ms, s.AckP50ms, s.AckP99ms,
			s.Lost, s.Duplicated, s.Misrouted, s.ServerCPU, float64(s.ServerRSSK)/1024, s.LoadCPU)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nunexpected disconnects %d, foreign messages %d\n", rep.Disconnects, rep.Foreign)
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	lost, dup, mis := int64(0), int64(0), int64(0)
	for _, s := range rep.Steps {
		lost += s.Lost
		dup += s.Duplicated
		mis += s.Misrouted
	}
	fmt.Fprintf(w, "RESULT chat users=%d rooms=%d lost=%d duplicated=%d misrouted=%d disconnects=%d\n", rep.Users, rep.Rooms, lost, dup, mis, rep.Disconnects)
}

// latencyEnd names where a report's latencies end (chatReport.LatencyAt).
func latencyEnd(at string) string {
	if at == "arrival" {
		return "arrival at the client's socket (kernel receive time)"
	}
	return "client's read"
}

// closeAll stops every connection and waits for its read loop to end.
// It may be called again: closing a closed connection does nothing and a
// read loop's done channel stays closed.
func (r *chatRun) closeAll() {
	r.stop.Store(true)
	for _, cl := range r.clients {
		if cl.c != nil {
			cl.c.close()
		}
	}
	for _, cl := range r.clients {
		if cl.c != nil {
			<-cl.done
		}
	}
}
