package sioclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/chatrooms/chatrooms/internal/eiocodec"
	"github.com/chatrooms/chatrooms/internal/siocodec"
)

// Defaults for the zero fields of Options.
const (
	DefaultPath         = "/socket.io/"
	DefaultDialTimeout  = 10 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultEventBuffer  = 1024
	DefaultMaxMessage   = 16 << 20
)

// Options configures Dial. The zero value connects to namespace "/" at
// DefaultPath without auth. Options is a plain value, safe to copy.
type Options struct {
	// Path is the Socket.IO endpoint path (default "/socket.io/").
	Path string
	// Namespace is the namespace to connect to (default "/").
	Namespace string
	// Auth is the CONNECT payload (the JavaScript client's auth option). It
	// must encode to a JSON object; a json.RawMessage is sent verbatim; nil
	// sends none (the server then sees {}).
	Auth any
	// Header is added to the WebSocket upgrade request.
	Header http.Header
	// Query is added to the endpoint's query string (EIO and transport are
	// set by Dial).
	Query url.Values
	// DialTimeout bounds the whole of Dial: TCP connect, WebSocket upgrade,
	// Engine.IO open and Socket.IO CONNECT (default 10s).
	DialTimeout time.Duration
	// WriteTimeout bounds each write to the connection (default 10s); a
	// write that times out closes the Client.
	WriteTimeout time.Duration
	// EventBuffer is how many received events the inbox holds until Next or
	// Events takes them (default 1024). One more closes the Client with
	// ErrEventOverflow.
	EventBuffer int
	// MaxMessage caps one received message, text or binary (default 16 MiB).
	MaxMessage int64
	// NetDial, if set, opens the TCP connection, e.g. with a
	// net.Dialer.LocalAddr to spread many clients over source addresses.
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (o *Options) setDefaults() {
	if o.Path == "" {
		o.Path = DefaultPath
	}
	if o.Namespace == "" {
		o.Namespace = "/"
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.EventBuffer <= 0 {
		o.EventBuffer = DefaultEventBuffer
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = DefaultMaxMessage
	}
}

// Client is one Socket.IO connection to one namespace. All its methods are
// safe for concurrent use. Writes are serialised by a mutex and bounded by
// Options.WriteTimeout; one reader goroutine handles everything received.
// A Client must be closed with Close to release its goroutines.
type Client struct {
	opts     Options
	conn     net.Conn
	rd       *bufio.Reader
	id       string // socket id from the CONNECT reply
	sid      string // Engine.IO session id
	pingWait time.Duration

	wmu  sync.Mutex
	wbuf []byte // frames being written; guarded by wmu
	pbuf []byte // one packet being encoded; guarded by wmu

	amu     sync.Mutex
	acks    map[int64]chan Ack
	nextAck int64

	in inbox

	closing    atomic.Bool
	err        error         // close reason, written before done is closed
	done       chan struct{} // closed when the Client is closed
	readerDone chan struct{} // closed when the reader goroutine has ended
	userClosed chan struct{} // closed by Close, ends the Events pump
	closeOnce  sync.Once

	eventsOnce sync.Once
	events     chan Event
}

// Dial connects to the Socket.IO server at baseURL (http://, https://,
// ws:// or wss://host[:port], optionally with a path prefix) over
// WebSocket and joins opts.Namespace. It returns once the server has
// accepted the namespace, or a *ConnectError if it refused it. ctx and
// opts.DialTimeout bound the whole handshake; ctx does not outlive Dial.
func Dial(ctx context.Context, baseURL string, opts Options) (c *Client, err error) {
	opts.setDefaults()
	defer func() {
		var ce *ConnectError
		if err != nil && !errors.As(err, &ce) {
			err = fmt.Errorf("sioclient: dial %s: %w", baseURL, err)
		}
	}()
	u, err := endpoint(baseURL, opts)
	if err != nil {
		return nil, err
	}
	auth, err := encodeAuth(opts.Auth)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()

	var status []byte
	d := ws.Dialer{
		Header:  ws.HandshakeHeaderHTTP(opts.Header),
		NetDial: opts.NetDial,
		OnStatusError: func(code int, reason []byte, resp io.Reader) {
			status = fmt.Appendf(nil, "%d %s", code, reason)
			r, err := http.ReadResponse(bufio.NewReader(resp), nil)
			if err != nil {
				return
			}
			defer r.Body.Close()
			if r.ContentLength >= 0 && r.ContentLength <= 512 { // never wait for an unbounded body
				body, _ := io.ReadAll(r.Body)
				status = fmt.Appendf(status, ": %s", bytes.TrimSpace(body))
			}
		},
	}
	conn, br, _, err := d.Dial(ctx, u)
	if err != nil {
		if status != nil {
			return nil, fmt.Errorf("websocket upgrade: %w (%s)", err, status)
		}
		return nil, fmt.Errorf("websocket upgrade: %w", err)
	}
	if br == nil {
		br = bufio.NewReaderSize(conn, 4096)
	}
	c = &Client{
		opts:       opts,
		conn:       conn,
		rd:         br,
		acks:       make(map[int64]chan Ack),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
		userClosed: make(chan struct{}),
	}
	c.in.init(opts.EventBuffer)

	// The handshake runs on this goroutine; ctx's end interrupts it through
	// the connection's deadline.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	err = c.handshake(auth)
	if !stop() || err != nil {
		_ = conn.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("handshake: %w", context.Cause(ctx))
		}
		return nil, err
	}
	_ = conn.SetWriteDeadline(time.Time{})
	_ = conn.SetReadDeadline(time.Now().Add(c.pingWait))
	go c.readLoop()
	return c, nil
}

// endpoint builds the WebSocket URL of the Socket.IO endpoint.
func endpoint(baseURL string, opts Options) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", fmt.Errorf("parse url: %w", err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("url scheme %q: want http, https, ws or wss", u.Scheme)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + strings.TrimPrefix(opts.Path, "/")
	q := url.Values{}
	for k, v := range opts.Query {
		q[k] = v
	}
	q.Set("EIO", "4")
	q.Set("transport", "websocket")
	u.RawQuery = q.Encode()
	u.Fragment = ""
	return u.String(), nil
}

