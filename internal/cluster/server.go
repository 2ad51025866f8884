package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startServer starts the embedded nats-server with JetStream on
// DataDir/nats and waits, within ctx, until it accepts connections.
func (c *Cluster) startServer(ctx context.Context) error {
	o := c.opts
	sopts := &server.Options{
		ServerName: o.Name,
		JetStream:  true,
		StoreDir:   filepath.Join(o.DataDir, "nats"),
		NoSigs:     true,
		// Zero leaves nats-server's default (2m).
		SyncInterval: o.SyncInterval,
		SyncAlways:   o.SyncAlways,
	}
	if o.ListenAddr == "" {
		// This node's own connection only: a loopback port of the
		// system's choosing, with a secret token. (An in-process
		// connection, a net.Pipe, costs twice the CPU: every write is a
		// hand-over between goroutines, and at thousands of round trips
		// a second they queue for the core; docs/measurements.md.)
		var tb [24]byte
		if _, err := rand.Read(tb[:]); err != nil {
			return fmt.Errorf("cluster: embedded NATS server token: %w", err)
		}
		c.srvToken = hex.EncodeToString(tb[:])
		sopts.Host, sopts.Port, sopts.Authorization = "127.0.0.1", -1, c.srvToken
	} else {
		host, port, err := net.SplitHostPort(o.ListenAddr)
		if err != nil {
			return fmt.Errorf("cluster: listen address %q: %w", o.ListenAddr, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < -1 || p > 65535 {
			return fmt.Errorf("cluster: listen address %q: bad port", o.ListenAddr)
		}
		if p == 0 {
			p = -1 // nats-server reads 0 as "default port 4222"; we mean any
		}
		sopts.Host, sopts.Port = host, p
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return fmt.Errorf("cluster: embedded NATS server: %w", err)
	}
	debug := c.log.Enabled(ctx, slog.LevelDebug)
	srv.SetLoggerV2(serverLogger{c.log}, debug, false, false)
	c.srv = srv
	go srv.Start()

	wait := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl)
	}
	if !srv.ReadyForConnections(wait) {
		return fmt.Errorf("cluster: embedded NATS server not ready after %s", wait.Round(time.Millisecond))
	}
	if !srv.JetStreamEnabled() {
		return fmt.Errorf("cluster: embedded NATS server started without JetStream (store dir %s)", sopts.StoreDir)
	}
	c.log.Debug("nats server started", "store_dir", sopts.StoreDir, "client_url", c.ClientURL(),
		"sync_always", sopts.SyncAlways, "sync_interval", sopts.SyncInterval)
	return nil
}

// logWhere logs, once started, where NATS is: the embedded server (its
// store, how this node reaches it, whether other clients can) or the
// external servers (their URLs without credentials). This is the one
// info line about NATS at start-up.
func (c *Cluster) logWhere() {
	o := c.opts
	if c.srv == nil {
		c.log.Info("nats: external servers", "urls", redactURLs(o.NATSURL),
			"connected", redactURLs(c.nc.ConnectedUrl()), "replicas", o.Replicas)
		return
	}
	sync := "always"
	if !o.SyncAlways {
		sync = o.SyncInterval.String()
	}
	if c.srvToken != "" {
		// Nothing else can connect: the port is on loopback, chosen by
		// the system, and the token is this process's secret.
		c.log.Info("nats: embedded server, in this process", "store_dir", filepath.Join(o.DataDir, "nats"), "sync", sync,
			"node_connects_to", c.nc.ConnectedAddr(), "auth", "secret token, loopback only")
		return
	}
	c.log.Info("nats: embedded server, in this process", "store_dir", filepath.Join(o.DataDir, "nats"), "sync", sync,
		"clients_url", c.srv.ClientURL(), "auth", "none: any client that reaches clients_url can connect")
}

// serverLogger adapts slog to nats-server's printf-style Logger. The
// server formats its own lines, so the text goes in one attribute.
type serverLogger struct{ log *slog.Logger }

func (l serverLogger) logf(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, level) {
		return
	}
	l.log.LogAttrs(ctx, level, "nats-server", slog.String("text", fmt.Sprintf(format, v...)))
}

// Noticef lines (the banner, "Server is ready", shutdown steps) are
// debug: at info a start-up would print some 25 lines of them. Warnings
// and errors keep their level.
func (l serverLogger) Noticef(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }
func (l serverLogger) Warnf(format string, v ...any)   { l.logf(slog.LevelWarn, format, v) }
func (l serverLogger) Errorf(format string, v ...any)  { l.logf(slog.LevelError, format, v) }
func (l serverLogger) Fatalf(format string, v ...any)  { l.logf(slog.LevelError, format, v) }
func (l serverLogger) Debugf(format string, v ...any)  { l.logf(slog.LevelDebug, format, v) }
func (l serverLogger) Tracef(format string, v ...any)  { l.logf(slog.LevelDebug-4, format, v) }
