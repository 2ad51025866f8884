package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatrooms/chatrooms/internal/apierr"
)

// Key-value bucket names.
const (
	BucketUsers     = "users"
	BucketNicks     = "nicks"
	BucketTokens    = "tokens"
	BucketRooms     = "rooms"
	BucketRoomNames = "roomnames"
	// BucketNodes holds node heartbeats; its entries expire after
	// Options.NodeTTL unless refreshed.
	BucketNodes = "nodes"
	// BucketAttachMeta holds attachment metadata; its entries expire
	// after Options.AttachmentRetention.
	BucketAttachMeta = "attachmeta"
	// ObjectStoreAttachments holds attachment bytes (images and
	// thumbnails); objects expire after Options.AttachmentRetention.
	ObjectStoreAttachments = "attachments"
)

// Stream and subject names.
const (
	// StreamRooms stores room events on RoomSubjectPrefix + room.
	StreamRooms = "ROOMS"
	// RoomSubjectPrefix prefixes the subject of every room event.
	RoomSubjectPrefix = "chat.room."
	// SignalSubjectPrefix prefixes every Signals subject (core NATS, not
	// stored).
	SignalSubjectPrefix = "chat.sig."
)

// Defaults for the zero values of Options.
const (
	DefaultNodeTTL                = 15 * time.Second
	DefaultRoomsMaxAge            = 24 * time.Hour
	DefaultRoomsMaxMsgsPerSubject = 10_000
	DefaultAttachmentRetention    = 12 * time.Hour
	DefaultStartTimeout           = 30 * time.Second
	DefaultRequestTimeout         = 5 * time.Second
	DefaultAppendAttempt          = 2 * time.Second

	// roomsDuplicateWindow is how long the ROOMS stream remembers
	// Nats-Msg-Id headers for deduplicating retried appends.
	roomsDuplicateWindow = 2 * time.Minute
)

// Options configures Start. The zero value of every field but DataDir
// (required for the embedded server) selects a default.
type Options struct {
	// DataDir is the node's data directory; the embedded server keeps its
	// JetStream files under DataDir/nats. Unused with NATSURL.
	DataDir string
	// NATSURL, when set, connects to an existing NATS server or cluster
	// (comma-separated URLs) instead of embedding one.
	NATSURL string
	// ListenAddr, when set, makes the embedded server accept client
	// connections on host:port ("127.0.0.1:-1" picks a free port); by
	// default it accepts this node alone: a loopback port of the system's
	// choosing, with a secret token (see startServer).
	ListenAddr string
	// Replicas is the replication factor of every bucket and stream
	// (default 1). Values above 1 need a NATS cluster.
	Replicas int
	// Name names the node: the embedded server's name and the client
	// connection's name (default "chatrooms").
	Name string
	// Logger receives connection events and the embedded server's log
	// (default: discard).
	Logger *slog.Logger

	// SyncInterval is how often the embedded server fsyncs JetStream
	// data (0: nats-server's default, 2 minutes); SyncAlways fsyncs
	// after every write instead. Between fsyncs, stored data is in the
	// operating system's page cache: safe from a crash of this process,
	// not from a power cut or kernel crash. Embedded server only: either
	// with NATSURL is an error (configure the NATS servers instead).
	SyncInterval time.Duration
	SyncAlways   bool

	// OnConnection, if set, is told when the NATS connection is lost
	// (false) and when it is back (true). It runs on the connection's
	// callback goroutine and must not block.
	OnConnection func(connected bool)

	// CredentialsFile is a NATS user credentials (JWT + nkey seed) file,
	// for NATSURL.
	CredentialsFile string
	// Token is a NATS authentication token, for NATSURL.
	Token string
	// RootCAFile is a PEM file of CAs to verify the server's TLS
	// certificate with, for NATSURL.
	RootCAFile string

	// NodeTTL is how long an entry of the nodes bucket lives unless
	// rewritten (default 15s, at least 1s).
	NodeTTL time.Duration
	// RoomsMaxAge is how long room events are kept (default 24h).
	RoomsMaxAge time.Duration
	// RoomsMaxMsgsPerSubject is how many events each room keeps at most,
	// oldest dropped first (default 10,000).
	RoomsMaxMsgsPerSubject int64

	// AttachmentRetention is how long attachment metadata is kept
	// (default 12h, at least 1s); the objects are kept a little longer
	// (a tenth of it, at most a minute), so that they never expire
	// before the metadata that points to them. It should equal
	// attachments.Config.Retention.
	AttachmentRetention time.Duration
	// AttachmentMaxBytes bounds the bytes the attachments object store
	// holds (default 0: unbounded); past it, uploads fail with
	// apierr.ErrUnavailable until objects expire.
	AttachmentMaxBytes int64

	// StartTimeout bounds Start, on top of its context (default 30s).
	StartTimeout time.Duration
	// RequestTimeout bounds each storage request whose context has no
	// deadline (default 5s).
	RequestTimeout time.Duration
	// AppendAttempt is how long a room-log append waits for the stream's
	// ack before it publishes again, with the same message id, which the
	// stream deduplicates (default 2s). A stream without a leader (an
	// election, after the loss of a server) drops a publish without an
	// answer: without another try, the append would wait out its caller's
	// whole deadline.
	AppendAttempt time.Duration
}

