package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/engineio"
	"github.com/chatrooms/chatrooms/internal/socketio"
)

// The room and user lists reach clients in one of two ways, chosen by
// the "lists" member of the auth payload (docs/protocol.md):
//
//   - "full" (the default): room_list_changed / user_list_changed with the
//     whole list, coalesced. The interval between two of them grows with
//     their size, so that such a client is sent at most ListBudget bytes
//     of lists a second.
//   - "delta": the whole lists once on connect (event "lists", with a
//     version per list), then room_list_delta / user_list_delta with what
//     changed ({version, upsert, remove}); get_lists asks for the whole
//     lists again (after a gap in the versions).
//
// Both are made on the one goroutine of Gateway.Run from one snapshot of
// each list, which it diffs against the service's current lists: a delta
// client's events are all queued by that goroutine, so they reach it in
// version order and after its "lists".

// Socket.IO rooms of the sockets by list mode (local to this node).
const (
	listsFullRoom  = "lists:full"
	listsDeltaRoom = "lists:delta"
)

// ListBudget is the most bytes of coalesced list broadcasts one client
// is sent a second (in the long run: one broadcast may be bigger, and
// the next one waits for as long as it took the budget).
const ListBudget = 64 << 10

// listSnapshot is one list as last broadcast: its items encoded, by id,
// in the service's order.
type listSnapshot struct {
	version uint64
	ids     []string
	items   map[string]json.RawMessage
	full    json.RawMessage // the whole list encoded, made when first needed
}

// listDelta is a user_list_delta / room_list_delta payload.
type listDelta struct {
	Version uint64            `json:"version"`
	Upsert  []json.RawMessage `json:"upsert"`
	Remove  []string          `json:"remove"`
}

// encodeItems encodes each item of a list with its id.
func encodeItems[T any](list []T, id func(*T) string) ([]string, map[string]json.RawMessage, error) {
	ids := make([]string, len(list))
	items := make(map[string]json.RawMessage, len(list))
	for i := range list {
		b, err := json.Marshal(&list[i])
		if err != nil {
			return nil, nil, err
		}
		ids[i] = id(&list[i])
		items[ids[i]] = b
	}
	return ids, items, nil
}

// update makes ids/items the snapshot and returns what changed from the
// previous one, or nil if nothing did (the version stays then). A change
// of order alone is no change: clients order the lists themselves.
func (l *listSnapshot) update(ids []string, items map[string]json.RawMessage) *listDelta {
	d := &listDelta{Upsert: []json.RawMessage{}, Remove: []string{}}
	for _, id := range ids {
		if old, ok := l.items[id]; !ok || !bytes.Equal(old, items[id]) {
			d.Upsert = append(d.Upsert, items[id])
		}
	}
	for _, id := range l.ids {
		if _, ok := items[id]; !ok {
			d.Remove = append(d.Remove, id)
		}
	}
	reordered := !slices.Equal(l.ids, ids)
	l.ids, l.items = ids, items
	if len(d.Upsert) == 0 && len(d.Remove) == 0 {
		if reordered {
			l.full = nil
		}
		return nil
	}
	l.full = nil
	l.version++
	d.Version = l.version
	return d
}

// encoded returns the whole list as a JSON array.
func (l *listSnapshot) encoded() json.RawMessage {
	if l.full != nil {
		return l.full
	}
	n := 2
	for _, b := range l.items {
		n += len(b) + 1
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '[')
	for i, id := range l.ids {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, l.items[id]...)
	}
	l.full = append(buf, ']')
	return l.full
}

// lists are the two snapshots, owned by Gateway.Run.
type lists struct {
	users, rooms listSnapshot
	// frames is the "lists" event of the current snapshots, encoded once
	// for every delta socket that connects until a list changes (nil:
	// not made yet). A user list of thousands is hundreds of KB: encoded
	// per socket, a crowd connecting made that much garbage each.
	frames []*engineio.Frame
	// fullFrames: likewise room_list_changed and user_list_changed, the
	// first lists of a full-mode socket.
	fullFrames []*engineio.Frame
}

