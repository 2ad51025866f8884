package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/chatrooms/chatrooms/internal/clientaddr"
	"github.com/chatrooms/chatrooms/internal/ratelimit"
)

// Config is the whole server configuration. The zero value is not useful;
// obtain one from Load. A Config is read-only after Load and safe to share.
type Config struct {
	// Addr is the HTTP listen address (default ":8080").
	Addr string
	// MetricsAddr is the diagnostics listen address (net/http/pprof
	// under /debug/pprof/); empty: none. Keep it private: it is not
	// authenticated.
	MetricsAddr string
	// DataDir holds the embedded NATS server's JetStream files (default "./data").
	DataDir string
	// AllowedOrigins lists the Origin values accepted on handshakes, besides
	// same-origin requests. "*" accepts any origin.
	AllowedOrigins []string
	// LogLevel is one of debug, info, warn, error (default info).
	LogLevel slog.Level
	// LogFormat is "text" or "json" (default text).
	LogFormat string
	// ShutdownGrace bounds how long a graceful shutdown waits (default 10s).
	ShutdownGrace time.Duration

	// PingInterval and PingTimeout are the Engine.IO heartbeat settings
	// (defaults 25s and 20s).
	PingInterval time.Duration
	PingTimeout  time.Duration
	// MaxPayload caps one Engine.IO message or polling body (default 1 MB).
	MaxPayload int64
	// WriteQueueBytes caps the bytes queued to one connection before it is
	// disconnected as a slow consumer (default 4 MiB).
	WriteQueueBytes int64
	// WriteInterval paces the writes to busy connections
	// (engineio.Config.WriteInterval).
	WriteInterval time.Duration
	// GCIdlePercent is the lowest GOGC the node sets while it allocates
	// little (gctune.Tuner.Min; default 25); 0 leaves GOGC alone.
	GCIdlePercent int

	// Grace is how long a user whose connections all dropped keeps their
	// nickname and room (default 60s).
	Grace time.Duration
	// RoomsFile names a JSON file listing the persistent rooms
	// ([{"id","name","description"}]); empty means the built-in set.
	RoomsFile string
	// NATSURL selects an external NATS cluster (comma-separated URLs);
	// empty embeds a NATS server storing under DataDir.
	NATSURL string
	// NATSReplicas is the replication factor of every bucket and stream
	// (default 1; 3 on a 3-server NATS cluster).
	NATSReplicas int
	// NATSCreds and NATSCA are a NATS credentials file and a PEM file of
	// CAs to verify the NATS servers' TLS certificates, for NATSURL.
	NATSCreds string
	NATSCA    string
	// NodeName is the node's stable name; Engine.IO session ids start
	// with it, so a load balancer can route a session to its node.
	NodeName string
	// NATSListen makes the embedded NATS server accept clients on this
	// address (e.g. 127.0.0.1:4222); empty accepts none.
	NATSListen string
	// NATSStartTimeout bounds how long start-up waits for NATS (the
	// embedded server, or reaching NATSURL) and its streams and buckets
	// before giving up (default 30s).
	NATSStartTimeout time.Duration
	// NATSSync is the embedded NATS server's JetStream sync policy: how
	// often written data is fsynced (default every 1s), or after every
	// write. It applies to the embedded server only: giving it (flag or
	// environment) with NATSURL is an error, and it is zero then.
	NATSSync NATSSync

	// AttachmentRetention is how long uploaded images are kept (default 12h).
	AttachmentRetention time.Duration
	// AttachmentMaxSize is the largest upload in bytes (default 10 MiB).
	AttachmentMaxSize int64

	// TrustedProxies are the peers whose forwarding header names the
	// client (CIDRs; default none: the peer is the client).
	TrustedProxies []netip.Prefix
	// ClientAddrHeader is the forwarding header read from trusted
	// proxies: X-Forwarded-For (default) or Forwarded (RFC 7239).
	ClientAddrHeader clientaddr.Header

	// Limits (see the README's configuration table for why these
	// defaults). Per user: messages, typing events, room switches, room
	// creations (all nodes together), uploads. Per client address: new
	// users (all nodes together), Engine.IO handshakes and Socket.IO
	// connects, uploads, and open Engine.IO sessions.
	LimitMessages      ratelimit.Limit
	LimitTyping        ratelimit.Limit
	LimitRoomSwitches  ratelimit.Limit
	LimitRoomCreations ratelimit.Limit
	LimitUploads       ratelimit.Limit
	LimitNewUsers      ratelimit.Limit
	LimitHandshakes    ratelimit.Limit
	LimitAddrUploads   ratelimit.Limit
	MaxSessionsPerAddr int
	// TypingFanout is the least time between two typing starts of one
	// user passed on to the room (default 3s); stops always go out.
	TypingFanout time.Duration

	// ProtocolTest starts the protocol test-mode server (echo handlers on
	// /engine.io/ and /socket.io/) instead of the chat service.
	ProtocolTest bool
}