// LogValue lets Options be logged without its secret: Token is replaced
// by whether it is set, and credentials in NATSURL are redacted.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("data_dir", o.DataDir),
		slog.String("nats_url", redactURLs(o.NATSURL)),
		slog.String("listen_addr", o.ListenAddr),
		slog.Int("replicas", o.Replicas),
		slog.Duration("sync_interval", o.SyncInterval),
		slog.Bool("sync_always", o.SyncAlways),
		slog.String("name", o.Name),
		slog.String("credentials_file", o.CredentialsFile),
		slog.Bool("token_set", o.Token != ""),
		slog.String("root_ca_file", o.RootCAFile),
		slog.Duration("node_ttl", o.NodeTTL),
		slog.Duration("rooms_max_age", o.RoomsMaxAge),
		slog.Int64("rooms_max_msgs_per_subject", o.RoomsMaxMsgsPerSubject),
		slog.Duration("attachment_retention", o.AttachmentRetention),
		slog.Int64("attachment_max_bytes", o.AttachmentMaxBytes),
	)
}

func (o Options) withDefaults() (Options, error) {
	if o.NATSURL == "" && o.DataDir == "" {
		return o, errors.New("cluster: DataDir is required for the embedded NATS server")
	}
	if o.NATSURL != "" && o.ListenAddr != "" {
		return o, errors.New("cluster: ListenAddr applies only to the embedded server, not with NATSURL")
	}
	if o.NATSURL != "" && (o.SyncInterval != 0 || o.SyncAlways) {
		return o, errors.New("cluster: SyncInterval and SyncAlways apply only to the embedded server, not with NATSURL")
	}
	if o.SyncInterval < 0 {
		return o, fmt.Errorf("cluster: SyncInterval %s is negative", o.SyncInterval)
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Replicas < 1 || o.Replicas > 5 {
		return o, fmt.Errorf("cluster: Replicas %d out of range 1..5", o.Replicas)
	}
	if o.NATSURL == "" && o.Replicas != 1 {
		return o, fmt.Errorf("cluster: Replicas %d needs a NATS cluster (set NATSURL); the embedded server is a single node", o.Replicas)
	}
	if o.Name == "" {
		o.Name = "chatrooms"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.NodeTTL == 0 {
		o.NodeTTL = DefaultNodeTTL
	}
	if o.NodeTTL < time.Second {
		return o, fmt.Errorf("cluster: NodeTTL %s is below 1s", o.NodeTTL)
	}
	if o.RoomsMaxAge == 0 {
		o.RoomsMaxAge = DefaultRoomsMaxAge
	}
	if o.RoomsMaxAge < time.Second {
		return o, fmt.Errorf("cluster: RoomsMaxAge %s is below 1s", o.RoomsMaxAge)
	}
	if o.RoomsMaxMsgsPerSubject == 0 {
		o.RoomsMaxMsgsPerSubject = DefaultRoomsMaxMsgsPerSubject
	}
	if o.RoomsMaxMsgsPerSubject < 1 {
		return o, fmt.Errorf("cluster: RoomsMaxMsgsPerSubject %d is below 1", o.RoomsMaxMsgsPerSubject)
	}
	if o.AttachmentRetention == 0 {
		o.AttachmentRetention = DefaultAttachmentRetention
	}
	if o.AttachmentRetention < time.Second {
		return o, fmt.Errorf("cluster: AttachmentRetention %s is below 1s", o.AttachmentRetention)
	}
	if o.AttachmentMaxBytes < 0 {
		return o, fmt.Errorf("cluster: AttachmentMaxBytes %d is negative", o.AttachmentMaxBytes)
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.AppendAttempt <= 0 {
		o.AppendAttempt = DefaultAppendAttempt
	}
	return o, nil
}

// Cluster is this node's handle on the shared state: a NATS connection
// (to an embedded server or an external one), the key-value buckets, the
// room log and the signals. It is safe for concurrent use.
type Cluster struct {
	opts Options
	log  *slog.Logger
	srv  *server.Server // nil with an external NATS
	// srvToken authenticates this node to its embedded server, which
	// then listens on loopback for it alone ("" when it listens on
	// Options.ListenAddr for other clients too, without one).
	srvToken string
	nc       *nats.Conn
	js       jetstream.JetStream

	done       chan struct{} // closed when Close starts
	connClosed chan struct{} // closed when the connection is closed
	closeConn  sync.Once
	closeOnce  sync.Once
	closeErr   error
	// lastConnErr is the last failed connection attempt's error, for
	// Start's error when it gives up.
	lastConnErr atomic.Pointer[error]

	users, nicks, tokens, rooms, roomNames, nodes *KV
	attachMeta                                    *KV
	attachments                                   *Objects
	roomLog                                       *Log
	signals                                       *Signals
}

// Start starts the embedded NATS server (unless opts.NATSURL is set),
// connects to it, and creates or updates the buckets and the ROOMS
// stream. It returns once everything answers, or fails within
// opts.StartTimeout. The caller must Close the Cluster.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	opts, err = opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		opts:       opts,
		log:        opts.Logger,
		done:       make(chan struct{}),
		connClosed: make(chan struct{}),
	}
	ctx, cancel := context.WithTimeoutCause(ctx, opts.StartTimeout,
		fmt.Errorf("cluster: start took longer than %s", opts.StartTimeout))
	defer cancel()
	defer func() {
		if err != nil {
			// The start's context may be what ended: the close gets its own.
			cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer ccancel()
			_ = c.Close(cctx) // the start error says more
		}
	}()

	if opts.NATSURL == "" {
		if err := c.startServer(ctx); err != nil {
			return nil, err
		}
	}
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	if err := c.provision(ctx); err != nil {
		return nil, err
	}
	c.logWhere()
	return c, nil
}

// connect dials the embedded server (loopback TCP), or opts.NATSURL, and
// waits until the connection is up. The connection reconnects forever.
func (c *Cluster) connect(ctx context.Context) error {
	o := c.opts
	nopts := []nats.Option{
		nats.Name("chatrooms " + o.Name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err == nil || c.closing() {
				return
			}
			c.log.Warn("nats disconnected", "error", err)
			if f := c.opts.OnConnection; f != nil {
				f(false)
			}
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			c.lastConnErr.Store(&err)
			c.log.Debug("nats connect attempt failed", "error", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			c.log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
			if f := c.opts.OnConnection; f != nil {
				f(true)
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			c.closeConn.Do(func() { close(c.connClosed) })
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			if sub != nil {
				c.log.Error("nats async error", "subject", sub.Subject, "error", err)
				return
			}
			c.log.Error("nats async error", "error", err)
		}),
	}
	url := o.NATSURL
	if c.srv != nil {
		// Over loopback TCP, not in process: see startServer.
		url = c.srv.ClientURL()
		if c.srvToken != "" {
			nopts = append(nopts, nats.Token(c.srvToken))
		}
	}
	if o.CredentialsFile != "" {
		nopts = append(nopts, nats.UserCredentials(o.CredentialsFile))
	}
	if o.Token != "" {
		nopts = append(nopts, nats.Token(o.Token))
	}
	if o.RootCAFile != "" {
		nopts = append(nopts, nats.RootCAs(o.RootCAFile))
	}
	nc, err := nats.Connect(url, nopts...)
	if err != nil {
		return fmt.Errorf("cluster: connect to NATS: %w", err)
	}
	c.nc = nc
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !nc.IsConnected() {
		select {
		case <-ctx.Done():
			where := redactURLs(url)
			if c.srv != nil {
				where = "embedded server at " + where
			}
			last := ""
			if p := c.lastConnErr.Load(); p != nil {
				last = fmt.Sprintf(" (last error: %v)", *p)
			} else if err := nc.LastError(); err != nil {
				last = fmt.Sprintf(" (last error: %v)", err)
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w: %s did not answer within %s%s", ErrUnreachable, where, o.StartTimeout, last)
			}
			return fmt.Errorf("cluster: connect to NATS %s: %w%s", where, context.Cause(ctx), last)
		case <-tick.C:
		}
	}
	c.log.Debug("nats connected", "url", nc.ConnectedUrlRedacted(), "embedded", c.srv != nil)
	// An asynchronous publish's ack is awaited for o.AppendAttempt: then
	// its future fails (ErrAsyncPublishTimeout) and is forgotten, and the
	// append publishes again (Log.appendID).
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(o.RequestTimeout), jetstream.WithPublishAsyncTimeout(o.AppendAttempt))
	if err != nil {
		return fmt.Errorf("cluster: jetstream: %w", err)
	}
	c.js = js
	return nil
}

// redactURLs strips user information from comma-separated URLs, for
// errors and logs.
func redactURLs(urls string) string {
	if urls == "" {
		return ""
	}
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			scheme := ""
			if s := strings.Index(p, "://"); s >= 0 && s < at {
				scheme = p[:s+3]
			}
			parts[i] = scheme + "[redacted]" + p[at:]
		}
	}
	return strings.Join(parts, ",")
}

