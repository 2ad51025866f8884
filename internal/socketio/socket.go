package socketio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chatrooms/chatrooms/internal/eiocodec"
	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/siocodec"
)

// Socket is one client's connection to one namespace. Its methods are safe
// for concurrent use.
type Socket struct {
	id    string
	nsp   *Namespace
	conn  *conn
	gone  atomic.Bool
	value atomic.Value
	// created is when the CONNECT arrived (Unix nanoseconds).
	created int64
	// open is set once the CONNECT reply is queued; until then what is
	// sent to the socket (emits, broadcasts) waits in held, so that no
	// EVENT ever reaches the client before its CONNECT.
	open atomic.Bool

	mu sync.Mutex
	// ctx is made by Context, on demand (most sockets never need one);
	// ended is why the socket ended, once it has.
	ctx     context.Context
	cancel  context.CancelCauseFunc
	ended   error
	rooms   roomNames
	acks    map[int64]*pendingAck
	nextAck int64
	held    [][]*engineio.Frame
}

// maxHeld bounds the packets held for a socket whose CONNECT reply is
// not queued yet; past it the session is closed as a slow consumer.
const maxHeld = 1024

type pendingAck struct {
	cb    AckCallback
	timer *time.Timer
}

// AckCallback receives a client's acknowledgement: its arguments (raw JSON,
// placeholders left in place) and binary attachments, or an error
// (ErrAckTimeout, ErrSocketClosed).
type AckCallback func(args []json.RawMessage, attachments [][]byte, err error)

func newSocket(nsp *Namespace, c *conn) *Socket {
	var b [15]byte
	_, _ = rand.Read(b[:])
	// The socket's context (Context, made on demand) is not derived from
	// the session's: that would give every session a map of children and
	// a done channel for its whole life. It ends instead when the socket
	// is torn down, which the session's close does for every socket
	// (OnClose).
	return &Socket{id: base64.RawURLEncoding.EncodeToString(b[:]), nsp: nsp, conn: c, created: time.Now().UnixNano()}
}

// Created is when the socket's CONNECT arrived.
func (s *Socket) Created() time.Time { return time.Unix(0, s.created) }

// ID is the socket id sent to the client in the CONNECT reply.
func (s *Socket) ID() string { return s.id }

// Namespace is the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Session is the Engine.IO session carrying the socket.
func (s *Socket) Session() *engineio.Session { return s.conn.sess }

// Context ends when the socket disconnects (its cause says why). It is
// made on the first call, already ended if the socket has.
func (s *Socket) Context() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancelCause(context.Background())
		if s.ended != nil {
			s.cancel(s.ended)
		}
	}
	return s.ctx
}

// end ends the socket's context with cause (the first cause stays).
func (s *Socket) end(cause error) {
	s.mu.Lock()
	if s.ended == nil {
		s.ended = cause
	}
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel(cause)
	}
}

// Connected reports whether the socket is still connected.
func (s *Socket) Connected() bool { return !s.gone.Load() }

// SetValue stores an application value; Value returns it.
func (s *Socket) SetValue(v any) { s.value.Store(&v) }

// Value returns what SetValue stored, or nil.
func (s *Socket) Value() any {
	if p, ok := s.value.Load().(*any); ok {
		return *p
	}
	return nil
}

// Emit sends an event to this socket. []byte arguments travel as binary
// attachments; json.RawMessage is sent verbatim.
func (s *Socket) Emit(event string, args ...any) error {
	data, atts, err := siocodec.EncodeEvent(event, args...)
	if err != nil {
		return fmt.Errorf("emit %q: %w", event, err)
	}
	return s.send(&siocodec.Packet{Type: siocodec.Event, Namespace: s.nsp.name, ID: siocodec.NoID, Data: data, Attachments: atts})
}

