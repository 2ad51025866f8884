//go:build unix

package cluster_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/apitest"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/sioclient"
)

// maxEvents bounds every loop that reads a client's events.
const maxEvents = apitest.MaxEvents

// stepTimeout bounds every single wait of a client: a request, an ack,
// an expected event.
const stepTimeout = apitest.StepTimeout

// endpoint is where a client reaches the service: a node directly or
// the load balancer.
type endpoint struct {
	name string // "a", "b", "c" or "nginx"
	url  string
}

// api is ep for the shared API client.
func (ep endpoint) api() apitest.Server { return apitest.Server{Name: ep.name, URL: ep.url} }

// endpoint returns the endpoint called name.
func (tp *topology) endpoint(name string) endpoint {
	tp.t.Helper()
	if name == "nginx" {
		if tp.lb == nil {
			tp.t.Fatal("this topology has no load balancer")
		}
		return endpoint{name, tp.lb.url()}
	}
	return endpoint{name, tp.node(name).url()}
}

// endpoints returns every endpoint: the nodes, then nginx if there is one.
func (tp *topology) endpoints() []endpoint {
	var eps []endpoint
	for _, n := range tp.nodes {
		eps = append(eps, endpoint{n.name, n.url()})
	}
	if tp.lb != nil {
		eps = append(eps, endpoint{"nginx", tp.lb.url()})
	}
	return eps
}

// layout says where the clients of a scenario connect: the i-th user's
// socket goes to sockets[i%len] and its HTTP requests to api[i%len].
type layout struct {
	name         string
	sockets, api []string
}

// layouts are the topologies every chat scenario runs in.
var layouts = []layout{
	// Users spread over the three nodes, each making HTTP requests to a
	// node other than the one holding its socket.
	{name: "across-nodes", sockets: []string{"a", "b", "c"}, api: []string{"b", "c", "a"}},
	// Everything through the load balancer, which spreads handshakes
	// and requests round-robin.
	{name: "through-nginx", sockets: []string{"nginx"}, api: []string{"nginx"}},
}

// uniq makes names unique across the scenarios sharing a topology
// (nicknames and room names are cluster-wide). Only digits are added:
// look-alike checks would confuse letters such as l and 1.
var uniq atomic.Int64

// world is one scenario's view of a shared topology.
type world struct {
	tp     *topology
	lay    layout
	suffix string
	next   int // index of the next user, guarded by mu
	mu     sync.Mutex
	ids    map[string]bool // this scenario's user ids
}

func newWorld(tp *topology, lay layout) *world {
	return &world{tp: tp, lay: lay, suffix: "-" + strconv.FormatInt(uniq.Add(1), 10), ids: map[string]bool{}}
}

// name returns base made unique: "Anna" → "Anna-17".
func (w *world) name(base string) string { return base + w.suffix }

// slot returns the socket and API endpoints of the next user.
func (w *world) slot() (sock, api endpoint) {
	w.mu.Lock()
	i := w.next
	w.next++
	w.mu.Unlock()
	return w.tp.endpoint(w.lay.sockets[i%len(w.lay.sockets)]), w.tp.endpoint(w.lay.api[i%len(w.lay.api)])
}

// ours reports whether the user id belongs to this scenario.
func (w *world) ours(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ids[id]
}

type apiError = apitest.Error

// do sends a JSON request to ep and decodes the JSON answer into out (if
// not nil); it returns the status.
func do(t *testing.T, ep endpoint, method, path, token string, body any, out any) int {
	t.Helper()
	return ep.api().Do(t, method, path, token, body, out)
}

// request is do without t, for goroutines: it returns the status and
// the body.
func request(ep endpoint, method, path, token string, body any) (int, []byte, error) {
	return ep.api().Request(method, path, token, body)
}

// user is a registered user and where it makes its HTTP requests.
type user struct {
	chat.User
	Token string
	api   endpoint
	sock  endpoint
}

// do makes an HTTP request as u, through u's API endpoint.
func (u *user) do(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	return do(t, u.api, method, path, u.Token, body, out)
}

// register creates the user name (made unique) through the next slot's
// API endpoint.
func (w *world) register(t *testing.T, base string) *user {
	t.Helper()
	sock, api := w.slot()
	u, token := api.api().Register(t, w.name(base))
	w.mu.Lock()
	w.ids[u.ID] = true
	w.mu.Unlock()
	return &user{User: u, Token: token, api: api, sock: sock}
}

// member is a user's connected socket.
type member struct {
	*user
	C    *sioclient.Client
	ep   endpoint // where the socket connected
	room string   // the room whose messages nextMessage returns
}

// eventBuffer is the inbox of every socket: long-lived members collect
// coalesced lists.
const eventBuffer = 16384

// dial opens a /chat socket with token at ep.
func dial(ctx context.Context, ep endpoint, token string) (*sioclient.Client, error) {
	return ep.api().Dial(ctx, token, eventBuffer)
}

// connect opens a socket for u at ep and checks the greeting: room list,
// user list, current room.
func connect(t *testing.T, u *user, ep endpoint) *member {
	t.Helper()
	c, room := ep.api().Connect(t, u.Name, u.Token, eventBuffer)
	return &member{user: u, C: c, ep: ep, room: room.ID}
}

// join registers a user and connects its socket through the next slot.
func (w *world) join(t *testing.T, base string) *member {
	t.Helper()
	u := w.register(t, base)
	return connect(t, u, u.sock)
}

