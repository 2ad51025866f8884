package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/cluster"
	"github.com/chatrooms/chatrooms/internal/natstest"
)

func TestReadyAndClose(t *testing.T) {
	c := natstest.Start(t)
	ctx := testCtx(t)
	if err := c.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	url := c.ClientURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") {
		t.Fatalf("ClientURL = %q", url)
	}
	// Another client (a tool) sees the buckets and the stream.
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.INFO."+cluster.StreamRooms, nil); err != nil {
		t.Fatalf("stream info from another client: %v", err)
	}

	// Close with a watch, a follow and a subscription running.
	if err := c.Users().Watch(ctx, func(chat.Entry) {}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Log().Follow(ctx, func(chat.LogEntry) {}); err != nil {
		t.Fatal(err)
	}
	if err := c.Signals().Subscribe(ctx, "x.>", func(string, []byte) {}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.Ready(ctx); !errors.Is(err, apierr.ErrUnavailable) {
		t.Fatalf("Ready after Close: %v, want ErrUnavailable", err)
	}
	if _, err := c.Users().Get(ctx, "a"); !errors.Is(err, apierr.ErrUnavailable) {
		t.Fatalf("Get after Close: %v, want ErrUnavailable", err)
	}
	if _, err := c.Log().Append(ctx, "r", nil); !errors.Is(err, apierr.ErrUnavailable) {
		t.Fatalf("Append after Close: %v, want ErrUnavailable", err)
	}
	if err := c.Signals().Publish(ctx, "x", nil); !errors.Is(err, apierr.ErrUnavailable) {
		t.Fatalf("Publish after Close: %v, want ErrUnavailable", err)
	}
}

func TestEmbeddedNotListening(t *testing.T) {
	ctx := testCtx(t)
	c, err := cluster.Start(ctx, cluster.Options{DataDir: t.TempDir(), Logger: natstest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if u := c.ClientURL(); u != "" {
		t.Fatalf("ClientURL = %q, want none", u)
	}
	if _, err := c.Users().Create(ctx, "u", []byte("x")); err != nil {
		t.Fatal(err)
	}
}

func TestStartOptionErrors(t *testing.T) {
	ctx := testCtx(t)
	for _, o := range []cluster.Options{
		{},
		{DataDir: t.TempDir(), Replicas: 3},
		{DataDir: t.TempDir(), NodeTTL: time.Millisecond},
		{DataDir: t.TempDir(), AttachmentRetention: time.Millisecond},
		{DataDir: t.TempDir(), AttachmentMaxBytes: -1},
		{DataDir: t.TempDir(), ListenAddr: "nope"},
		{NATSURL: "nats://127.0.0.1:1", ListenAddr: "127.0.0.1:-1"},
	} {
		if c, err := cluster.Start(ctx, o); err == nil {
			_ = c.Close(ctx)
			t.Errorf("Start(%+v) succeeded", o)
		}
	}
}

func TestStartTimesOutWithoutNATS(t *testing.T) {
	ctx := testCtx(t)
	start := time.Now()
	_, err := cluster.Start(ctx, cluster.Options{NATSURL: "nats://127.0.0.1:1", StartTimeout: 500 * time.Millisecond})
	if err == nil {
		t.Fatal("Start succeeded without a server")
	}
	t.Logf("Start: %v", err)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Start gave up after %s", d)
	}
}

func TestRestartKeepsData(t *testing.T) {
	ctx := testCtx(t)
	dir := t.TempDir()
	withDir := func(o *cluster.Options) { o.DataDir = dir }

	c := natstest.Start(t, withDir)
	rev, err := c.Users().Create(ctx, "alice", []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for i := range 3 {
		seq, err := c.Log().Append(ctx, "lobby", fmt.Appendf(nil, "m%d", i))
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}

	c = natstest.Start(t, withDir)
	e, err := c.Users().Get(ctx, "alice")
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	if string(e.Value) != "v1" || e.Revision != rev {
		t.Fatalf("after restart: %+v, want v1 at %d", e, rev)
	}
	got, err := c.Log().Since(ctx, "lobby", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Seq != seqs[0] || got[2].Seq != seqs[2] || string(got[2].Data) != "m2" {
		t.Fatalf("log after restart: %+v", got)
	}
	seq, err := c.Log().Append(ctx, "lobby", []byte("m3"))
	if err != nil || seq <= seqs[2] {
		t.Fatalf("append after restart: seq %d, %v", seq, err)
	}
}

func TestNodeTTL(t *testing.T) {
	const ttl = 2 * time.Second
	c := natstest.Start(t, func(o *cluster.Options) { o.NodeTTL = ttl })
	ctx := testCtx(t)
	expired := make(chan chat.Entry, 10)
	err := c.Nodes().Watch(ctx, func(e chat.Entry) {
		if e.Deleted {
			expired <- e
		}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	if _, err := c.Nodes().Create(ctx, "node-1", []byte("alive")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Nodes().Get(ctx, "node-1"); err != nil {
		t.Fatalf("Get before the TTL: %v", err)
	}
	select {
	case e := <-expired:
		if e.Key != "node-1" {
			t.Fatalf("expiry of %q", e.Key)
		}
		if d := time.Since(created); d < ttl-100*time.Millisecond {
			t.Fatalf("expired after %s, before its TTL %s", d, ttl)
		}
	case <-time.After(ttl + 8*time.Second):
		t.Fatal("no expiry seen by the watch")
	}
	if _, err := c.Nodes().Get(ctx, "node-1"); !errors.Is(err, apierr.ErrNotFound) {
		t.Fatalf("Get after the TTL: %v, want ErrNotFound", err)
	}
	// The key can be claimed again.
	if _, err := c.Nodes().Create(ctx, "node-1", []byte("again")); err != nil {
		t.Fatalf("Create after expiry: %v", err)
	}
}

func TestExternalNATS(t *testing.T) {
	url, stop := natstest.StartServer(t)
	ctx := testCtx(t)
	start := func() *cluster.Cluster {
		c, err := cluster.Start(ctx, cluster.Options{NATSURL: url, Name: "ext", Logger: natstest.Logger(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		return c
	}
	a, b := start(), start() // two nodes sharing one server: provisioning is idempotent
	if a.ClientURL() != url {
		t.Fatalf("ClientURL = %q, want %q", a.ClientURL(), url)
	}
	if _, err := a.Nicks().Create(ctx, "bob", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Nicks().Create(ctx, "bob", []byte("b")); !errors.Is(err, apierr.ErrExists) {
		t.Fatalf("second node's Create: %v, want ErrExists", err)
	}
	seen := make(chan chat.LogEntry, 1)
	if err := b.Log().Follow(ctx, func(e chat.LogEntry) { seen <- e }); err != nil {
		t.Fatal(err)
	}
	seq, err := a.Log().Append(ctx, "lobby", []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-seen:
		if e.Seq != seq || e.Room != "lobby" {
			t.Fatalf("other node followed %+v", e)
		}
	case <-ctx.Done():
		t.Fatal("the other node did not see the append")
	}

	// With the server gone, calls fail as unavailable, within bounds.
	stop()
	cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := a.Nicks().Get(cctx, "bob"); !errors.Is(err, apierr.ErrUnavailable) {
		t.Fatalf("Get with the server down: %v, want ErrUnavailable", err)
	}
	if err := a.Ready(cctx); !errors.Is(err, apierr.ErrUnavailable) {
		t.Fatalf("Ready with the server down: %v, want ErrUnavailable", err)
	}
}

func TestReplicatedCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-server cluster")
	}
	nodes := natstest.StartCluster(t, 3)
	ctx := testCtx(t)
	var cs []*cluster.Cluster
	for i, n := range nodes {
		c, err := cluster.Start(ctx, cluster.Options{
			NATSURL:  n.URL,
			Replicas: 3,
			Name:     fmt.Sprintf("node-%d", i),
			Logger:   natstest.Logger(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close(context.Background()) })
		cs = append(cs, c)
	}
	// Creates racing through different servers: one winner; on R3
	// streams the conflict comes back as error 10164, not 10071.
	const n = 30
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := cs[i%3].Nicks().Create(ctx, "carol", fmt.Appendf(nil, "%d", i))
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, apierr.ErrExists):
				t.Errorf("Create: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d creates won, want 1", wins.Load())
	}
	e, err := cs[1].Nicks().Get(ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs[0].Nicks().Update(ctx, "carol", []byte("x"), e.Revision); err != nil {
		t.Fatal(err)
	}
	if _, err := cs[2].Nicks().Update(ctx, "carol", []byte("y"), e.Revision); !errors.Is(err, apierr.ErrConflict) {
		t.Fatalf("stale Update on R3: %v, want ErrConflict", err)
	}
	if err := cs[1].Nicks().Delete(ctx, "carol", e.Revision); !errors.Is(err, apierr.ErrConflict) {
		t.Fatalf("stale Delete on R3: %v, want ErrConflict", err)
	}
	// Reads through any node see the write just made through another.
	for i := range 50 {
		key := fmt.Sprintf("tok%d", i)
		if _, err := cs[i%3].Tokens().Create(ctx, key, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := cs[(i+1)%3].Tokens().Get(ctx, key); err != nil {
			t.Fatalf("read after write through another node: %v", err)
		}
	}

	// Objects written through one node are read through another at once.
	for i := range 10 {
		name := fmt.Sprintf("obj%d.image", i)
		data := bytes.Repeat([]byte{byte(i)}, 200<<10)
		if err := cs[i%3].Attachments().Put(ctx, name, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		r, err := cs[(i+1)%3].Attachments().Get(ctx, name)
		if err != nil {
			t.Fatalf("object read after write through another node: %v", err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("object read through another node: %d bytes, %v", len(got), err)
		}
	}

	// An event appended through one node is read back through another
	// at once: Since reads up to the leader's last event, not what its
	// consumer's replica happens to hold (a replica may lag the ack).
	var prev uint64
	for i := range 30 {
		ctx := testCtx(t) // each round its own bound: 30 rounds on a busy machine take a while
		seq, err := cs[i%3].Log().Append(ctx, "lobby", fmt.Appendf(nil, "hi %d", i))
		if err != nil {
			t.Fatal(err)
		}
		got, err := cs[(i+2)%3].Log().Since(ctx, "lobby", prev, 10)
		if err != nil || len(got) != 1 || got[0].Seq != seq {
			t.Fatalf("event %d: Since on another node: %+v, %v; want seq %d", i, got, err, seq)
		}
		prev = seq
	}
}

func TestOptionsLogValueHidesSecrets(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("start", "options", cluster.Options{NATSURL: "nats://user:pw@host:4222,nats://h2:4222", Token: "s3cret"})
	out := buf.String()
	if strings.Contains(out, "s3cret") || strings.Contains(out, "pw@") {
		t.Fatalf("secret logged: %s", out)
	}
	if !strings.Contains(out, "token_set=true") || !strings.Contains(out, "nats://h2:4222") {
		t.Fatalf("options not logged: %s", out)
	}
}

func TestSyncOnlyEmbedded(t *testing.T) {
	for _, o := range []cluster.Options{
		{NATSURL: "nats://127.0.0.1:1", SyncAlways: true},
		{NATSURL: "nats://127.0.0.1:1", SyncInterval: time.Second},
		{DataDir: t.TempDir(), SyncInterval: -time.Second},
	} {
		if _, err := cluster.Start(t.Context(), o); err == nil {
			t.Errorf("Start(%+v): no error", o)
		}
	}
}

func TestSyncAlwaysEmbedded(t *testing.T) {
	c := natstest.Start(t, func(o *cluster.Options) { o.SyncAlways = true })
	if _, err := c.Log().Append(testCtx(t), "r", []byte("stored")); err != nil {
		t.Fatal(err)
	}
}