// EmitRaw sends an event whose arguments are already JSON; placeholders
// in args refer to attachments.
func (s *Socket) EmitRaw(event string, args []json.RawMessage, attachments [][]byte) error {
	name, _ := json.Marshal(event)
	return s.send(&siocodec.Packet{Type: siocodec.Event, Namespace: s.nsp.name, ID: siocodec.NoID, Data: rawArray(name, args), Attachments: attachments})
}

// SendFrames queues frames encoded once for many sockets
// (Namespace.EventFrames) to this socket. The frames are shared: never
// change them.
func (s *Socket) SendFrames(frames []*engineio.Frame) error {
	return s.sendFrames(frames, (*engineio.Session).Send)
}

// AnswerFrames is SendFrames for frames that complete the client's
// connection (its first lists), which it waits for: they are written
// like the CONNECT answer (engineio.Session.SendAnswer).
func (s *Socket) AnswerFrames(frames []*engineio.Frame) error {
	return s.sendFrames(frames, (*engineio.Session).SendAnswer)
}

// sendFrames is SendFrames, queuing with how (a Session method).
func (s *Socket) sendFrames(frames []*engineio.Frame, how sessionSend) error {
	if s.gone.Load() {
		return ErrSocketClosed
	}
	if err := s.deliverAs(frames, how); err != nil {
		return fmt.Errorf("send to socket %s: %w", s.id, err)
	}
	s.nsp.srv.packetsOut.Add(1)
	return nil
}

// EmitWithAck sends an event and asks the client to acknowledge it; cb runs
// once, with the ack, or with ErrAckTimeout after timeout (0 means the
// server's AckTimeout), or ErrSocketClosed. cb must not block.
func (s *Socket) EmitWithAck(event string, timeout time.Duration, cb AckCallback, args ...any) error {
	data, atts, err := siocodec.EncodeEvent(event, args...)
	if err != nil {
		return fmt.Errorf("emit %q: %w", event, err)
	}
	if timeout <= 0 {
		timeout = s.nsp.srv.cfg.AckTimeout
	}
	s.mu.Lock()
	if s.gone.Load() {
		s.mu.Unlock()
		return ErrSocketClosed
	}
	if len(s.acks) >= s.nsp.srv.cfg.MaxPendingAcks {
		s.mu.Unlock()
		return ErrTooManyAcks
	}
	id := s.nextAck
	s.nextAck++
	if s.acks == nil {
		s.acks = make(map[int64]*pendingAck)
	}
	pa := &pendingAck{cb: cb}
	s.acks[id] = pa
	pa.timer = time.AfterFunc(timeout, func() {
		if s.takeAck(id) != nil {
			cb(nil, nil, ErrAckTimeout)
		}
	})
	s.mu.Unlock()
	if err := s.send(&siocodec.Packet{Type: siocodec.Event, Namespace: s.nsp.name, ID: id, Data: data, Attachments: atts}); err != nil {
		if s.takeAck(id) != nil {
			pa.timer.Stop()
		}
		return err
	}
	return nil
}

func (s *Socket) takeAck(id int64) *pendingAck {
	s.mu.Lock()
	defer s.mu.Unlock()
	pa := s.acks[id]
	delete(s.acks, id)
	return pa
}

func (s *Socket) onAck(p *siocodec.Packet) {
	pa := s.takeAck(p.ID)
	if pa == nil {
		return // late or unknown ack
	}
	pa.timer.Stop()
	args, err := siocodec.SplitArgs(p.Data)
	pa.cb(args, p.Attachments, err)
}

func (s *Socket) onEvent(p *siocodec.Packet) {
	args, err := siocodec.SplitArgs(p.Data)
	if err != nil || len(args) == 0 {
		s.conn.sess.CloseWithReason(engineio.ErrParse)
		return
	}
	var name string
	if err := json.Unmarshal(args[0], &name); err != nil {
		// A numeric event name is valid on the wire; no handler can match.
		return
	}
	h := s.nsp.handler(name)
	if h == nil {
		return
	}
	h(s, &Incoming{Name: name, Args: args[1:], Attachments: p.Attachments, sock: s, ackID: p.ID})
}