// Load fills a Config from args (without the program name), falling back to
// the environment through getenv for every flag not given, then to the
// defaults. It returns flag.ErrHelp for -h, after writing the usage to
// output; any other problem is only returned (one error, for the caller
// to print as it likes: a bad flag does not print the usage).
func Load(fs *flag.FlagSet, args []string, getenv func(string) string, output io.Writer) (*Config, error) {
	c := &Config{}
	var origins, level, proxies, addrHeader string
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Addr, "addr", ":8080", "HTTP listen address (env CHATROOMS_ADDR)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "diagnostics listen address (/debug/pprof/), private; empty for none (env CHATROOMS_METRICS_ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", "./data", "directory for the embedded NATS server's data (env CHATROOMS_DATA_DIR)")
	fs.StringVar(&origins, "allowed-origins", "", "comma-separated Origin values accepted besides same-origin; * for any (env CHATROOMS_ALLOWED_ORIGINS)")
	fs.StringVar(&level, "log-level", "info", "log level: debug, info, warn, error (env CHATROOMS_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json (env CHATROOMS_LOG_FORMAT)")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", 10*time.Second, "how long a graceful shutdown may take (env CHATROOMS_SHUTDOWN_GRACE)")
	fs.DurationVar(&c.PingInterval, "ping-interval", 25*time.Second, "Engine.IO ping interval (env CHATROOMS_PING_INTERVAL)")
	fs.DurationVar(&c.PingTimeout, "ping-timeout", 20*time.Second, "Engine.IO ping timeout (env CHATROOMS_PING_TIMEOUT)")
	fs.Int64Var(&c.MaxPayload, "max-payload", 1_000_000, "largest Engine.IO message or polling body in bytes (env CHATROOMS_MAX_PAYLOAD)")
	fs.Int64Var(&c.WriteQueueBytes, "write-queue-bytes", 4<<20, "bytes queued to one connection before it is dropped as slow (env CHATROOMS_WRITE_QUEUE_BYTES)")
	fs.DurationVar(&c.WriteInterval, "write-interval", 10*time.Millisecond, "under load, write to a busy connection at most about once this often, with everything queued meanwhile; 0 writes as fast as possible (env CHATROOMS_WRITE_INTERVAL)")
	fs.IntVar(&c.GCIdlePercent, "gc-idle-percent", 25, "lowest GOGC while the node allocates little, so that an idle node's memory goes back to the system; the process's GOGC (default 100) is the highest; 0 leaves GOGC alone (env CHATROOMS_GC_IDLE_PERCENT)")
	fs.DurationVar(&c.Grace, "presence-grace", 60*time.Second, "how long a disconnected user keeps nickname and room (env CHATROOMS_PRESENCE_GRACE)")
	fs.StringVar(&c.RoomsFile, "rooms-file", "", "JSON file of persistent rooms [{id,name,description}] (env CHATROOMS_ROOMS_FILE)")
	fs.StringVar(&c.NATSURL, "nats-url", "", "external NATS URLs, comma-separated; empty embeds a server (env CHATROOMS_NATS_URL)")
	fs.IntVar(&c.NATSReplicas, "nats-replicas", 1, "replication factor of the NATS streams and buckets (env CHATROOMS_NATS_REPLICAS)")
	fs.StringVar(&c.NATSCreds, "nats-creds", "", "NATS user credentials file (env CHATROOMS_NATS_CREDS)")
	fs.StringVar(&c.NATSCA, "nats-ca", "", "PEM file of CAs for the NATS servers' TLS certificates (env CHATROOMS_NATS_CA)")
	fs.StringVar(&c.NodeName, "node-name", "", "stable node name, [a-z0-9-] up to 16; session ids start with it (default: random) (env CHATROOMS_NODE_NAME)")
	c.NATSSync = NATSSync{Interval: DefaultNATSSyncInterval}
	fs.Var(&c.NATSSync, "nats-sync", "embedded NATS server's JetStream fsync interval (a duration), or always: fsync every write (env CHATROOMS_NATS_SYNC)")
	fs.DurationVar(&c.NATSStartTimeout, "nats-start-timeout", 30*time.Second, "how long start-up waits for NATS and its streams before giving up (env CHATROOMS_NATS_START_TIMEOUT)")
	fs.StringVar(&c.NATSListen, "nats-listen", "", "let NATS clients connect to the embedded server at this address (env CHATROOMS_NATS_LISTEN)")
	fs.DurationVar(&c.AttachmentRetention, "attachment-retention", 12*time.Hour, "how long uploaded images are kept (env CHATROOMS_ATTACHMENT_RETENTION)")
	fs.Int64Var(&c.AttachmentMaxSize, "attachment-max-size", 10<<20, "largest image upload in bytes (env CHATROOMS_ATTACHMENT_MAX_SIZE)")
	fs.StringVar(&proxies, "trusted-proxies", "", "comma-separated CIDRs of proxies whose forwarding header names the client (env CHATROOMS_TRUSTED_PROXIES)")
	fs.StringVar(&addrHeader, "client-addr-header", "X-Forwarded-For", "forwarding header read from trusted proxies: X-Forwarded-For or Forwarded (env CHATROOMS_CLIENT_ADDR_HEADER)")
	limit := func(p *ratelimit.Limit, name, def, usage string) {
		*p, _ = ratelimit.ParseLimit(def)
		fs.Var(p, name, usage+", N/period:burst or off (env "+EnvName(name)+")")
	}
	limit(&c.LimitMessages, "limit-messages", "5/1s:20", "messages per user")
	limit(&c.LimitTyping, "limit-typing", "2/1s:5", "typing events per user")
	limit(&c.LimitRoomSwitches, "limit-room-switches", "2/1s:10", "room switches per user")
	limit(&c.LimitRoomCreations, "limit-room-creations", "5/1m:3", "room creations per user, all nodes together")
	limit(&c.LimitUploads, "limit-uploads", "10/1m:5", "uploads per user")
	limit(&c.LimitNewUsers, "limit-new-users", "10/1m:20", "new users per client address, all nodes together")
	limit(&c.LimitHandshakes, "limit-handshakes", "10/1s:50", "Engine.IO handshakes and /chat connects per client address")
	limit(&c.LimitAddrUploads, "limit-addr-uploads", "30/1m:10", "uploads per client address")
	fs.IntVar(&c.MaxSessionsPerAddr, "max-sessions-per-addr", 50, "open Engine.IO sessions per client address, 0 for no limit (env CHATROOMS_MAX_SESSIONS_PER_ADDR)")
	fs.DurationVar(&c.TypingFanout, "typing-fanout", 3*time.Second, "least time between two typing starts of a user passed on to the room (env CHATROOMS_TYPING_FANOUT)")
	fs.BoolVar(&c.ProtocolTest, "protocol-test", false, "serve the protocol test-mode echo server instead of the chat service (env CHATROOMS_PROTOCOL_TEST)")

	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(output)
		if fs.Usage != nil {
			fs.Usage()
		} else {
			_, _ = fmt.Fprintf(output, "Usage of %s:\n", fs.Name())
			fs.PrintDefaults()
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		key := EnvName(f.Name)
		if v, ok := lookup(getenv, key); ok {
			set[f.Name] = true
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", key, v, err))
			}
		}
	})
	if set["nats-sync"] && c.NATSURL != "" {
		errs = append(errs, errors.New("nats-sync applies to the embedded NATS server only; with --nats-url set sync_interval in the NATS servers' own configuration"))
	}
	if c.NATSURL != "" {
		c.NATSSync = NATSSync{} // no embedded server to configure
	}
	if c.ProtocolTest {
		// The official protocol test suites expect these timings.
		if !set["ping-interval"] {
			c.PingInterval = 300 * time.Millisecond
		}
		if !set["ping-timeout"] {
			c.PingTimeout = 200 * time.Millisecond
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c.AllowedOrigins = splitList(origins)
	if c.TrustedProxies, err = clientaddr.ParsePrefixes(proxies); err != nil {
		return nil, fmt.Errorf("trusted-proxies: %w", err)
	}
	if c.ClientAddrHeader, err = clientaddr.ParseHeader(addrHeader); err != nil {
		return nil, fmt.Errorf("client-addr-header: %w", err)
	}
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// DefaultNATSSyncInterval is the default of --nats-sync: at most about
// a second of acknowledged messages can be lost to a power cut or kernel
// crash (a crash of the process alone loses nothing: the data is written
// to the operating system at once), for a background fsync a second.
const DefaultNATSSyncInterval = time.Second

// NATSSync is a JetStream sync policy: fsync written data every Interval,
// or after every write when Always. It is a flag.Value: a positive
// duration ("1s", "2m") or "always". Not safe for concurrent Set.
type NATSSync struct {
	Always   bool
	Interval time.Duration
}

// String returns the policy as Set reads it.
func (s *NATSSync) String() string {
	if s == nil {
		return ""
	}
	if s.Always {
		return "always"
	}
	return s.Interval.String()
}

// Set parses "always" or a positive duration.
func (s *NATSSync) Set(v string) error {
	if strings.EqualFold(strings.TrimSpace(v), "always") {
		*s = NATSSync{Always: true}
		return nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d <= 0 {
		return fmt.Errorf("nats-sync %q: want a positive duration (1s, 2m) or always", v)
	}
	*s = NATSSync{Interval: d}
	return nil
}

// EnvName is the environment variable that backs a flag: "data-dir" →
// "CHATROOMS_DATA_DIR".
func EnvName(flagName string) string {
	return "CHATROOMS_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func lookup(getenv func(string) string, key string) (string, bool) {
	if getenv == nil {
		return "", false
	}
	v := getenv(key)
	return v, v != ""
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Validate reports the first problem with c, or nil.
func (c *Config) Validate() error {
	var errs []error
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: %w", c.Addr, err))
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		errs = append(errs, fmt.Errorf("addr %q: bad port", c.Addr))
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("metrics-addr %q: %w", c.MetricsAddr, err))
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("metrics-addr %q: bad port", c.MetricsAddr))
		}
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir must not be empty"))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log-format %q: want text or json", c.LogFormat))
	}
	if c.ShutdownGrace <= 0 {
		errs = append(errs, errors.New("shutdown-grace must be positive"))
	}
	if c.PingInterval <= 0 || c.PingTimeout <= 0 {
		errs = append(errs, errors.New("ping-interval and ping-timeout must be positive"))
	}
	if c.MaxPayload < 1024 || c.MaxPayload > 64<<20 {
		errs = append(errs, fmt.Errorf("max-payload %d: want 1 KiB to 64 MiB", c.MaxPayload))
	}
	if c.Grace < time.Second {
		errs = append(errs, fmt.Errorf("presence-grace %v: want at least 1s", c.Grace))
	}
	if c.NATSStartTimeout <= 0 {
		errs = append(errs, fmt.Errorf("nats-start-timeout %v: want above 0", c.NATSStartTimeout))
	}
	if c.NATSReplicas < 1 || c.NATSReplicas > 5 {
		errs = append(errs, fmt.Errorf("nats-replicas %d: want 1 to 5", c.NATSReplicas))
	}
	if c.NATSURL == "" && c.NATSReplicas > 1 {
		errs = append(errs, errors.New("nats-replicas above 1 needs --nats-url (an external NATS cluster)"))
	}
	if (c.NATSCreds != "" || c.NATSCA != "") && c.NATSURL == "" {
		errs = append(errs, errors.New("nats-creds and nats-ca apply to --nats-url only"))
	}
	if c.NodeName != "" && !validNodeName(c.NodeName) {
		errs = append(errs, fmt.Errorf("node-name %q: want 1 to 16 of [a-z0-9-]", c.NodeName))
	}
	if c.AttachmentRetention < time.Second {
		errs = append(errs, fmt.Errorf("attachment-retention %v: want at least 1s", c.AttachmentRetention))
	}
	if c.AttachmentMaxSize < 1024 || c.AttachmentMaxSize > 100<<20 {
		errs = append(errs, fmt.Errorf("attachment-max-size %d: want 1 KiB to 100 MiB", c.AttachmentMaxSize))
	}
	if c.WriteInterval < 0 || c.WriteInterval > time.Second {
		errs = append(errs, fmt.Errorf("write-interval %s must be between 0 and 1s", c.WriteInterval))
	}
	if c.GCIdlePercent < 0 || c.GCIdlePercent > 1000 {
		errs = append(errs, fmt.Errorf("gc-idle-percent %d must be between 0 (off) and 1000", c.GCIdlePercent))
	}
	if c.WriteQueueBytes < c.MaxPayload {
		errs = append(errs, fmt.Errorf("write-queue-bytes %d must be at least max-payload %d", c.WriteQueueBytes, c.MaxPayload))
	}
	if c.MaxSessionsPerAddr < 0 {
		errs = append(errs, fmt.Errorf("max-sessions-per-addr %d: want 0 (no limit) or more", c.MaxSessionsPerAddr))
	}
	if c.TypingFanout <= 0 || c.TypingFanout > time.Hour {
		errs = append(errs, fmt.Errorf("typing-fanout %v: want above 0, at most 1h", c.TypingFanout))
	}
	for _, o := range c.AllowedOrigins {
		if o != "*" && !strings.Contains(o, "://") {
			errs = append(errs, fmt.Errorf("allowed origin %q: want scheme://host[:port] or *", o))
		}
	}
	return errors.Join(errs...)
}

func validNodeName(s string) bool {
	if len(s) == 0 || len(s) > 16 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