// whole encodes both lists with their versions, as the "lists" event
// and the get_lists ack carry them (ok: with "ok": true first).
func (ls *lists) whole(ok bool) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	if ok {
		b.WriteString(`"ok":true,`)
	}
	b.WriteString(`"users":`)
	b.Write(ls.users.encoded())
	b.WriteString(`,"users_version":`)
	b.WriteString(strconv.FormatUint(ls.users.version, 10))
	b.WriteString(`,"rooms":`)
	b.Write(ls.rooms.encoded())
	b.WriteString(`,"rooms_version":`)
	b.WriteString(strconv.FormatUint(ls.rooms.version, 10))
	b.WriteByte('}')
	return b.Bytes()
}

// refresh diffs the service's current lists (those marked changed)
// against the snapshots and returns the deltas (nil where nothing
// changed).
func (ls *lists) refresh(svc Service, users, rooms bool) (du, dr *listDelta, err error) {
	if rooms {
		ids, items, err := encodeItems(svc.Rooms(), func(r *chat.Room) string { return r.ID })
		if err != nil {
			return nil, nil, fmt.Errorf("encode rooms: %w", err)
		}
		dr = ls.rooms.update(ids, items)
	}
	defer func() {
		if du != nil || dr != nil || ls.users.full == nil || ls.rooms.full == nil {
			ls.frames, ls.fullFrames = nil, nil // the lists changed
		}
	}()
	if users {
		ids, items, err := encodeItems(svc.Users(), func(u *chat.User) string { return u.ID })
		if err != nil {
			return nil, nil, fmt.Errorf("encode users: %w", err)
		}
		du = ls.users.update(ids, items)
	}
	return du, dr, nil
}

// listRequest asks Run for the whole lists: a delta socket's first ones
// (e nil; done is closed once they are queued and the socket gets the
// deltas after them), or a get_lists (answered on e's ack).
type listRequest struct {
	s    *socketio.Socket
	e    *socketio.Incoming
	full bool // a full-mode socket's first lists (room_list_changed, user_list_changed)
	done chan struct{}
}

// serve answers a listRequest from the snapshots. A socket's first lists
// complete its connection (Socket.AnswerFrames): its client waits for
// them to show anything.
func (g *Gateway) serve(ls *lists, r listRequest) {
	if r.e != nil {
		if r.e.WantsAck() {
			_ = r.e.AckRaw([]json.RawMessage{ls.whole(true)}, nil)
		}
		return
	}
	if r.full {
		if g.usersDirty.Load() || g.roomsDirty.Load() {
			// The snapshots are behind (the socket's own arrival, often):
			// a full-mode client has no version to catch up from, so it
			// gets the lists as they are now.
			_ = r.s.AnswerFrames(append(g.nsp.EventFrames("room_list_changed", mustJSON(g.svc.Rooms())),
				g.nsp.EventFrames("user_list_changed", mustJSON(g.svc.Users()))...))
			r.s.Join(listsFullRoom)
			close(r.done)
			return
		}
		if ls.fullFrames == nil {
			ls.fullFrames = append(g.nsp.EventFrames("room_list_changed", ls.rooms.encoded()),
				g.nsp.EventFrames("user_list_changed", ls.users.encoded())...)
		}
		_ = r.s.AnswerFrames(ls.fullFrames)
		r.s.Join(listsFullRoom)
		close(r.done)
		return
	}
	if ls.frames == nil {
		ls.frames = g.nsp.EventFrames("lists", ls.whole(false))
	}
	_ = r.s.AnswerFrames(ls.frames)
	r.s.Join(listsDeltaRoom)
	close(r.done)
}

// sendInitialLists has Run send a socket its first lists (whole lists in
// full mode, "lists" in delta mode) from the snapshots, and waits until
// they are queued: the socket then gets every later broadcast after them.
func (g *Gateway) sendInitialLists(ctx context.Context, s *socketio.Socket, delta bool) {
	r := listRequest{s: s, full: !delta, done: make(chan struct{})}
	select {
	case g.listReqs <- r:
	case <-ctx.Done():
		return
	}
	select {
	case <-r.done:
	case <-ctx.Done():
	}
}