func ctxT(t *testing.T) context.Context { return apitest.Context(t) }

// call emits with an ack and decodes {"ok":true,...} into out, or
// returns the error.
func (m *member) call(t *testing.T, event string, payload any, out any) *apiError {
	t.Helper()
	return apitest.Call(t, m.C, m.Name, event, payload, out)
}

// nextMessage returns the next chat_message of the member's room,
// skipping those of other rooms (other scenarios share the persistent
// rooms, and events of a room left earlier may still be queued).
func (m *member) nextMessage(t *testing.T) chat.Message {
	t.Helper()
	return apitest.NextMessage(t, m.C, m.Name, m.room)
}

// noMessage checks that no chat_message of room arrives within d.
func (m *member) noMessage(t *testing.T, room string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for range maxEvents {
		ev, err := m.C.Next(ctx, "chat_message")
		if err != nil {
			return
		}
		var msg chat.Message
		if err := ev.Arg(0, &msg); err == nil && msg.RoomID == room {
			t.Fatalf("%s: unexpected message in %s: %+v", m.Name, room, msg)
		}
	}
	t.Fatalf("%s: more than %d messages in %v", m.Name, maxEvents, d)
}

// send sends a text message and returns the acked message.
func (m *member) send(t *testing.T, text string) chat.Message {
	t.Helper()
	return apitest.Send(t, m.C, m.Name, text)
}

// createRoom creates a room (name made unique by w) as m; the server
// moves m into it. It returns the room after m's own join notice.
func (w *world) createRoom(t *testing.T, m *member, base string) chat.Room {
	t.Helper()
	var room chat.Room
	if code := m.do(t, "POST", "/api/rooms", map[string]string{"name": w.name(base)}, &room); code != http.StatusCreated {
		t.Fatalf("%s: create room %q: %d", m.Name, w.name(base), code)
	}
	m.awaitRoom(t, room.ID)
	return room
}

// enter switches m into room and waits for current_room_changed and m's
// own join notice there.
func (m *member) enter(t *testing.T, roomID string) {
	t.Helper()
	if e := m.call(t, "switch_room", map[string]string{"room_id": roomID}, nil); e != nil {
		t.Fatalf("%s: switch to %s: %+v", m.Name, roomID, e)
	}
	m.awaitRoom(t, roomID)
}

// awaitRoom waits for current_room_changed to roomID, then for m's own
// join notice in it.
func (m *member) awaitRoom(t *testing.T, roomID string) {
	t.Helper()
	ctx := ctxT(t)
	found := false
	for range maxEvents {
		ev, err := m.C.Next(ctx, "current_room_changed")
		if err != nil {
			t.Fatalf("%s: waiting for current_room_changed to %s: %v", m.Name, roomID, err)
		}
		var r chat.Room
		if err := ev.Arg(0, &r); err != nil {
			t.Fatal(err)
		}
		if r.ID == roomID {
			found = true
			break
		}
	}
	if !found {
		t.Fatalf("%s: no current_room_changed to %s among %d", m.Name, roomID, maxEvents)
	}
	m.room = roomID
	if got := m.nextMessage(t); got.Type != chat.MessageJoined || got.User == nil || got.User.ID != m.ID {
		t.Fatalf("%s: first message in %s is %+v, want the own join notice", m.Name, roomID, got)
	}
}

// expectJoined/expectLeft read the next message of m's room and check it
// is the notice about who.
func (m *member) expectNotice(t *testing.T, typ int, who *member) {
	t.Helper()
	got := m.nextMessage(t)
	if got.Type != typ || got.User == nil || got.User.ID != who.ID {
		t.Fatalf("%s got %+v, want notice type %d about %s", m.Name, got, typ, who.Name)
	}
}

// lastList waits for a list event (room_list_changed or
// user_list_changed) for which ok holds, decoding each into a fresh value.
func lastList[T any](t *testing.T, m *member, event string, ok func([]T) bool) []T {
	t.Helper()
	ctx := ctxT(t)
	for range maxEvents {
		ev, err := m.C.Next(ctx, event)
		if err != nil {
			t.Fatalf("%s: no %s that fits: %v", m.Name, event, err)
		}
		var list []T
		if err := ev.Arg(0, &list); err != nil {
			t.Fatal(err)
		}
		if ok(list) {
			return list
		}
	}
	t.Fatalf("%s: no %s that fits among %d", m.Name, event, maxEvents)
	return nil
}

// userIn finds the user id in a list.
func userIn(list []chat.User, id string) (chat.User, bool) {
	for _, u := range list {
		if u.ID == id {
			return u, true
		}
	}
	return chat.User{}, false
}

// roomIn finds the room id in a list.
func roomIn(list []chat.Room, id string) (chat.Room, bool) {
	for _, r := range list {
		if r.ID == id {
			return r, true
		}
	}
	return chat.Room{}, false
}

// waitClosed waits until the socket is closed and returns its reason.
func waitClosed(t *testing.T, c *sioclient.Client, d time.Duration) error {
	t.Helper()
	select {
	case <-c.Done():
		return c.Err()
	case <-time.After(d):
		t.Fatalf("socket still open after %v", d)
		return nil
	}
}

// uploadPNG posts a w×h PNG as token's user through ep.
func uploadPNG(t *testing.T, ep endpoint, token string, w, h int) apitest.Upload {
	t.Helper()
	return ep.api().UploadPNG(t, token, w, h)
}
