//go:build unix

package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/chatrooms/chatrooms/internal/sioclient"
)

// sidNode returns the node name a session id starts with ("a.xyz" → "a").
func sidNode(sid string) string {
	name, _, ok := strings.Cut(sid, ".")
	if !ok {
		return ""
	}
	return name
}

// testHandshakesSpread: session ids carry the node's name; handshakes
// through nginx (no sid yet) reach every node.
func testHandshakesSpread(t *testing.T, tp *topology) {
	w := newWorld(tp, layouts[1])
	u := w.register(t, "Spread")
	for _, n := range tp.nodes {
		c, err := dial(ctxT(t), tp.endpoint(n.name), u.Token)
		if err != nil {
			t.Fatal(err)
		}
		if got := sidNode(c.SessionID()); got != n.name {
			t.Fatalf("session id %q from node %s", c.SessionID(), n.name)
		}
		_ = c.Close()
	}
	seen := map[string]int{}
	for range 9 {
		c, err := dial(ctxT(t), tp.endpoint("nginx"), u.Token)
		if err != nil {
			t.Fatal(err)
		}
		seen[sidNode(c.SessionID())]++
		_ = c.Close()
	}
	for _, n := range nodeNames {
		if seen[n] == 0 {
			t.Fatalf("9 handshakes through nginx reached nodes %v, never %s", seen, n)
		}
	}
}

// pollClient speaks Engine.IO v4 long-polling by hand, so that every
// request of the session is one visible HTTP request.
type pollClient struct {
	t    *testing.T
	base string // http://host:port
	sid  string
	hc   *http.Client
	// queue holds packets received but not yet consumed.
	queue []string
}

func (p *pollClient) endpoint() string {
	q := url.Values{"EIO": {"4"}, "transport": {"polling"}}
	if p.sid != "" {
		q.Set("sid", p.sid)
	}
	return p.base + "/socket.io/?" + q.Encode()
}

