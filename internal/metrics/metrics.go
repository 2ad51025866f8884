// Package metrics is the node's Prometheus metrics: one registry, the
// collectors of every layer, and the /metrics handler (served on the
// private --metrics-addr listener with the profiles).
//
// Two kinds of figures: totals and gauges that a package already keeps
// (Engine.IO sessions, Socket.IO packets, the NATS connection, presence)
// are read at scrape time through Sources, so that the hot paths gain no
// work; events that are only seen as they happen (a delivery, an HTTP
// request, a refusal) are counted through the methods of Metrics, which
// the packages reach through small interfaces they declare themselves.
// Labels are bounded sets (reasons, codes, routes, kinds): never a user
// or room id.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric of ours.
const namespace = "chatrooms"

// Metrics holds the registry and the collectors fed as things happen.
// Its methods are safe for concurrent use; a nil *Metrics ignores every
// call, so that a package can hold one unconditionally.
type Metrics struct {
	reg *prometheus.Registry

	roomEvents     prometheus.Counter
	deliveries     prometheus.Counter
	fanout         *pow2Histogram
	sends          *prometheus.CounterVec
	rateLimited    *prometheus.CounterVec
	chatDisconnect *prometheus.CounterVec
	httpRequests   *prometheus.CounterVec
	httpDuration   *prometheus.HistogramVec
	uploads        prometheus.Counter
	uploadBytes    prometheus.Counter
	uploadRefusals *prometheus.CounterVec
	publish        prometheus.Histogram
	events         *prometheus.HistogramVec
}

// latencyBuckets span 0.5 ms to about 16 s: latencyBase and its
// doublings, the buckets of pow2Histogram too.
var latencyBuckets = prometheus.ExponentialBuckets(latencyBase.Seconds(), 2, pow2Buckets)

const latencyBase = 500 * time.Microsecond

// New returns Metrics on a fresh registry holding the Go runtime and
// process collectors and ours.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{reg: reg}
	m.roomEvents = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "room_events_published_total",
		Help: "Room events (messages, joins, leaves) this node appended to the room log."})
	m.deliveries = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "deliveries_total",
		Help: "Room events queued to this node's sockets (one per recipient socket)."})
	m.fanout = newPow2Histogram("fanout_latency_seconds",
		"From a chat message's timestamp (taken by the sending node before the append) to its write to one recipient's socket (or long-poll answer) on this node; one observation a delivery.",
		latencyBase)
	m.sends = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "send_message_total",
		Help: "send_message calls by outcome: ok, duplicate (an earlier client_id), or the error code."}, []string{"outcome"})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "rate_limited_total",
		Help: "Requests refused by a rate or concurrency limit, by kind."}, []string{"kind"})
	m.chatDisconnect = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "chat_disconnects_total",
		Help: "Chat sockets (/chat) that ended, by reason: client, transport, ping_timeout, slow_consumer, server_shutdown, backend_unavailable, protocol_error, kicked, other."}, []string{"reason"})
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "http_requests_total",
		Help: "HTTP requests by route pattern and status code."}, []string{"route", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "http_request_duration_seconds", Buckets: latencyBuckets,
		Help: "HTTP request durations by route pattern (a held long-poll counts its wait)."}, []string{"route"})
	m.uploads = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "uploads_total",
		Help: "Attachments uploaded and stored."})
	m.uploadBytes = prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Name: "upload_bytes_total",
		Help: "Bytes of the attachments stored (after re-encoding)."})
	m.uploadRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "upload_refusals_total",
		Help: "Uploads refused, by error code."}, []string{"code"})
	m.publish = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: namespace, Name: "jetstream_publish_duration_seconds", Buckets: latencyBuckets,
		Help: "Room log appends: from the publish to JetStream's ack."})
	m.events = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "socket_event_duration_seconds", Buckets: latencyBuckets,
		Help: "/chat client events (send_message, switch_room, typing, get_lists): time in the handler, until its ack is queued."}, []string{"event"})
	for _, c := range []prometheus.Collector{m.roomEvents, m.deliveries, m.fanout, m.sends, m.rateLimited, m.chatDisconnect, m.httpRequests,
		m.httpDuration, m.uploads, m.uploadBytes, m.uploadRefusals, m.publish, m.events} {
		f(c)
	}
	return m
}

// Sources are the figures read at each scrape. A nil field is left out.
type Sources struct {
	// Sessions are the open Engine.IO sessions by transport.
	Sessions func() (polling, websocket int)
	// SessionsOpened counts the sessions opened since the start.
	SessionsOpened func() uint64
	// SessionsClosed counts the closed sessions, one total for each of
	// CloseReasons.
	SessionsClosed func() []uint64
	CloseReasons   []string
	// Packets are the Socket.IO packets received and queued.
	Packets func() (in, out uint64)
	// NATSConnected reports the node's NATS connection; NATSReconnects
	// counts its reconnections.
	NATSConnected  func() bool
	NATSReconnects func() uint64
	// Users counts the users online and offline (in their grace period or
	// gone but not yet removed); Rooms the rooms.
	Users func() (online, offline int)
	Rooms func() int
	// WatchdogRoundTrip is the readiness watchdog's last round trip.
	WatchdogRoundTrip func() time.Duration
}

