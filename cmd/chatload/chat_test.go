package main

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/proctest"
)

// listeningRE matches the server's "listening" log line and its address.
var listeningRE = regexp.MustCompile(`listening.*\baddr="?([^\s"]+:\d+)"?`)

// TestChatScenario runs the chat scenario small against the real server
// (built binary, embedded NATS on a temporary data dir, a random loopback
// port) and checks that every acked message reached each member of its
// room exactly once. Timing is not asserted: the bounds are hang detectors.
func TestChatScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the server")
	}
	bin := proctest.BuildChatrooms(t, 5*time.Minute)
	flags := []string{"--limit-new-users", "off", "--limit-handshakes", "off", "--max-sessions-per-addr", "0"}
	cmd := exec.Command(bin, append([]string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, flags...)...)
	p := proctest.Start(t, "chatrooms", cmd)
	url := "http://" + p.WaitLine(t, listeningRE, 60*time.Second)[1]
	waitReady(t, url)

	jsonPath := filepath.Join(t.TempDir(), "chat.json")
	out, err := runArgs(t, "-scenario", "chat", "-url", url, "-users", "20", "-rooms", "2", "-senders", "4",
		"-rates", "100", "-step", "2s", "-drain", "60s", "-pause", "300ms", "-timeout", "4m", "-server-pid", strconv.Itoa(p.PID()), "-lists", "delta",
		"-json", jsonPath, "-server-flags", "--limit-new-users off --limit-handshakes off --max-sessions-per-addr 0")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep chatReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Setup) != 5 || len(rep.Steps) != 1 {
		t.Fatalf("report has %d setup phases and %d steps:\n%s", len(rep.Setup), len(rep.Steps), out)
	}
	for _, ph := range rep.Setup {
		// A busy server may answer unavailable (retried): what counts is that all succeed.
		if ph.OK != ph.Count || ph.Seconds <= 0 {
			t.Errorf("phase %s: %d of %d ok, failed attempts %v, %.3fs", ph.Name, ph.OK, ph.Count, ph.Failed, ph.Seconds)
		}
	}
	if p := rep.Setup[4]; p.Name != "pause" || p.Seconds < 0.3 {
		t.Errorf("last setup phase %q of %.3fs, want the pause of at least 0.3s", p.Name, p.Seconds)
	}
	st := rep.Steps[0]
	// 100 deliveries/s in rooms of 10 for 2 s: 20 messages, 2.5/s per sender (under the 5/s limit).
	if st.Sent != 20 || st.Acked != 20 || len(st.Refused) != 0 || st.Unacked != 0 || st.Duplicate != 0 {
		t.Errorf("sent %d acked %d refused %v unacked %d duplicate %d; want 20 sent and acked", st.Sent, st.Acked, st.Refused, st.Unacked, st.Duplicate)
	}
	if st.Expected != 200 || st.Delivered != 200 || st.Lost != 0 || st.Duplicated != 0 || st.Misrouted != 0 || st.Unexpected != 0 {
		t.Errorf("expected %d delivered %d lost %d duplicated %d misrouted %d unexpected %d; want 200 delivered exactly once each",
			st.Expected, st.Delivered, st.Lost, st.Duplicated, st.Misrouted, st.Unexpected)
	}
	if st.LatP50ms <= 0 || st.LatMaxms < st.LatP99ms || st.LatP99ms < st.LatP50ms || st.AckP50ms <= 0 {
		t.Errorf("latencies p50 %.3f p99 %.3f max %.3f ack p50 %.3f", st.LatP50ms, st.LatP99ms, st.LatMaxms, st.AckP50ms)
	}
	// Each delivery's read comes after its arrival, so each percentile of
	// the read latencies is at least the arrival's.
	if st.ReadP50ms < st.LatP50ms || st.ReadP99ms < st.LatP99ms {
		t.Errorf("read latencies p50 %.3f p99 %.3f below the arrival's %.3f %.3f", st.ReadP50ms, st.ReadP99ms, st.LatP50ms, st.LatP99ms)
	}
	if want := map[bool]string{true: "arrival", false: "read"}[receiveTimes]; rep.LatencyAt != want {
		t.Errorf("latency_at %q, want %q", rep.LatencyAt, want)
	}
	for _, n := range rep.Notes {
		if strings.Contains(n, "no receive time") {
			t.Errorf("note: %s", n)
		}
	}
	if st.ServerRSSK <= 0 {
		t.Errorf("no server RSS read")
	}
	// Every client got the lists on connect: in delta mode one "lists"
	// event with both, counted with the user lists.
	if c := rep.ListBytes[0]; rep.Lists != "delta" || c.UserListsMean < 1 || c.UserBytesMean <= 0 {
		t.Errorf("connect-phase lists (mode %q): %+v", rep.Lists, c)
	}
	if rep.Disconnects != 0 || rep.Foreign != 0 {
		t.Errorf("disconnects %d foreign %d", rep.Disconnects, rep.Foreign)
	}
}

// TestAckDecode: a refusal's "message" is a text, an ack's a Message.
func TestAckDecode(t *testing.T) {
	for _, tt := range []struct {
		in, code, room string
		ok             bool
	}{
		{`{"error":"rate_limited","message":"slow down","retry_after_ms":150}`, "rate_limited", "", false},
		{`{"ok":true,"message":{"id":"m1","room_id":"r1","seq":3,"content":"x"}}`, "", "r1", true},
		{`{"ok":true,"message":{"id":"m1","room_id":"r2"},"duplicate":true}`, "", "r2", true},
	} {
		var a ackAnswer
		if err := json.Unmarshal([]byte(tt.in), &a); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if a.OK != tt.ok || a.Error != tt.code || a.messageRoom() != tt.room {
			t.Errorf("%s: ok %v error %q room %q", tt.in, a.OK, a.Error, a.messageRoom())
		}
	}
}