// provision creates or updates every bucket, the ROOMS stream and the
// object store. It is idempotent: every node runs it at start. The
// streams are provisioned concurrently: on a replicated cluster each new
// stream waits for its Raft group to elect a leader (up to an election
// timeout, 4–9 s, when the group's peers learn of it late, as on a
// cluster that has just formed), and one after another nine of them took
// longer than the start timeout.
func (c *Cluster) provision(ctx context.Context) error {
	o := c.opts
	buckets := []struct {
		dst         **KV
		name, descr string
		ttl         time.Duration
	}{
		{&c.users, BucketUsers, "ChatRooms users by id", 0},
		{&c.nicks, BucketNicks, "ChatRooms nickname claims", 0},
		{&c.tokens, BucketTokens, "ChatRooms session tokens", 0},
		{&c.rooms, BucketRooms, "ChatRooms rooms by id", 0},
		{&c.roomNames, BucketRoomNames, "ChatRooms room name claims", 0},
		{&c.nodes, BucketNodes, "ChatRooms node heartbeats", o.NodeTTL},
		{&c.attachMeta, BucketAttachMeta, "ChatRooms attachment metadata", o.AttachmentRetention},
	}
	var tasks []func(context.Context) error
	for _, b := range buckets {
		tasks = append(tasks, func(ctx context.Context) error {
			err := retry(ctx, func(ctx context.Context) error {
				_, err := c.js.CreateOrUpdateStream(ctx, kvStreamConfig(b.name, b.descr, b.ttl, o.Replicas))
				return err
			})
			if err != nil {
				return fmt.Errorf("cluster: create bucket %s: %w", b.name, storeErr(err))
			}
			var kv jetstream.KeyValue
			err = retry(ctx, func(ctx context.Context) (err error) {
				kv, err = c.js.KeyValue(ctx, b.name)
				return err
			})
			if err != nil {
				return fmt.Errorf("cluster: bind bucket %s: %w", b.name, storeErr(err))
			}
			*b.dst = &KV{c: c, kv: kv, bucket: b.name, watchCheck: followCheckInterval}
			return nil
		})
	}
	tasks = append(tasks, func(ctx context.Context) error {
		err := retry(ctx, func(ctx context.Context) error {
			_, err := c.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
				Name:              StreamRooms,
				Description:       "ChatRooms room events",
				Subjects:          []string{RoomSubjectPrefix + ">"},
				Retention:         jetstream.LimitsPolicy,
				Storage:           jetstream.FileStorage,
				Replicas:          o.Replicas,
				MaxAge:            o.RoomsMaxAge,
				MaxMsgsPerSubject: o.RoomsMaxMsgsPerSubject,
				MaxMsgs:           -1,
				MaxBytes:          -1,
				Discard:           jetstream.DiscardOld,
				Duplicates:        min(roomsDuplicateWindow, o.RoomsMaxAge),
				AllowDirect:       true,
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("cluster: create stream %s: %w", StreamRooms, storeErr(err))
		}
		return nil
	}, func(ctx context.Context) error {
		err := retry(ctx, func(ctx context.Context) error {
			_, err := c.js.CreateOrUpdateStream(ctx, objectStreamConfig(ObjectStoreAttachments,
				"ChatRooms attachments", o.AttachmentRetention+blobGrace(o.AttachmentRetention), o.AttachmentMaxBytes, o.Replicas))
			return err
		})
		if err != nil {
			return fmt.Errorf("cluster: create object store %s: %w", ObjectStoreAttachments, storeErr(err))
		}
		var obs jetstream.ObjectStore
		err = retry(ctx, func(ctx context.Context) (err error) {
			obs, err = c.js.ObjectStore(ctx, ObjectStoreAttachments)
			return err
		})
		if err != nil {
			return fmt.Errorf("cluster: bind object store %s: %w", ObjectStoreAttachments, storeErr(err))
		}
		c.attachments = &Objects{c: c, obs: obs, bucket: ObjectStoreAttachments, readStall: objectReadStall}
		return nil
	})

	// The first failure stops the others: the start has failed.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(tasks))
	var wg sync.WaitGroup
	for i, task := range tasks {
		wg.Go(func() {
			if errs[i] = task(ctx); errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		// The first real cause; the others were cancelled because of it.
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	c.roomLog = &Log{c: c, probes: make(chan func()), followCheck: followCheckInterval, sincePullWait: sincePullWait, publish: c.js.PublishAsync}
	c.signals = &Signals{c: c}
	return nil
}

// blobGrace is how much longer attachment objects are kept than their
// metadata: the metadata, written after the objects, is what says an
// attachment exists, so its objects must not expire first (a reader
// would wait for chunks that are gone).
func blobGrace(retention time.Duration) time.Duration {
	return min(time.Minute, retention/10)
}

// kvStreamConfig is the stream behind a key-value bucket: what nats.go's
// CreateKeyValue makes for History 1 and file storage, except that
// replicated buckets turn direct gets off. Direct gets may be answered by
// a follower that has not applied the latest write yet, and chat.KV
// promises reads of the authoritative state (a token created through one
// node must be found through another right after). A ttl makes entries
// expire, leaving a delete marker (kept as long) that watchers see.
func kvStreamConfig(bucket, descr string, ttl time.Duration, replicas int) jetstream.StreamConfig {
	dup := 2 * time.Minute
	if ttl > 0 {
		dup = min(dup, ttl)
	}
	return jetstream.StreamConfig{
		Name:                   "KV_" + bucket,
		Description:            descr,
		Subjects:               []string{"$KV." + bucket + ".>"},
		MaxMsgsPerSubject:      1,
		MaxMsgs:                -1,
		MaxBytes:               -1,
		MaxAge:                 ttl,
		MaxMsgSize:             -1,
		MaxConsumers:           -1,
		Storage:                jetstream.FileStorage,
		Replicas:               replicas,
		AllowRollup:            true,
		DenyDelete:             true,
		Duplicates:             dup,
		Discard:                jetstream.DiscardNew,
		AllowDirect:            replicas == 1,
		AllowMsgTTL:            ttl > 0,
		SubjectDeleteMarkerTTL: ttl,
	}
}

// Users returns the users bucket.
func (c *Cluster) Users() *KV { return c.users }

// Nicks returns the nickname claims bucket.
func (c *Cluster) Nicks() *KV { return c.nicks }

// Tokens returns the session tokens bucket.
func (c *Cluster) Tokens() *KV { return c.tokens }

// Rooms returns the rooms bucket.
func (c *Cluster) Rooms() *KV { return c.rooms }

// RoomNames returns the room name claims bucket.
func (c *Cluster) RoomNames() *KV { return c.roomNames }

// Nodes returns the node heartbeats bucket, whose entries expire after
// Options.NodeTTL unless updated.
func (c *Cluster) Nodes() *KV { return c.nodes }

// AttachMeta returns the attachment metadata bucket, whose entries
// expire after Options.AttachmentRetention.
func (c *Cluster) AttachMeta() *KV { return c.attachMeta }

// Attachments returns the attachments object store, whose objects
// expire after Options.AttachmentRetention.
func (c *Cluster) Attachments() *Objects { return c.attachments }

// Log returns the room event log.
func (c *Cluster) Log() *Log { return c.roomLog }

// Signals returns the ephemeral inter-node notifications.
func (c *Cluster) Signals() *Signals { return c.signals }

// Conn returns the NATS connection, for features built beside this
// package's (object store, monitoring). Do not close it: Close does.
func (c *Cluster) Conn() *nats.Conn { return c.nc }

// JetStream returns the JetStream handle on Conn.
func (c *Cluster) JetStream() jetstream.JetStream { return c.js }

// ClientURL returns a URL other NATS clients (tools, tests) can connect
// to: the embedded server's when it listens (Options.ListenAddr), the
// connected server's (credentials redacted) with NATSURL, or "" for an
// embedded server that does not listen.
func (c *Cluster) ClientURL() string {
	if c.srv != nil {
		if c.opts.ListenAddr == "" {
			return ""
		}
		return c.srv.ClientURL()
	}
	return c.nc.ConnectedUrlRedacted()
}

// Ready reports whether the node can use the shared state: the
// connection is up and JetStream answers for the ROOMS stream. Errors
// wrap apierr.ErrUnavailable.
func (c *Cluster) Ready(ctx context.Context) error {
	if c.closing() {
		return fmt.Errorf("cluster: ready: %w: %w", apierr.ErrUnavailable, ErrClosed)
	}
	if !c.nc.IsConnected() {
		return fmt.Errorf("cluster: ready: %w: nats connection %s", apierr.ErrUnavailable, c.nc.Status())
	}
	// Account info needs the JetStream meta leader: without a quorum of
	// NATS servers it fails even where this connection is up.
	if _, err := c.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("cluster: ready: jetstream: %w: %w", apierr.ErrUnavailable, err)
	}
	if _, err := c.js.Stream(ctx, StreamRooms); err != nil {
		return fmt.Errorf("cluster: ready: stream %s: %w: %w", StreamRooms, apierr.ErrUnavailable, err)
	}
	return nil
}

// Close drains the connection (letting subscriptions finish the messages
// they hold and pending publishes flush), then shuts the embedded server
// down and waits for it, all within ctx. Close is idempotent: later calls
// return the first call's result.
func (c *Cluster) Close(ctx context.Context) error {
	c.closeOnce.Do(func() { c.closeErr = c.close(ctx) })
	return c.closeErr
}

func (c *Cluster) close(ctx context.Context) error {
	close(c.done)
	var errs []error
	if c.nc != nil {
		if err := c.nc.Drain(); err != nil {
			c.nc.Close()
			if !errors.Is(err, nats.ErrConnectionClosed) {
				errs = append(errs, fmt.Errorf("cluster: drain: %w", err))
			}
		}
		select {
		case <-c.connClosed:
		case <-ctx.Done():
			c.nc.Close()
			errs = append(errs, fmt.Errorf("cluster: drain: %w", context.Cause(ctx)))
		}
	}
	if c.srv != nil {
		stopped := make(chan struct{})
		go func() {
			c.srv.Shutdown()
			c.srv.WaitForShutdown()
			close(stopped)
		}()
		select {
		case <-stopped:
			c.log.Debug("nats server stopped")
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("cluster: shut the NATS server down: %w", context.Cause(ctx)))
		}
	}
	return errors.Join(errs...)
}

// closing reports whether Close has started.
func (c *Cluster) closing() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}
