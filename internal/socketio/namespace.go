package socketio

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"

	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/siocodec"
)

// EventHandler handles one event on the connection's message goroutine:
// events of one connection are handled in order, one at a time. It may
// block briefly (it holds up that connection only).
type EventHandler func(s *Socket, e *Incoming)

// Namespace is a Socket.IO namespace. Set its handlers before the server
// serves; after that it is safe for concurrent use.
type Namespace struct {
	srv          *Server
	name         string
	seed         maphash.Seed
	onConnect    func(ctx context.Context, s *Socket, auth json.RawMessage) error
	onConnection func(s *Socket)
	onDisconnect func(s *Socket, reason string)
	hmu          sync.RWMutex
	handlers     map[string]EventHandler
	sockets      [socketShards]socketShard
	rooms        roomSet
}

const (
	socketShards = 16
	roomShards   = 32
)

type socketShard struct {
	mu sync.RWMutex
	m  map[string]*Socket
}

func newNamespace(srv *Server, name string) *Namespace {
	n := &Namespace{srv: srv, name: name, seed: maphash.MakeSeed(), handlers: make(map[string]EventHandler)}
	for i := range n.sockets {
		n.sockets[i].m = make(map[string]*Socket)
	}
	n.rooms.init(n.seed)
	return n
}

// Name is the namespace's name.
func (n *Namespace) Name() string { return n.name }

// OnConnect sets the handler that authorises a connection; a returned
// *ConnectRefusal refuses it with that message and data, any other error
// refuses it as "internal_error". It runs before the CONNECT reply;
// whatever the socket is sent meanwhile (its own emits, broadcasts to the
// rooms it joined) is held and follows the reply, so no EVENT precedes
// the CONNECT. Its ctx ends when it returns, or before if the session
// closes; the socket's own context is s.Context().
func (n *Namespace) OnConnect(h func(ctx context.Context, s *Socket, auth json.RawMessage) error) {
	n.onConnect = h
}

// OnConnection sets the handler run after the CONNECT reply is queued:
// anything it emits reaches the client after the connection.
func (n *Namespace) OnConnection(h func(s *Socket)) { n.onConnection = h }

// OnDisconnect sets the handler run once when a socket disconnects.
func (n *Namespace) OnDisconnect(h func(s *Socket, reason string)) { n.onDisconnect = h }

// On sets the handler of an event.
func (n *Namespace) On(event string, h EventHandler) {
	n.hmu.Lock()
	n.handlers[event] = h
	n.hmu.Unlock()
}

func (n *Namespace) handler(event string) EventHandler {
	n.hmu.RLock()
	defer n.hmu.RUnlock()
	return n.handlers[event]
}

func (n *Namespace) shard(id string) *socketShard {
	return &n.sockets[maphash.String(n.seed, id)%socketShards]
}

func (n *Namespace) add(s *Socket) {
	sh := n.shard(s.id)
	sh.mu.Lock()
	sh.m[s.id] = s
	sh.mu.Unlock()
}

// remove disconnects s once: rooms, pending acks, then the handler.
func (n *Namespace) remove(s *Socket, reason string) {
	if !s.teardown(reason) {
		return
	}
	sh := n.shard(s.id)
	sh.mu.Lock()
	delete(sh.m, s.id)
	sh.mu.Unlock()
	if h := n.onDisconnect; h != nil {
		h(s, reason)
	}
}

// RoomSize is the number of sockets in room on this node.
func (n *Namespace) RoomSize(room string) int { return n.rooms.size(room) }

// To selects the sockets in any of rooms (every socket if none is given).
func (n *Namespace) To(rooms ...string) *Broadcast {
	return &Broadcast{nsp: n, rooms: rooms}
}

// EventFrames encodes an event of this namespace whose arguments are
// already JSON, once, for Socket.SendFrames to many sockets (as a
// broadcast shares its frames, but to sockets chosen one by one).
func (n *Namespace) EventFrames(event string, args ...json.RawMessage) []*engineio.Frame {
	name, _ := json.Marshal(event)
	return packetFrames(&siocodec.Packet{Type: siocodec.Event, Namespace: n.name, ID: siocodec.NoID, Data: rawArray(name, args)})
}

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error { return n.To().Emit(event, args...) }

// Broadcast is a set of recipients chosen with Namespace.To; it is a
// one-shot builder, not safe for concurrent use.
type Broadcast struct {
	nsp    *Namespace
	rooms  []string
	except []*Socket
}

// Except leaves the given sockets out of the broadcast.
func (b *Broadcast) Except(s ...*Socket) *Broadcast {
	b.except = append(b.except, s...)
	return b
}

func (b *Broadcast) excluded(s *Socket) bool {
	for _, x := range b.except {
		if x == s {
			return true
		}
	}
	return false
}

// Emit encodes the event once and queues the same frames to every
// recipient. It never blocks on the network; recipients whose queue is
// full are disconnected as slow consumers.
func (b *Broadcast) Emit(event string, args ...any) error {
	_, err := b.EmitCount(event, args...)
	return err
}

// EmitCount is Emit returning the number of recipients.
func (b *Broadcast) EmitCount(event string, args ...any) (int, error) {
	data, atts, err := siocodec.EncodeEvent(event, args...)
	if err != nil {
		return 0, fmt.Errorf("broadcast %q: %w", event, err)
	}
	return b.SendFrames(packetFrames(&siocodec.Packet{Type: siocodec.Event, Namespace: b.nsp.name, ID: siocodec.NoID, Data: data, Attachments: atts})), nil
}

