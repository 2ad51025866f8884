package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads url's /metrics and checks that it parses as the
// Prometheus text format.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d, %v", res.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v\n%s", err, body)
	}
	return fams
}

// value is the sum of name's series whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	sum := 0.0
series:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// TestMetrics scrapes /metrics on the diagnostics listener around a
// scripted session: two users connect, one sends three messages, and the
// counters move by exactly what happened.
func TestMetrics(t *testing.T) {
	s := startServer(t, "", "--metrics-addr", "127.0.0.1:0")
	m := diagRe.FindStringSubmatch(s.logs.String())
	if m == nil {
		t.Fatalf("no diagnostics line in the log:\n%s", s.logs.String())
	}
	base := strings.TrimSuffix(m[1], "/debug/pprof/")

	alice := s.join(t, "alice")
	bob := s.join(t, "bob")
	if j := alice.nextMessage(t); j.User == nil || j.User.ID != bob.User.ID {
		t.Fatalf("alice got %+v, want bob's join", j)
	}
	// Delivered is counted just after the frames are queued: wait for it
	// to count bob's join notice to alice (each user's join notice is
	// published at registration, before its socket connects).
	before := scrapeUntil(t, base, func(f map[string]*dto.MetricFamily) bool {
		return value(f, "chatrooms_deliveries_total", nil) >= 1
	})
	const sent = 3
	for i := range sent {
		if e := alice.call(t, "send_message", map[string]any{"content": "hello " + string(rune('a'+i))}, nil); e != nil {
			t.Fatalf("send_message: %+v", e)
		}
	}
	for range sent {
		bob.nextMessage(t)
	}
	// The fan-out latency is observed by the writers, after the socket
	// write, and a handler's duration just after its ack is queued: wait
	// for all three.
	sendEvent := map[string]string{"event": "send_message"}
	after := scrapeUntil(t, base, func(f map[string]*dto.MetricFamily) bool {
		return value(f, "chatrooms_deliveries_total", nil)-value(before, "chatrooms_deliveries_total", nil) >= 2*sent &&
			value(f, "chatrooms_fanout_latency_seconds", nil)-value(before, "chatrooms_fanout_latency_seconds", nil) >= 2*sent &&
			value(f, "chatrooms_socket_event_duration_seconds", sendEvent)-value(before, "chatrooms_socket_event_duration_seconds", sendEvent) >= sent
	})
	delta := func(name string, labels map[string]string) float64 {
		return value(after, name, labels) - value(before, name, labels)
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"chatrooms_send_message_total", map[string]string{"outcome": "ok"}, sent},
		{"chatrooms_room_events_published_total", nil, sent},
		{"chatrooms_deliveries_total", nil, 2 * sent},       // alice and bob
		{"chatrooms_fanout_latency_seconds", nil, 2 * sent}, // one a socket write
		{"chatrooms_jetstream_publish_duration_seconds", nil, sent},
		{"chatrooms_socket_event_duration_seconds", sendEvent, sent},
		{"chatrooms_socketio_packets_received_total", nil, sent},
	}
	for _, c := range checks {
		if got := delta(c.name, c.labels); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	gauges := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"chatrooms_sessions", map[string]string{"transport": "websocket"}, 2},
		{"chatrooms_sessions", map[string]string{"transport": "polling"}, 0},
		{"chatrooms_users", map[string]string{"state": "online"}, 2},
		{"chatrooms_nats_connected", nil, 1},
		{"chatrooms_sessions_opened_total", nil, 2},
		{"chatrooms_http_requests_total", map[string]string{"route": "POST /api/users", "code": "201"}, 2},
	}
	for _, g := range gauges {
		if got := value(after, g.name, g.labels); got != g.want {
			t.Errorf("%s%v = %v, want %v", g.name, g.labels, got, g.want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "chatrooms_rooms", "chatrooms_watchdog_round_trip_seconds"} {
		if after[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	// No user or room id in any label.
	for name, f := range after {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), alice.User.ID) || strings.Contains(l.GetValue(), bob.User.ID) {
					t.Errorf("%s has a user id in label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}

	// A disconnect is counted by its reason: bob closes his connection,
	// alice is logged out (her socket is kicked).
	_ = bob.C.Close()
	scrapeUntil(t, base, func(f map[string]*dto.MetricFamily) bool {
		return value(f, "chatrooms_sessions_closed_total", map[string]string{"reason": "client"}) == 1 &&
			value(f, "chatrooms_sessions", map[string]string{"transport": "websocket"}) == 1 &&
			value(f, "chatrooms_chat_disconnects_total", map[string]string{"reason": "client"}) == 1
	})
	if code := s.do(t, "DELETE", "/api/users/me", alice.Token, nil, nil); code != http.StatusNoContent {
		t.Fatalf("logout: %d", code)
	}
	scrapeUntil(t, base, func(f map[string]*dto.MetricFamily) bool {
		return value(f, "chatrooms_chat_disconnects_total", map[string]string{"reason": "kicked"}) == 1
	})
}

// scrapeUntil scrapes until ok holds (the counters move just after what
// the clients see), for at most 30 s, and returns that scrape.
func scrapeUntil(t *testing.T, base string, ok func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		f := scrape(t, base)
		if ok(f) {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatal("the metrics did not reach the expected values")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