// open performs the handshake and returns the open packet's fields.
func (p *pollClient) open() {
	p.t.Helper()
	res, err := p.hc.Get(p.endpoint())
	if err != nil {
		p.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.HasPrefix(body, []byte("0")) {
		p.t.Fatalf("handshake: %d %q", res.StatusCode, body)
	}
	var hs struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(body[1:], &hs); err != nil {
		p.t.Fatalf("open packet %q: %v", body, err)
	}
	p.sid = hs.SID
}

// post sends packets in one polling POST.
func (p *pollClient) post(packets ...string) {
	p.t.Helper()
	res, err := p.hc.Post(p.endpoint(), "text/plain;charset=UTF-8", strings.NewReader(strings.Join(packets, "\x1e")))
	if err != nil {
		p.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "ok" {
		p.t.Fatalf("POST sid=%s: %d %q", p.sid, res.StatusCode, body)
	}
}

// poll does one GET and queues the packets it returns, answering pings.
func (p *pollClient) poll() {
	p.t.Helper()
	res, err := p.hc.Get(p.endpoint())
	if err != nil {
		p.t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		p.t.Fatalf("GET sid=%s: %d %q", p.sid, res.StatusCode, body)
	}
	for _, pkt := range strings.Split(string(body), "\x1e") {
		switch pkt {
		case "2":
			p.post("3")
		case "6": // noop
		default:
			p.queue = append(p.queue, pkt)
		}
	}
}

// await polls until a packet with the prefix arrives (at most 20 polls)
// and returns it; packets before it are dropped.
func (p *pollClient) await(prefix string) string {
	p.t.Helper()
	for range 20 {
		for len(p.queue) > 0 {
			pkt := p.queue[0]
			p.queue = p.queue[1:]
			if strings.HasPrefix(pkt, prefix) {
				return pkt
			}
		}
		p.poll()
	}
	p.t.Fatalf("no packet %q within 20 polls", prefix)
	return ""
}

// testPollingSticky drives one long-polling session through nginx with
// 30 round trips (a POST and at least one GET each), checks in nginx's
// access log that every request of the session went to the node its sid
// names, that another node does not know the session (so the routing is
// what makes it work), and that the session's WebSocket upgrade through
// nginx reaches the same node.
func testPollingSticky(t *testing.T, tp *topology) {
	w := newWorld(tp, layouts[1])
	u := w.register(t, "Poller")
	p := &pollClient{t: t, base: tp.lb.url(), hc: &http.Client{Timeout: 40 * time.Second}}
	p.open()
	owner := sidNode(p.sid)
	if owner == "" {
		t.Fatalf("session id %q names no node", p.sid)
	}
	auth, _ := json.Marshal(map[string]string{"token": u.Token})
	p.post("40/chat," + string(auth))
	p.await("40/chat,")
	p.await(`42/chat,["current_room_changed"`)
	const rounds = 30
	for i := range rounds {
		// _default is shared, so acks are matched by id, not messages.
		p.post(fmt.Sprintf(`42/chat,%d["typing",{"typing":%t}]`, i, i%2 == 0))
		ack := p.await(fmt.Sprintf("43/chat,%d[", i))
		if !strings.Contains(ack, `"ok":true`) {
			t.Fatalf("round %d: ack %q", i, ack)
		}
	}
	// The access log: every request of the session went to its owner.
	ownerAddr := strings.TrimPrefix(tp.node(owner).url(), "http://")
	var lines []string
	waitFor(t, 5*time.Second, "access log lines", func() error {
		lines = tp.lb.routes(t, p.sid)
		if len(lines) < 2*rounds+2 {
			return fmt.Errorf("%d lines for sid %s", len(lines), p.sid)
		}
		return nil
	})
	for _, l := range lines {
		if !strings.Contains(l, "upstream="+ownerAddr+" ") || !strings.Contains(l, "status=200") {
			t.Fatalf("a request of session %s (node %s at %s) was routed elsewhere:\n%s", p.sid, owner, ownerAddr, l)
		}
	}
	// Without the routing it could not work: other nodes do not know it.
	for _, n := range tp.nodes {
		if n.name == owner {
			continue
		}
		res, err := p.hc.Get(n.url() + "/socket.io/?EIO=4&transport=polling&sid=" + url.QueryEscape(p.sid))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 {
			t.Fatalf("node %s answered %d %q for node %s's session", n.name, res.StatusCode, body, owner)
		}
	}
	// Upgrade to WebSocket through nginx: the probe carries the sid, so
	// it reaches the owner too.
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(tp.lb.url(), "http") + "/socket.io/?EIO=4&transport=websocket&sid=" + url.QueryEscape(p.sid)
	conn, _, _, err := ws.Dial(ctx, wsURL)
	if err != nil {
		t.Fatalf("upgrade through nginx: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(stepTimeout))
	if err := wsutil.WriteClientText(conn, []byte("2probe")); err != nil {
		t.Fatal(err)
	}
	if msg, err := wsutil.ReadServerText(conn); err != nil || string(msg) != "3probe" {
		t.Fatalf("probe answer %q %v", msg, err)
	}
	if err := wsutil.WriteClientText(conn, []byte("5")); err != nil {
		t.Fatal(err)
	}
	if err := wsutil.WriteClientText(conn, []byte(`42/chat,999["typing",{"typing":false}]`)); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		msg, err := wsutil.ReadServerText(conn)
		if err != nil {
			t.Fatalf("after the upgrade: %v", err)
		}
		if string(msg) == "2" {
			_ = wsutil.WriteClientText(conn, []byte("3"))
		}
		if strings.HasPrefix(string(msg), "43/chat,999[") {
			if !strings.Contains(string(msg), `"ok":true`) {
				t.Fatalf("ack over the upgraded transport: %q", msg)
			}
			return
		}
	}
	t.Fatal("no ack over the upgraded transport within 100 messages")
}

// testSameOriginThroughProxy: a browser page served through nginx sends
// Origin: the nginx URL; nginx passes Host on, so the node sees a
// same-origin handshake. Another origin is refused.
func testSameOriginThroughProxy(t *testing.T, tp *topology) {
	w := newWorld(tp, layouts[1])
	u := w.register(t, "Browser")
	c, err := sioclient.Dial(ctxT(t), tp.lb.url(), sioclient.Options{
		Namespace: "/chat",
		Auth:      map[string]string{"token": u.Token},
		Header:    http.Header{"Origin": {tp.lb.url()}},
	})
	if err != nil {
		t.Fatalf("same-origin handshake through nginx: %v", err)
	}
	_ = c.Close()
	if _, err := sioclient.Dial(ctxT(t), tp.lb.url(), sioclient.Options{
		Namespace: "/chat",
		Auth:      map[string]string{"token": u.Token},
		Header:    http.Header{"Origin": {"http://elsewhere.invalid"}},
	}); err == nil {
		t.Fatal("a cross-origin handshake through nginx was accepted")
	}
}

// testOfficialClient runs the official socket.io-client (from
// test/interop/node_modules) through nginx with long-polling only and
// with its default (polling, then upgrade to WebSocket), each sending
// messages with acks, and checks in the access log that its session
// stayed on one node.
func testOfficialClient(t *testing.T, tp *topology) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found on PATH (%v); install Node.js >= 20 and run: npm ci --prefix test/interop", err)
	}
	if _, err := os.Stat(filepath.Join("..", "interop", "node_modules", "socket.io-client", "package.json")); err != nil {
		t.Fatalf("test/interop/node_modules is missing (%v); run: npm ci --prefix test/interop", err)
	}
	okRE := regexp.MustCompile(`(?m)^ok transport=(\w+) sid=(\S+) acks=(\d+)$`)
	for _, mode := range []string{"polling", "default"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(tp, layouts[1])
			u := w.register(t, "Official")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "official_client.mjs")
			cmd.Env = append(os.Environ(), "SERVER_URL="+tp.lb.url(), "TOKEN="+u.Token, "TRANSPORTS="+mode, "ROUNDS=20", "NO_COLOR=1")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			cmd.WaitDelay = 5 * time.Second
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("official_client.mjs %s: %v\n%s", mode, err, out)
			}
			m := okRE.FindStringSubmatch(string(out))
			if m == nil {
				t.Fatalf("official_client.mjs printed no result:\n%s", out)
			}
			wantTransport := map[string]string{"polling": "polling", "default": "websocket"}[mode]
			if m[1] != wantTransport {
				t.Fatalf("transport %s, want %s:\n%s", m[1], wantTransport, out)
			}
			if n, _ := strconv.Atoi(m[3]); n != 20 {
				t.Fatalf("%s acks, want 20", m[3])
			}
			owner := sidNode(m[2])
			ownerAddr := strings.TrimPrefix(tp.node(owner).url(), "http://")
			lines := tp.lb.routes(t, m[2])
			if len(lines) < 3 {
				t.Fatalf("only %d requests of session %s in the access log", len(lines), m[2])
			}
			for _, l := range lines {
				if !strings.Contains(l, "upstream="+ownerAddr+" ") {
					t.Fatalf("a request of session %s (node %s) went elsewhere:\n%s", m[2], owner, l)
				}
			}
			t.Logf("%s: session %s, %d requests through nginx, all to node %s", mode, m[2], len(lines), owner)
		})
	}
}
