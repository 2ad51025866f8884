package chat_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/cluster"
	"github.com/chatrooms/chatrooms/internal/natstest"
)

type nopListener struct{}

func (nopListener) RoomEvent(*chat.Message)        {}
func (nopListener) UsersChanged()                  {}
func (nopListener) RoomsChanged()                  {}
func (nopListener) UserRemoved(string)             {}
func (nopListener) Typing(string, chat.User, bool) {}

func startService(t *testing.T, ctx context.Context, cl *cluster.Cluster, nodeID string, predecessor func(string) bool) *chat.Service {
	t.Helper()
	return startWith(t, ctx, cl, nodeID, predecessor, nil)
}

// startWith starts a service on cl's buckets, room log and signals, as
// wrap (if not nil) leaves them: a test wraps a store to watch or slow it.
func startWith(t *testing.T, ctx context.Context, cl *cluster.Cluster, nodeID string, predecessor func(string) bool, wrap func(*chat.Stores, *chat.Log)) *chat.Service {
	t.Helper()
	st := clusterStores(cl)
	var log chat.Log = cl.Log()
	if wrap != nil {
		wrap(&st, &log)
	}
	svc := chat.New(chat.Config{NodeID: nodeID, Predecessor: predecessor, Grace: time.Minute, Logger: natstest.Logger(t)}, st, log, cl.Signals())
	if err := svc.Start(ctx, nopListener{}); err != nil {
		t.Fatalf("start %s: %v", nodeID, err)
	}
	return svc
}

// clusterStores is the service's stores on cl's buckets.
func clusterStores(cl *cluster.Cluster) chat.Stores {
	return chat.Stores{Users: cl.Users(), Nicks: cl.Nicks(), Tokens: cl.Tokens(), Rooms: cl.Rooms(), RoomNames: cl.RoomNames(), Nodes: cl.Nodes()}
}

func online(svc *chat.Service, userID string) bool {
	for _, u := range svc.Users() {
		if u.ID == userID {
			return u.Online
		}
	}
	return false
}

// A node restarted after a crash (its earlier life's liveness entry still
// there) lists the users that were connected to it offline as soon as it
// has started, not once the dead entry expires; another node's users stay
// online.
func TestRestartRetiresEarlierLife(t *testing.T) {
	cl := natstest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sameName := func(id string) bool {
		life, ok := strings.CutPrefix(id, "c-")
		return ok && !strings.Contains(life, "-")
	}
	tests := []struct {
		name        string
		predecessor func(string) bool
		retired     bool
	}{
		{"same node name", sameName, true},
		{"no predecessor rule", nil, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The earlier life of c, and node d (its neighbour c-d must
			// not count as c either), each with a connected user.
			lifeCtx, crash := context.WithCancel(ctx)
			nodes := map[string]*chat.Service{}
			users := map[string]string{}
			for _, id := range []string{"c-n0000000" + string(rune('1'+2*i)), "c-d-n00000009", "d-n0000000" + string(rune('1'+2*i))} {
				nodes[id] = startService(t, lifeCtx, cl, id, nil)
				u, _, err := nodes[id].Register(ctx, "user-"+strings.ReplaceAll(id, "-", "")+"-"+tt.name[:4])
				if err != nil {
					t.Fatal(err)
				}
				if err := nodes[id].Connected(ctx, u.ID); err != nil {
					t.Fatal(err)
				}
				users[id] = u.ID
			}
			// c crashes (no disconnection recorded; the others go on).
			var earlier string
			for id := range nodes {
				if sameName(id) {
					earlier = id
				}
			}
			crash() // stops every service started above; their entries stay
			next := startService(t, ctx, cl, "c-n0000000"+string(rune('2'+2*i)), tt.predecessor)
			for id, user := range users {
				want := !(tt.retired && id == earlier)
				if got := online(next, user); got != want {
					t.Errorf("right after the restart, the user of %s is online=%v, want %v", id, got, want)
				}
			}
		})
	}
}