// The senders of a step together send at an even rate: merged, their send
// times leave no gap much longer than the mean, whatever the number of
// senders (a phase spread over part of the interval sends in bursts).
func TestSendTimesEven(t *testing.T) {
	for _, tc := range []struct {
		senders, total int
		step           time.Duration
	}{
		{400, 1000, 10 * time.Second}, // one room of 2,000 at 200,000/s: 100 msg/s
		{400, 20000, 10 * time.Second},
		{100, 2000, 10 * time.Second},
		{2000, 2000, 10 * time.Second},
		{3, 7, time.Second},
	} {
		var times []time.Duration
		for s := range tc.senders {
			n := tc.total / tc.senders
			if s < tc.total%tc.senders {
				n++
			}
			if n == 0 {
				continue
			}
			for k := range n {
				times = append(times, sendAt(tc.step, tc.total, tc.senders, s, k))
			}
		}
		slices.Sort(times)
		mean := tc.step / time.Duration(tc.total)
		var worst time.Duration
		for i := 1; i < len(times); i++ {
			worst = max(worst, times[i]-times[i-1])
		}
		worst = max(worst, tc.step-times[len(times)-1]+times[0]) // around the step
		if worst > 3*mean {
			t.Errorf("%d senders, %d messages in %v: a gap of %v between sends, the mean is %v", tc.senders, tc.total, tc.step, worst, mean)
		}
		if times[len(times)-1] >= tc.step {
			t.Errorf("%d senders, %d messages: a send at %v, past the step of %v", tc.senders, tc.total, times[len(times)-1], tc.step)
		}
	}
}

func TestIsTextMessage(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`,{"id":"m1","room_id":"r1","seq":3,"type":0,"timestamp":1,"content":"hi"}]`, true},
		{`,{"id":"m1","type":0}]`, true},
		{`,{"id":"m1","room_id":"r1","seq":3,"type":1,"timestamp":1,"user":{"id":"u"}}]`, false}, // joined
		{`,{"id":"m1","type":2,"user":{"id":"u"}}]`, false},
		{`,{"id":"m1","type":10}]`, false},
		{`,{"id":"m1","type":01}]`, false},
		{`,{"id":"m1","attachment":{"content_type":"image/png"},"content":"x"}]`, false}, // no type
		{`,{"id":"m1","type":0`, false},                                                  // cut
		{`,{"sender":{"name":"\"type\":0,"},"type":1}]`, false},                          // escaped in a string
		{``, false},
	} {
		if got := isTextMessage([]byte(tc.in)); got != tc.want {
			t.Errorf("isTextMessage(%s) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseContent(t *testing.T) {
	r := &chatRun{runID: "run7"}
	for _, tc := range []struct {
		in                string
		step, sender, seq int
		nano              int64
		ok                bool
	}{
		{r.contentFor(2, 31, 400, 1765090000123456789), 2, 31, 400, 1765090000123456789, true},
		{"run7:0:0:0:0", 0, 0, 0, 0, true},
		{"run8:1:2:3:4", 0, 0, 0, 0, false},          // another run's
		{"run77:1:2:3:4", 0, 0, 0, 0, false},         // a look-alike run id
		{"run7:1:2:3", 0, 0, 0, 0, false},            // a field short
		{"run7:1:2:3:4:5", 0, 0, 0, 0, false},        // a field more
		{"run7:1:2::4", 0, 0, 0, 0, false},           // an empty field
		{"run7:-1:2:3:4", 0, 0, 0, 0, false},         // negative
		{"run7:1:x:3:4", 0, 0, 0, 0, false},          // not a number
		{"run7:1:2:3:4 ", 0, 0, 0, 0, false},         // trailing
		{"run7:4294967296:2:3:4", 0, 0, 0, 0, false}, // over int32
		{"run7:1:2:3:9223372036854775807", 1, 2, 3, math.MaxInt64, true},
		{"run7:1:2:3:9223372036854775808", 0, 0, 0, 0, false}, // over int64
		{"run7", 0, 0, 0, 0, false},
		{"", 0, 0, 0, 0, false},
	} {
		step, sender, seq, nano, ok := parseContent(r.runID, []byte(tc.in))
		if ok != tc.ok || step != tc.step || sender != tc.sender || seq != tc.seq || nano != tc.nano {
			t.Errorf("parseContent(%q) = %d %d %d %d %v, want %d %d %d %d %v", tc.in, step, sender, seq, nano, ok, tc.step, tc.sender, tc.seq, tc.nano, tc.ok)
		}
	}
}

// FuzzParseContent: any content parses without panicking, and what it
// parses to is what contentFor writes back and parses again.
func FuzzParseContent(f *testing.F) {
	r := &chatRun{runID: "run7"}
	f.Add("run7:1:2:3:4")
	f.Add("run7:01:2:3:9223372036854775807")
	f.Add("run7::::")
	f.Fuzz(func(t *testing.T, in string) {
		step, sender, seq, nano, ok := parseContent(r.runID, []byte(in))
		if !ok {
			return
		}
		if step < 0 || sender < 0 || seq < 0 || nano < 0 {
			t.Fatalf("parseContent(%q) = %d %d %d %d: negative", in, step, sender, seq, nano)
		}
		s2, se2, sq2, n2, ok2 := parseContent(r.runID, []byte(r.contentFor(step, sender, seq, nano)))
		if !ok2 || s2 != step || se2 != sender || sq2 != seq || n2 != nano {
			t.Fatalf("parseContent(%q) did not round-trip: %d %d %d %d %v", in, s2, se2, sq2, n2, ok2)
		}
	})
}