func encodeAuth(a any) (json.RawMessage, error) {
	if a == nil {
		return nil, nil
	}
	b, ok := a.(json.RawMessage)
	if !ok {
		var err error
		if b, err = json.Marshal(a); err != nil {
			return nil, fmt.Errorf("encode auth: %w", err)
		}
	}
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return nil, errors.New("encode auth: must be a JSON object")
	}
	return b, nil
}

// openPacket is the Engine.IO handshake data.
type openPacket struct {
	SID          string `json:"sid"`
	PingInterval int64  `json:"pingInterval"`
	PingTimeout  int64  `json:"pingTimeout"`
	MaxPayload   int64  `json:"maxPayload"`
}

// handshake reads the Engine.IO open packet, sends the namespace CONNECT
// and waits for its answer, answering pings meanwhile.
func (c *Client) handshake(auth json.RawMessage) error {
	op, msg, err := c.readMessage()
	if err != nil {
		return fmt.Errorf("read engine.io open: %w", err)
	}
	pkt, err := eiocodec.DecodePacket(msg)
	if op != ws.OpText || err != nil || pkt.Type != eiocodec.Open || len(pkt.Data) == 0 {
		return fmt.Errorf("%w: expected engine.io open packet, got %.64q", ErrProtocol, msg)
	}
	var open openPacket
	if err := json.Unmarshal(pkt.Data, &open); err != nil || open.SID == "" || open.PingInterval <= 0 || open.PingTimeout <= 0 {
		return fmt.Errorf("%w: bad engine.io open packet %.128q", ErrProtocol, msg)
	}
	c.sid = open.SID
	c.pingWait = time.Duration(open.PingInterval+open.PingTimeout) * time.Millisecond

	if err := c.writePacket(&siocodec.Packet{Type: siocodec.Connect, Namespace: c.opts.Namespace, ID: siocodec.NoID, Data: auth}); err != nil {
		return fmt.Errorf("send connect: %w", err)
	}
	for {
		op, msg, err := c.readMessage()
		if err != nil {
			return fmt.Errorf("await connect: %w", err)
		}
		if op != ws.OpText || len(msg) == 0 {
			return fmt.Errorf("%w: unexpected binary message before connect", ErrProtocol)
		}
		pkt, err := eiocodec.DecodePacket(msg)
		if err != nil {
			continue // harmless before connect, as before
		}
		switch pkt.Type {
		case eiocodec.Ping:
			if err := c.writeEngineIO(eiocodec.Pong); err != nil {
				return fmt.Errorf("send pong: %w", err)
			}
			continue
		case eiocodec.Close:
			return fmt.Errorf("%w: engine.io close packet before connect", ErrTransportClose)
		case eiocodec.Message:
		default:
			continue // noop and anything else harmless
		}
		p, err := siocodec.ParsePacket(pkt.Data, siocodec.DecoderOptions{})
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if p.Namespace != c.opts.Namespace {
			continue
		}
		switch p.Type {
		case siocodec.Connect:
			var r struct {
				SID string `json:"sid"`
			}
			if err := json.Unmarshal(p.Data, &r); err != nil || r.SID == "" {
				return fmt.Errorf("%w: bad connect reply %.128q", ErrProtocol, msg)
			}
			c.id = r.SID
			return nil
		case siocodec.ConnectError:
			return connectError(p.Data)
		default:
			return fmt.Errorf("%w: unexpected %s before connect", ErrProtocol, p.Type)
		}
	}
}