// onGetLists answers get_lists with both whole lists and their versions.
func (g *Gateway) onGetLists(s *socketio.Socket, e *socketio.Incoming) {
	if ok, wait := g.listsLimits.Allow(userOf(s)); !ok {
		g.refuse(e, "get_lists", "you are asking for the lists too often", wait)
		return
	}
	ctx, cancel := g.call(s)
	defer cancel()
	select {
	case g.listReqs <- listRequest{s: s, e: e}:
	case <-ctx.Done():
		g.reply(e, "", nil, fmt.Errorf("get lists: %w", ctx.Err()))
	}
}

// budgetWait is how long after a broadcast of n bytes the next one of
// its kind waits: the coalescing interval, or longer for big lists.
func (g *Gateway) budgetWait(n int) time.Duration {
	return max(g.cfg.ListInterval, time.Duration(n)*time.Second/ListBudget)
}

// Run broadcasts the lists when they change until ctx ends: deltas at
// most once per ListInterval, whole lists to full-mode clients at most
// once per ListInterval or per the time their size takes of ListBudget;
// and answers the requests for whole lists.
func (g *Gateway) Run(ctx context.Context) {
	var ls lists
	if _, _, err := ls.refresh(g.svc, true, true); err != nil {
		g.log.Error("lists", "err", err)
	}
	var (
		deltaOwed          bool // a change is not diffed yet
		fullUsers, fullRms bool // a change is not sent to full-mode clients yet
		deltaAt, fullAt    time.Time
		timer              = time.NewTimer(time.Hour)
	)
	defer timer.Stop()
	for {
		var next time.Time
		if deltaOwed {
			next = deltaAt
		}
		if (fullUsers || fullRms) && (next.IsZero() || fullAt.Before(next)) {
			next = fullAt
		}
		var wake <-chan time.Time
		if !next.IsZero() {
			timer.Reset(time.Until(next))
			wake = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case <-g.kick:
			deltaOwed = true
		case r := <-g.listReqs:
			g.serve(&ls, r)
		case <-wake:
		}
		if wake != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		now := time.Now()
		if deltaOwed && !now.Before(deltaAt) {
			deltaOwed = false
			du, dr, err := ls.refresh(g.svc, g.usersDirty.Swap(false), g.roomsDirty.Swap(false))
			if err != nil {
				g.log.Error("lists", "err", err)
			}
			sent := 0
			if dr != nil {
				fullRms = true
				sent += g.broadcastDelta("room_list_delta", dr)
			}
			if du != nil {
				fullUsers = true
				sent += g.broadcastDelta("user_list_delta", du)
			}
			deltaAt = now.Add(g.budgetWait(sent))
		}
		if (fullUsers || fullRms) && !now.Before(fullAt) {
			sent := 0
			if g.nsp.RoomSize(listsFullRoom) > 0 {
				if fullRms {
					sent += g.broadcastRaw("room_list_changed", ls.rooms.encoded())
				}
				if fullUsers {
					sent += g.broadcastRaw("user_list_changed", ls.users.encoded())
				}
			}
			fullUsers, fullRms = false, false
			fullAt = now.Add(g.budgetWait(sent))
		}
	}
}

// broadcastDelta sends d to the delta-mode sockets and returns its size
// (0 when there are none).
func (g *Gateway) broadcastDelta(event string, d *listDelta) int {
	if g.nsp.RoomSize(listsDeltaRoom) == 0 {
		return 0
	}
	b, err := json.Marshal(d)
	if err != nil {
		g.log.Error("encode list delta", "err", err)
		return 0
	}
	g.nsp.To(listsDeltaRoom).EmitRaw(event, []json.RawMessage{b}, nil)
	return len(b)
}

// broadcastRaw sends a whole list to the full-mode sockets and returns
// its size.
func (g *Gateway) broadcastRaw(event string, list json.RawMessage) int {
	g.nsp.To(listsFullRoom).EmitRaw(event, []json.RawMessage{list}, nil)
	return len(list)
}