// EmitRaw broadcasts an event whose arguments are already JSON.
func (b *Broadcast) EmitRaw(event string, args []json.RawMessage, attachments [][]byte) int {
	name, _ := json.Marshal(event)
	return b.SendFrames(packetFrames(&siocodec.Packet{Type: siocodec.Event, Namespace: b.nsp.name, ID: siocodec.NoID, Data: rawArray(name, args), Attachments: attachments}))
}

// SendFrames queues already-encoded frames to every recipient and returns
// their number. A recipient whose CONNECT reply is not queued yet gets
// them right after it. Recipients are collected under the room or socket locks
// and sent to after those are released: a Send may close a slow session,
// and nothing reached from there may wait for a lock held here.
func (b *Broadcast) SendFrames(frames []*engineio.Frame) int {
	rp := recipientsPool.Get().(*[]*Socket)
	rcpt := b.collect((*rp)[:0])
	n := 0
	for _, s := range rcpt {
		if !s.gone.Load() && s.deliver(frames) == nil {
			n++
		}
	}
	b.nsp.srv.packetsOut.Add(uint64(n)) // once a broadcast: the counter is shared
	clear(rcpt)
	if cap(rcpt) <= 4096 {
		*rp = rcpt[:0]
		recipientsPool.Put(rp)
	}
	return n
}

// recipientsPool recycles the recipient lists of broadcasts.
var recipientsPool = sync.Pool{New: func() any { s := make([]*Socket, 0, 64); return &s }}

// collect appends the broadcast's recipients to out, each once.
func (b *Broadcast) collect(out []*Socket) []*Socket {
	add := func(s *Socket) {
		if !s.gone.Load() && !b.excluded(s) {
			out = append(out, s)
		}
	}
	switch len(b.rooms) {
	case 0:
		for i := range b.nsp.sockets {
			sh := &b.nsp.sockets[i]
			sh.mu.RLock()
			for _, s := range sh.m {
				add(s)
			}
			sh.mu.RUnlock()
		}
	case 1:
		b.nsp.rooms.each(b.rooms[0], add)
	default:
		seen := make(map[*Socket]struct{})
		for _, r := range b.rooms {
			b.nsp.rooms.each(r, func(s *Socket) {
				if _, dup := seen[s]; !dup {
					seen[s] = struct{}{}
					add(s)
				}
			})
		}
	}
	return out
}

// roomSet maps room names to their sockets, sharded by name so that
// broadcasts to different rooms do not contend.
type roomSet struct {
	seed   maphash.Seed
	shards [roomShards]struct {
		mu sync.RWMutex
		m  map[string]*roomMembers
	}
}

// roomMembers is one room's sockets: a slice, which a broadcast walks
// for every event (a map's iteration cost several times as much a
// member: BenchmarkRoomEach), and each socket's place in it, so that a
// leave is O(1): the last socket takes the leaver's place. The slice
// shrinks when a crowd leaves.
type roomMembers struct {
	list []*Socket
	at   map[*Socket]int
}

func (rs *roomSet) init(seed maphash.Seed) {
	rs.seed = seed
	for i := range rs.shards {
		rs.shards[i].m = make(map[string]*roomMembers)
	}
}

func (rs *roomSet) shardOf(room string) int { return int(maphash.String(rs.seed, room) % roomShards) }

func (rs *roomSet) add(room string, s *Socket) {
	sh := &rs.shards[rs.shardOf(room)]
	sh.mu.Lock()
	m := sh.m[room]
	if m == nil {
		m = &roomMembers{at: make(map[*Socket]int)}
		sh.m[room] = m
	}
	if _, ok := m.at[s]; !ok {
		m.at[s] = len(m.list)
		m.list = append(m.list, s)
	}
	sh.mu.Unlock()
}

func (rs *roomSet) remove(room string, s *Socket) {
	sh := &rs.shards[rs.shardOf(room)]
	sh.mu.Lock()
	if m := sh.m[room]; m != nil {
		if i, ok := m.at[s]; ok {
			last := len(m.list) - 1
			if i != last {
				m.list[i] = m.list[last]
				m.at[m.list[i]] = i
			}
			m.list[last] = nil
			m.list = m.list[:last]
			delete(m.at, s)
			if c := cap(m.list); c > 1024 && len(m.list) < c/4 {
				// A crowd left: let its array go.
				m.list = slices.Clone(m.list)
			}
		}
		if len(m.list) == 0 {
			delete(sh.m, room)
		}
	}
	sh.mu.Unlock()
}

// each calls fn for every socket in room under the shard's read lock; fn
// must only collect: it must not call out (send, close, join, leave).
func (rs *roomSet) each(room string, fn func(*Socket)) {
	sh := &rs.shards[rs.shardOf(room)]
	sh.mu.RLock()
	if m := sh.m[room]; m != nil {
		for _, s := range m.list {
			fn(s)
		}
	}
	sh.mu.RUnlock()
}

func (rs *roomSet) size(room string) int {
	sh := &rs.shards[rs.shardOf(room)]
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if m := sh.m[room]; m != nil {
		return len(m.list)
	}
	return 0
}

// Probe takes and releases, in turn, every lock a broadcast or a
// connection takes in this namespace (socket shards, room shards): it
// returns once each was free, proving none is stuck. For a readiness
// watchdog; it blocks while a lock is held.
func (n *Namespace) Probe() {
	for i := range n.sockets {
		n.sockets[i].mu.Lock()
		_ = len(n.sockets[i].m) // a critical section: staticcheck SA2001
		n.sockets[i].mu.Unlock()
	}
	for i := range n.rooms.shards {
		n.rooms.shards[i].mu.Lock()
		_ = len(n.rooms.shards[i].m)
		n.rooms.shards[i].mu.Unlock()
	}
}
