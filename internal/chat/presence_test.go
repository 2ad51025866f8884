package chat_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/natstest"
)

// storedPresence is the part of a stored user record that says where the
// user is connected.
type storedPresence struct {
	Sessions     map[string]int `json:"sessions"`
	OfflineSince int64          `json:"offline_since"`
}

// The store's count of a user's sessions on a node drifts from what the
// node holds when the node could not write (a disconnection during a NATS
// outage) or was taken for dead while it could not beat (another node
// dropped its sessions, and the connected user would expire after the
// grace period). The node puts it right by itself: its sweeps write what
// it really holds.
func TestSessionsReconciledWithTheNode(t *testing.T) {
	cl := natstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const node = "a-n00000001"
	svc := startService(t, ctx, cl, node, nil)

	tests := []struct {
		name string
		// connections the user holds on the node
		connected int
		// what went wrong in the store
		drift func(p *storedPresence)
		// whether the node's liveness entry was lost as well
		nodeLost    bool
		wantOffline bool
	}{
		{
			name:      "taken for dead: another node dropped the sessions",
			connected: 1,
			drift: func(p *storedPresence) {
				delete(p.Sessions, node)
				p.OfflineSince = time.Now().UnixMilli()
			},
			nodeLost: true,
		},
		{
			name:      "two connections, the store counts one",
			connected: 2,
			drift:     func(p *storedPresence) { p.Sessions[node] = 1 },
		},
		{
			name:      "a disconnection the store never heard of",
			connected: 0,
			drift: func(p *storedPresence) {
				p.Sessions = map[string]int{node: 1}
				p.OfflineSince = 0
			},
			wantOffline: true,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _, err := svc.Register(ctx, "drift"+string(rune('a'+i)))
			if err != nil {
				t.Fatal(err)
			}
			for range tt.connected {
				if err := svc.Connected(ctx, u.ID); err != nil {
					t.Fatal(err)
				}
			}
			// The store drifts, written behind the service's back.
			e, err := cl.Users().Get(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			var rec map[string]json.RawMessage
			if err := json.Unmarshal(e.Value, &rec); err != nil {
				t.Fatal(err)
			}
			var p storedPresence
			if s, ok := rec["sessions"]; ok {
				if err := json.Unmarshal(s, &p.Sessions); err != nil {
					t.Fatal(err)
				}
			}
			if p.Sessions == nil {
				p.Sessions = map[string]int{}
			}
			tt.drift(&p)
			rec["sessions"], _ = json.Marshal(p.Sessions)
			rec["offline_since"], _ = json.Marshal(p.OfflineSince)
			v, _ := json.Marshal(rec)
			if _, err := cl.Users().Update(ctx, u.ID, v, e.Revision); err != nil {
				t.Fatal(err)
			}
			if tt.nodeLost {
				if err := cl.Nodes().Delete(ctx, node, 0); err != nil {
					t.Fatal(err)
				}
			}

			// The node's heartbeat and sweeps put it right.
			deadline := time.Now().Add(30 * time.Second)
			for {
				got := readPresence(t, ctx, cl.Users(), u.ID)
				ok := got.Sessions[node] == tt.connected && (got.OfflineSince > 0) == tt.wantOffline
				if ok && online(svc, u.ID) == !tt.wantOffline {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not reconciled within 30 s: stored sessions %v, offline since %d, online %v; want %d here, offline=%v",
						got.Sessions, got.OfflineSince, online(svc, u.ID), tt.connected, tt.wantOffline)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

func readPresence(t *testing.T, ctx context.Context, kv chat.KV, userID string) storedPresence {
	t.Helper()
	e, err := kv.Get(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	var p storedPresence
	if err := json.Unmarshal(e.Value, &p); err != nil {
		t.Fatal(err)
	}
	return p
}