// Watch registers the scrape-time collectors of src.
func (m *Metrics) Watch(src Sources) {
	if m == nil {
		return
	}
	gauge := func(name, help string, labels prometheus.Labels, f func() float64) {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help, ConstLabels: labels}, f))
	}
	counter := func(name, help string, labels prometheus.Labels, f func() float64) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help, ConstLabels: labels}, f))
	}
	if src.Sessions != nil {
		m.reg.MustRegister(pairGauge{
			desc:   prometheus.NewDesc(namespace+"_sessions", "Open Engine.IO sessions by transport.", []string{"transport"}, nil),
			labels: [2]string{"polling", "websocket"},
			f:      src.Sessions,
		})
	}
	if src.SessionsOpened != nil {
		counter("sessions_opened_total", "Engine.IO sessions opened (connects).", nil, func() float64 { return float64(src.SessionsOpened()) })
	}
	if src.SessionsClosed != nil {
		for i, r := range src.CloseReasons {
			counter("sessions_closed_total", "Engine.IO sessions closed (disconnects), by reason.", prometheus.Labels{"reason": r},
				func() float64 { return float64(src.SessionsClosed()[i]) })
		}
	}
	if src.Packets != nil {
		counter("socketio_packets_received_total", "Socket.IO packets received from clients.", nil, func() float64 { in, _ := src.Packets(); return float64(in) })
		counter("socketio_packets_sent_total", "Socket.IO packets queued to clients (a broadcast counts one a recipient).", nil, func() float64 { _, out := src.Packets(); return float64(out) })
	}
	if src.NATSConnected != nil {
		gauge("nats_connected", "1 while the node's NATS connection is up.", nil, func() float64 {
			if src.NATSConnected() {
				return 1
			}
			return 0
		})
	}
	if src.NATSReconnects != nil {
		counter("nats_reconnects_total", "Reconnections of the node's NATS connection.", nil, func() float64 { return float64(src.NATSReconnects()) })
	}
	if src.Users != nil {
		m.reg.MustRegister(pairGauge{
			desc:   prometheus.NewDesc(namespace+"_users", "Users by presence: online (a session on some node) or offline (not yet removed).", []string{"state"}, nil),
			labels: [2]string{"online", "offline"},
			f:      src.Users,
		})
	}
	if src.Rooms != nil {
		gauge("rooms", "Rooms that exist.", nil, func() float64 { return float64(src.Rooms()) })
	}
	if src.WatchdogRoundTrip != nil {
		gauge("watchdog_round_trip_seconds", "The readiness watchdog's last round through the node (room log barrier, service and gateway locks, session table).", nil,
			func() float64 { return src.WatchdogRoundTrip().Seconds() })
	}
}

// pairGauge is a gauge of two series read with one call of f a scrape
// (f may visit every session or user: once, not once a series).
type pairGauge struct {
	desc   *prometheus.Desc
	labels [2]string
	f      func() (int, int)
}

func (g pairGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g pairGauge) Collect(ch chan<- prometheus.Metric) {
	a, b := g.f()
	ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(a), g.labels[0])
	ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(b), g.labels[1])
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// RoomEventPublished counts an append to the room log.
func (m *Metrics) RoomEventPublished() {
	if m != nil {
		m.roomEvents.Inc()
	}
}

// Delivered counts a room event queued to n sockets.
func (m *Metrics) Delivered(n int) {
	if m != nil {
		m.deliveries.Add(float64(n))
	}
}

// FramesWritten observes the fan-out latency of the room events of one
// socket write, from each one's origin (engineio Config.FramesWritten).
func (m *Metrics) FramesWritten(sinceOrigin []time.Duration) {
	if m != nil {
		m.fanout.ObserveAll(sinceOrigin)
	}
}

// SendOutcome counts a send_message call: "ok", "duplicate" or an error
// code.
func (m *Metrics) SendOutcome(outcome string) {
	if m != nil {
		m.sends.WithLabelValues(outcome).Inc()
	}
}

// RateLimited counts a refusal by a limiter of kind.
func (m *Metrics) RateLimited(kind string) {
	if m != nil {
		m.rateLimited.WithLabelValues(kind).Inc()
	}
}

// Disconnected counts a chat socket that ended for reason (a bounded
// label set).
func (m *Metrics) Disconnected(reason string) {
	if m != nil {
		m.chatDisconnect.WithLabelValues(reason).Inc()
	}
}

// HTTPRequest counts a request to route (its ServeMux pattern, or
// "other") answered with status after d.
func (m *Metrics) HTTPRequest(route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
}

// Uploaded counts an attachment stored, of size bytes.
func (m *Metrics) Uploaded(size int64) {
	if m != nil {
		m.uploads.Inc()
		m.uploadBytes.Add(float64(size))
	}
}

// UploadRefused counts an upload refused with code.
func (m *Metrics) UploadRefused(code string) {
	if m != nil {
		m.uploadRefusals.WithLabelValues(code).Inc()
	}
}

// Published observes a room log append's publish-to-ack time.
func (m *Metrics) Published(d time.Duration) {
	if m != nil {
		m.publish.Observe(d.Seconds())
	}
}

// EventHandled observes a /chat client event (one of the gateway's
// handlers: a bounded set) handled in d, until its ack was
// queued.
func (m *Metrics) EventHandled(event string, d time.Duration) {
	if m != nil {
		m.events.WithLabelValues(event).Observe(d.Seconds())
	}
}