// connectError decodes a CONNECT_ERROR payload: an object with message and
// data, or (older servers) a bare string.
func connectError(data json.RawMessage) error {
	ce := &ConnectError{}
	if len(data) > 0 && data[0] == '"' {
		_ = json.Unmarshal(data, &ce.Message)
		return ce
	}
	var v struct {
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("%w: bad connect error %.128q", ErrProtocol, data)
	}
	ce.Message, ce.Data = v.Message, v.Data
	return ce
}

// ID is the socket id the server assigned in its CONNECT reply.
func (c *Client) ID() string { return c.id }

// SessionID is the Engine.IO session id.
func (c *Client) SessionID() string { return c.sid }

// Namespace is the namespace the Client is connected to.
func (c *Client) Namespace() string { return c.opts.Namespace }

// Done is closed when the Client has closed; Err then tells why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the Client closed (ErrClosed after Close, a
// *CloseError or other ErrTransportClose, ErrServerDisconnect,
// ErrPingTimeout, ErrEventOverflow, ...), or nil while it is open.
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close sends a Socket.IO DISCONNECT and a WebSocket close frame (each
// bounded to one second), closes the connection and waits for the reader
// goroutine to end. Events already received stay readable with Next. It
// returns nil; calling it again does nothing.
func (c *Client) Close() error {
	c.closeOnce.Do(func() { close(c.userClosed) })
	c.shutdown(ErrClosed, true)
	<-c.readerDone
	return nil
}

// shutdown closes the Client for reason, once. With farewell it first
// tells the server, as the JavaScript client's disconnect() does.
func (c *Client) shutdown(reason error, farewell bool) {
	if !c.closing.CompareAndSwap(false, true) {
		return
	}
	if farewell {
		c.wmu.Lock()
		c.pbuf = siocodec.AppendPacket(eiocodec.AppendPacket(c.pbuf[:0], eiocodec.Message, nil), &siocodec.Packet{Type: siocodec.Disconnect, Namespace: c.opts.Namespace, ID: siocodec.NoID})
		c.wbuf = eiocodec.AppendClientFrame(c.wbuf[:0], ws.OpText, c.pbuf)
		c.wbuf = eiocodec.AppendClientFrame(c.wbuf, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
		_ = c.conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.conn.Write(c.wbuf)
		c.wmu.Unlock()
	}
	c.err = reason
	close(c.done)
	_ = c.conn.Close()
	c.in.wake()
}

// Emit sends an event. []byte arguments, also inside []any and
// map[string]any, travel as binary attachments; a json.RawMessage is sent
// verbatim; anything else is encoded as JSON.
func (c *Client) Emit(event string, args ...any) error {
	data, atts, err := siocodec.EncodeEvent(event, args...)
	if err != nil {
		return fmt.Errorf("sioclient: emit %q: %w", event, err)
	}
	if err := c.send(&siocodec.Packet{Type: siocodec.Event, Namespace: c.opts.Namespace, ID: siocodec.NoID, Data: data, Attachments: atts}); err != nil {
		return fmt.Errorf("sioclient: emit %q: %w", event, err)
	}
	return nil
}

// EmitWithAck sends an event asking for an acknowledgement and blocks
// until the server acks it, ctx ends, or the Client closes.
func (c *Client) EmitWithAck(ctx context.Context, event string, args ...any) (Ack, error) {
	data, atts, err := siocodec.EncodeEvent(event, args...)
	if err != nil {
		return Ack{}, fmt.Errorf("sioclient: emit %q: %w", event, err)
	}
	ch := make(chan Ack, 1)
	c.amu.Lock()
	id := c.nextAck
	c.nextAck++
	c.acks[id] = ch
	c.amu.Unlock()
	forget := func() {
		c.amu.Lock()
		delete(c.acks, id)
		c.amu.Unlock()
	}
	if err := c.send(&siocodec.Packet{Type: siocodec.Event, Namespace: c.opts.Namespace, ID: id, Data: data, Attachments: atts}); err != nil {
		forget()
		return Ack{}, fmt.Errorf("sioclient: emit %q: %w", event, err)
	}
	select {
	case a := <-ch:
		return a, nil
	case <-ctx.Done():
		forget()
		return Ack{}, fmt.Errorf("sioclient: await ack of %q: %w", event, context.Cause(ctx))
	case <-c.done:
		forget()
		return Ack{}, fmt.Errorf("sioclient: await ack of %q: %w", event, c.err)
	}
}

// send writes p unless the Client is closed.
func (c *Client) send(p *siocodec.Packet) error {
	select {
	case <-c.done:
		return c.err
	default:
	}
	err := c.writePacket(p)
	if err != nil {
		c.shutdown(fmt.Errorf("%w: write: %w", ErrTransportClose, err), false)
	}
	return err
}

// writePacket writes p as a text frame followed by one binary frame per
// attachment, in one write so that concurrent packets never interleave.
func (c *Client) writePacket(p *siocodec.Packet) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.pbuf = siocodec.AppendPacket(eiocodec.AppendPacket(c.pbuf[:0], eiocodec.Message, nil), p)
	c.wbuf = eiocodec.AppendClientFrame(c.wbuf[:0], ws.OpText, c.pbuf)
	for _, a := range p.Attachments {
		c.wbuf = eiocodec.AppendClientFrame(c.wbuf, ws.OpBinary, a)
	}
	return c.flushLocked()
}

// writeEngineIO writes one Engine.IO packet of type t without data.
func (c *Client) writeEngineIO(t eiocodec.PacketType) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.pbuf = eiocodec.AppendPacket(c.pbuf[:0], t, nil)
	c.wbuf = eiocodec.AppendClientFrame(c.wbuf[:0], ws.OpText, c.pbuf)
	return c.flushLocked()
}

