package natstest_test

import (
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/chatrooms/chatrooms/internal/natstest"
)

func TestStartServer(t *testing.T) {
	url, stop := natstest.StartServer(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	stop()
	stop() // idempotent; t.Cleanup runs it a third time
}

func TestStartClusterOfOne(t *testing.T) {
	nodes := natstest.StartCluster(t, 1)
	if len(nodes) != 1 || nodes[0].URL == "" {
		t.Fatalf("nodes = %+v", nodes)
	}
	if natstest.URLs(nodes) != nodes[0].URL {
		t.Fatalf("URLs = %q", natstest.URLs(nodes))
	}
}

func TestStart(t *testing.T) {
	c := natstest.Start(t)
	if err := c.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	if c.ClientURL() == "" {
		t.Fatal("no client URL")
	}
}