// send encodes p once and queues it.
func (s *Socket) send(p *siocodec.Packet) error { return s.queue(p, false) }

// reply is send for a reply the client waits for (an ack): the session
// is written ahead of those with only broadcasts waiting
// (engineio.Session.SendReply).
func (s *Socket) reply(p *siocodec.Packet) error { return s.queue(p, true) }

func (s *Socket) queue(p *siocodec.Packet, reply bool) error {
	if s.gone.Load() {
		return ErrSocketClosed
	}
	how := (*engineio.Session).Send
	if reply {
		how = (*engineio.Session).SendReply
	}
	if err := s.deliverAs(packetFrames(p), how); err != nil {
		return fmt.Errorf("send to socket %s: %w", s.id, err)
	}
	s.nsp.srv.packetsOut.Add(1)
	return nil
}

// deliver queues frames on the session, or holds them while the CONNECT
// reply is not queued yet (release sends them after it, in order).
func (s *Socket) deliver(frames []*engineio.Frame) error {
	return s.deliverAs(frames, (*engineio.Session).Send)
}

// sessionSend is how frames are queued on the session: its Send,
// SendReply (an ack) or SendAnswer (what completes the connection).
type sessionSend func(*engineio.Session, ...*engineio.Frame) error

// deliverAs is deliver, queuing with how.
func (s *Socket) deliverAs(frames []*engineio.Frame, how sessionSend) error {
	if !s.open.Load() {
		s.mu.Lock()
		if !s.open.Load() {
			if len(s.held) >= maxHeld {
				s.mu.Unlock()
				s.conn.sess.CloseWithReason(engineio.ErrSlowConsumer)
				return engineio.ErrSlowConsumer
			}
			s.held = append(s.held, frames)
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
	}
	return how(s.conn.sess, frames...)
}

// release runs once the CONNECT reply is queued: it sends what was held,
// in order (packets held meanwhile included), then lets sends through.
// Each round takes the held packets under the lock and sends them after
// releasing it.
func (s *Socket) release() {
	for {
		s.mu.Lock()
		batch := s.held
		s.held = nil
		if len(batch) == 0 {
			s.open.Store(true)
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		for _, frames := range batch {
			if err := s.conn.sess.Send(frames...); err != nil {
				// The session is closed: nothing later can be sent either.
				s.mu.Lock()
				s.held = nil
				s.open.Store(true)
				s.mu.Unlock()
				return
			}
		}
	}
}

// Join adds the socket to room (local to this node).
func (s *Socket) Join(room string) {
	s.mu.Lock()
	if s.gone.Load() {
		s.mu.Unlock()
		return
	}
	added := s.rooms.add(room)
	s.mu.Unlock()
	if added {
		s.nsp.rooms.add(room, s)
	}
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) {
	s.mu.Lock()
	had := s.rooms.remove(room)
	s.mu.Unlock()
	if had {
		s.nsp.rooms.remove(room, s)
	}
}

// Rooms lists the rooms the socket is in.
func (s *Socket) Rooms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms.appendTo(make([]string, 0, s.rooms.len()))
}

// Disconnect disconnects the socket from its namespace: the client gets a
// DISCONNECT packet (it will not reconnect by itself); the Engine.IO
// connection stays open for other namespaces.
func (s *Socket) Disconnect() {
	if s.gone.Load() {
		return
	}
	_ = s.send(&siocodec.Packet{Type: siocodec.Disconnect, Namespace: s.nsp.name, ID: siocodec.NoID})
	s.conn.detach(s)
	s.nsp.remove(s, ReasonServerNamespace)
}

// CloseConnection closes the socket's whole Engine.IO connection; the
// client may reconnect.
func (s *Socket) CloseConnection() { s.conn.sess.CloseWithReason(ErrForcedClose) }

// teardown leaves every room and fails pending acks; it runs once.
func (s *Socket) teardown(reason string) bool {
	if !s.gone.CompareAndSwap(false, true) {
		return false
	}
	s.mu.Lock()
	rooms := s.rooms.appendTo(nil)
	acks := s.acks
	s.rooms, s.acks = roomNames{}, nil
	s.mu.Unlock()
	for _, r := range rooms {
		s.nsp.rooms.remove(r, s)
	}
	for _, pa := range acks {
		pa.timer.Stop()
		pa.cb(nil, nil, ErrSocketClosed)
	}
	s.end(fmt.Errorf("%w: %s", ErrSocketClosed, reason))
	return true
}

// Incoming is one event received from a client.
type Incoming struct {
	Name string
	// Args are the arguments after the name, raw JSON; in binary events
	// they hold placeholders for Attachments.
	Args        []json.RawMessage
	Attachments [][]byte
	sock        *Socket
	ackID       int64
	acked       atomic.Bool
}

// Socket is the socket the event came from.
func (e *Incoming) Socket() *Socket { return e.sock }

// WantsAck reports whether the client asked for an acknowledgement.
func (e *Incoming) WantsAck() bool { return e.ackID >= 0 }

// Arg decodes argument i into v.
func (e *Incoming) Arg(i int, v any) error {
	if i >= len(e.Args) {
		return fmt.Errorf("argument %d: missing", i)
	}
	if err := json.Unmarshal(e.Args[i], v); err != nil {
		return fmt.Errorf("argument %d: %w", i, err)
	}
	return nil
}

// Binary returns the attachment argument i stands for, if it is one.
func (e *Incoming) Binary(i int) ([]byte, bool) {
	if i >= len(e.Args) {
		return nil, false
	}
	return siocodec.ResolvePlaceholder(e.Args[i], e.Attachments)
}

// Ack acknowledges the event with args (encoded as for Emit). It fails
// with ErrNoAck if none was requested and ErrAckSent the second time.
func (e *Incoming) Ack(args ...any) error {
	data, atts, err := siocodec.EncodeAckArgs(args...)
	if err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	return e.ack(data, atts)
}

// AckRaw acknowledges with arguments that are already JSON.
func (e *Incoming) AckRaw(args []json.RawMessage, attachments [][]byte) error {
	return e.ack(rawArray(nil, args), attachments)
}

func (e *Incoming) ack(data json.RawMessage, atts [][]byte) error {
	if e.ackID < 0 {
		return ErrNoAck
	}
	if !e.acked.CompareAndSwap(false, true) {
		return ErrAckSent
	}
	return e.sock.reply(&siocodec.Packet{Type: siocodec.Ack, Namespace: e.sock.nsp.name, ID: e.ackID, Data: data, Attachments: atts})
}

// rawArray joins first (if any) and args into a JSON array.
func rawArray(first json.RawMessage, args []json.RawMessage) json.RawMessage {
	n := 2 + len(first)
	for _, a := range args {
		n += len(a) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	b = append(b, first...)
	for i, a := range args {
		if i > 0 || len(first) > 0 {
			b = append(b, ',')
		}
		b = append(b, a...)
	}
	return append(b, ']')
}

// scratch holds encode buffers; frames copy what they need.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// packetFrames encodes p once: its text frame, then one frame per
// attachment.
func packetFrames(p *siocodec.Packet) []*engineio.Frame {
	bp := scratch.Get().(*[]byte)
	b := siocodec.AppendPacket((*bp)[:0], p)
	frames := make([]*engineio.Frame, 1+len(p.Attachments))
	frames[0] = eiocodec.NewMessageFrame(b)
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		scratch.Put(bp)
	}
	for i, a := range p.Attachments {
		frames[i+1] = eiocodec.NewBinaryFrame(a)
	}
	return frames
}