// writeControl writes one WebSocket control frame.
func (c *Client) writeControl(op ws.OpCode, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = eiocodec.AppendClientFrame(c.wbuf[:0], op, payload)
	return c.flushLocked()
}

// flushLocked writes wbuf; c.wmu is held. Big buffers are not kept.
func (c *Client) flushLocked() error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	_, err := c.conn.Write(c.wbuf)
	if cap(c.wbuf) > 64<<10 {
		c.wbuf = nil
	}
	if cap(c.pbuf) > 64<<10 {
		c.pbuf = nil
	}
	return err
}

// readLoop is the Client's only reader after Dial.
func (c *Client) readLoop() {
	defer close(c.readerDone)
	dec := siocodec.NewDecoder(siocodec.DecoderOptions{MaxAttachments: 64, MaxDepth: 64})
	for {
		op, msg, err := c.readMessage()
		if err == nil {
			err = c.handle(dec, op, msg)
		}
		if err != nil {
			c.shutdown(c.readErr(err), false)
			return
		}
	}
}

// readErr turns a read failure into a close reason.
func (c *Client) readErr(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, ErrTransportClose), errors.Is(err, ErrServerDisconnect),
		errors.Is(err, ErrEventOverflow), errors.Is(err, ErrProtocol),
		errors.Is(err, ErrMessageTooBig):
		return err
	case errors.As(err, &ne) && ne.Timeout():
		return ErrPingTimeout
	default:
		return fmt.Errorf("%w: read: %w", ErrTransportClose, err)
	}
}

// handle processes one WebSocket message.
func (c *Client) handle(dec *siocodec.Decoder, op ws.OpCode, msg []byte) error {
	if op == ws.OpBinary {
		p, err := dec.Add(msg, true)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if p != nil {
			return c.dispatch(p)
		}
		return nil
	}
	if len(msg) == 0 {
		return fmt.Errorf("%w: empty engine.io packet", ErrProtocol)
	}
	pkt, err := eiocodec.DecodePacket(msg)
	if err != nil {
		return fmt.Errorf("%w: unexpected engine.io packet %.32q", ErrProtocol, msg)
	}
	switch pkt.Type {
	case eiocodec.Ping: // answer, and expect the next one within pingWait
		_ = c.conn.SetReadDeadline(time.Now().Add(c.pingWait))
		if err := c.writeEngineIO(eiocodec.Pong); err != nil {
			return fmt.Errorf("%w: send pong: %w", ErrTransportClose, err)
		}
		return nil
	case eiocodec.Close:
		return fmt.Errorf("%w: engine.io close packet", ErrTransportClose)
	case eiocodec.Message:
		p, err := dec.Add(pkt.Data, false)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if p != nil {
			return c.dispatch(p)
		}
		return nil
	case eiocodec.Pong, eiocodec.Noop:
		return nil
	default:
		return fmt.Errorf("%w: unexpected engine.io packet %.32q", ErrProtocol, msg)
	}
}

// dispatch handles one complete Socket.IO packet on the reader goroutine.
func (c *Client) dispatch(p *siocodec.Packet) error {
	if p.Namespace != c.opts.Namespace {
		return nil
	}
	switch p.Type {
	case siocodec.Event, siocodec.BinaryEvent:
		args, err := siocodec.SplitArgs(p.Data)
		if err != nil || len(args) == 0 {
			return fmt.Errorf("%w: bad event payload", ErrProtocol)
		}
		name, err := siocodec.EventName(p.Data)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		e := Event{Name: name, Args: args[1:], Attachments: p.Attachments}
		if p.ID >= 0 {
			e.ack = &eventAck{c: c, id: p.ID}
		}
		if !c.in.push(e) {
			return fmt.Errorf("%w (%d events)", ErrEventOverflow, c.opts.EventBuffer)
		}
	case siocodec.Ack, siocodec.BinaryAck:
		args, err := siocodec.SplitArgs(p.Data)
		if err != nil {
			return fmt.Errorf("%w: bad ack payload", ErrProtocol)
		}
		c.amu.Lock()
		ch := c.acks[p.ID]
		delete(c.acks, p.ID)
		c.amu.Unlock()
		if ch != nil {
			ch <- Ack{Args: args, Attachments: p.Attachments} // buffered, never blocks
		}
	case siocodec.Disconnect:
		return ErrServerDisconnect
	case siocodec.ConnectError:
		return fmt.Errorf("%w: %w", ErrServerDisconnect, connectError(p.Data))
	}
	return nil
}

// readMessage returns the next data message (text or binary), answering
// WebSocket pings on the way. A close frame is echoed and returned as a
// *CloseError.
func (c *Client) readMessage() (ws.OpCode, []byte, error) {
	var (
		hdr  [ws.MaxHeaderSize]byte
		frag []byte
		fop  ws.OpCode
	)
	for {
		h, err := ws.ReadHeaderBuffer(c.rd, hdr[:0:len(hdr)])
		if err != nil {
			return 0, nil, err
		}
		state := ws.StateClientSide
		if frag != nil {
			state = state.Set(ws.StateFragmented)
		}
		if err := ws.CheckHeader(h, state); err != nil {
			return 0, nil, fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if h.Length > c.opts.MaxMessage || int64(len(frag))+h.Length > c.opts.MaxMessage {
			return 0, nil, fmt.Errorf("%w: more than %d bytes", ErrMessageTooBig, c.opts.MaxMessage)
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(c.rd, payload); err != nil {
			return 0, nil, err
		}
		switch h.OpCode {
		case ws.OpPing:
			if err := c.writeControl(ws.OpPong, payload); err != nil {
				return 0, nil, err
			}
		case ws.OpPong:
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(payload)
			_ = c.writeControl(ws.OpClose, ws.NewCloseFrameBody(code, ""))
			return 0, nil, &CloseError{Code: int(code), Reason: reason}
		case ws.OpContinuation:
			frag = append(frag, payload...)
			if h.Fin {
				return fop, frag, nil
			}
		default:
			if !h.Fin {
				frag, fop = payload, h.OpCode
				continue
			}
			return h.OpCode, payload, nil
		}
	}
}
