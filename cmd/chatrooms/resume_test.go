package main

import (
	"fmt"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/cluster"
	"github.com/chatrooms/chatrooms/internal/natstest"
	"github.com/chatrooms/chatrooms/internal/sioclient"
)

// recoveryEvent is the payload of "recovery".
type recoveryEvent struct {
	RoomID    string `json:"room_id"`
	Recovered bool   `json:"recovered"`
	Reason    string `json:"reason"`
}

// resume connects with token and a resume request and reads, in arrival
// order, up to the recovery event: the initial events must all come
// before it (list updates may come any time) and no chat_message.
func (s *server) resume(t *testing.T, token, room string, after uint64) (*sioclient.Client, recoveryEvent) {
	t.Helper()
	auth := map[string]any{"token": token, "resume": map[string]any{"room_id": room, "after_seq": after}}
	c, err := sioclient.Dial(ctxT(t), s.URL, sioclient.Options{Namespace: "/chat", Auth: auth})
	if err != nil {
		t.Fatalf("connect with resume: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	seen := map[string]bool{}
	for {
		ev, err := c.Next(ctxT(t), "")
		if err != nil {
			t.Fatalf("waiting for recovery: %v", err)
		}
		switch ev.Name {
		case "room_list_changed", "user_list_changed", "current_room_changed":
			seen[ev.Name] = true
		case "recovery":
			if len(seen) != 3 {
				t.Fatalf("recovery before the initial events (seen %v)", seen)
			}
			var rec recoveryEvent
			if err := ev.Arg(0, &rec); err != nil {
				t.Fatal(err)
			}
			return c, rec
		default:
			t.Fatalf("%s before recovery", ev.Name)
		}
	}
}

// nextChat is the next chat_message in arrival order (list updates and
// typing skipped; a current_room_changed fails).
func nextChat(t *testing.T, c *sioclient.Client) chat.Message {
	t.Helper()
	for {
		ev, err := c.Next(ctxT(t), "")
		if err != nil {
			t.Fatalf("waiting for chat_message: %v", err)
		}
		switch ev.Name {
		case "room_list_changed", "user_list_changed", "typing":
			continue
		case "chat_message":
			var m chat.Message
			if err := ev.Arg(0, &m); err != nil {
				t.Fatal(err)
			}
			return m
		default:
			t.Fatalf("got %s, want chat_message", ev.Name)
		}
	}
}

// expectSeqs reads chat_messages and checks their seqs, in order.
func expectSeqs(t *testing.T, c *sioclient.Client, want []uint64) {
	t.Helper()
	for i, seq := range want {
		if m := nextChat(t, c); m.Seq != seq {
			t.Fatalf("message %d: seq %d, want %d (all: %v)", i, m.Seq, seq, want)
		}
	}
}

func sendN(t *testing.T, m *member, n int) []uint64 {
	t.Helper()
	seqs := make([]uint64, n)
	for i := range seqs {
		seqs[i] = m.send(t, fmt.Sprintf("missed %d", i)).Seq
	}
	return seqs
}

// A blip: the socket drops, others send, the client reconnects with the
// last seq it saw: it gets exactly what it missed, in order, then live.
func TestResumeAfterBlip(t *testing.T) {
	s := startServer(t, "")
	a := s.join(t, "Anna")
	b := s.join(t, "Boris")
	_ = a.nextMessage(t) // Boris's join
	last := b.send(t, "before").Seq
	if m := a.nextMessage(t); m.Seq != last {
		t.Fatalf("a saw %d, want %d", m.Seq, last)
	}
	_ = a.C.Close()
	missed := sendN(t, b, 5)
	c, rec := s.resume(t, a.Token, "_default", last)
	if rec != (recoveryEvent{RoomID: "_default", Recovered: true}) {
		t.Fatalf("recovery = %+v", rec)
	}
	expectSeqs(t, c, missed)
	live := b.send(t, "live").Seq
	expectSeqs(t, c, []uint64{live})
}

// A reload: a new socket with the same token (the old one still open, as
// a page being replaced), once with the last seq and once with none (0:
// everything since the user joined, their own join notice first).
func TestResumeAfterReload(t *testing.T) {
	s := startServer(t, "")
	a := s.join(t, "Anna")
	b := s.join(t, "Boris")
	joinB := a.nextMessage(t) // Boris's join notice
	if joinB.Type != chat.MessageJoined {
		t.Fatalf("a got %+v, want Boris's join", joinB)
	}
	seqs := sendN(t, b, 3)
	c, rec := s.resume(t, a.Token, "_default", seqs[0])
	if !rec.Recovered {
		t.Fatalf("recovery = %+v", rec)
	}
	expectSeqs(t, c, seqs[1:])

	c2, rec := s.resume(t, b.Token, "_default", 0)
	if !rec.Recovered {
		t.Fatalf("recovery = %+v", rec)
	}
	if m := nextChat(t, c2); m.Seq != joinB.Seq || m.Type != chat.MessageJoined || m.User.ID != b.User.ID {
		t.Fatalf("first replayed %+v, want Boris's own join %d", m, joinB.Seq)
	}
	expectSeqs(t, c2, seqs)
}

// A reconnect to another node on the same NATS: the replay reads the
// room log there.
func TestResumeOnAnotherNode(t *testing.T) {
	url, _ := natstest.StartServer(t)
	s1 := startServer(t, "", "--nats-url", url, "--node-name", "one")
	s2 := startServer(t, "", "--nats-url", url, "--node-name", "two")
	a := s1.join(t, "Anna")
	b := s2.join(t, "Boris")
	last := a.nextMessage(t).Seq // Boris's join
	_ = a.C.Close()
	missed := sendN(t, b, 4)
	c, rec := s2.resume(t, a.Token, "_default", last)
	if !rec.Recovered {
		t.Fatalf("recovery = %+v", rec)
	}
	expectSeqs(t, c, missed)
	expectSeqs(t, c, []uint64{b.send(t, "live").Seq})
}

// A replay racing live traffic: a sender keeps sending while the resumer
// reconnects; the resumer sees exactly the acked seqs after its last,
// strictly increasing, none twice, none missing.
func TestResumeRacesLiveTraffic(t *testing.T) {
	s := startServer(t, "", "--limit-messages", "off")
	a := s.join(t, "Anna")
	b := s.join(t, "Boris")
	last := a.nextMessage(t).Seq // Boris's join
	_ = a.C.Close()
	const total = 60
	var mu sync.Mutex
	var acked []uint64
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			ack, err := b.C.EmitWithAck(ctxT(t), "send_message", map[string]string{"content": fmt.Sprint("race ", i)})
			if err != nil {
				t.Errorf("send %d: %v", i, err)
				return
			}
			var res struct {
				Message chat.Message `json:"message"`
			}
			if err := ack.Arg(0, &res); err != nil || res.Message.Seq == 0 {
				t.Errorf("send %d: ack %v %v", i, ack.Args, err)
				return
			}
			mu.Lock()
			acked = append(acked, res.Message.Seq)
			mu.Unlock()
			if i == total/4 {
				close(started)
			}
		}
	}()
	<-started
	c, rec := s.resume(t, a.Token, "_default", last)
	if !rec.Recovered {
		t.Fatalf("recovery = %+v", rec)
	}
	<-done
	if t.Failed() {
		return
	}
	mu.Lock()
	want := append([]uint64(nil), acked...)
	mu.Unlock()
	expectSeqs(t, c, want)
	// And nothing more: the next one is live.
	expectSeqs(t, c, []uint64{b.send(t, "after").Seq})
}

// Every refusal: recovered false with its reason, nothing replayed, then
// live events as usual.
func TestResumeRefused(t *testing.T) {
	url, _ := natstest.StartServer(t)
	s := startServer(t, "", "--nats-url", url, "--node-name", "solo")
	a := s.join(t, "Anna")
	b := s.join(t, "Boris")
	joinB := a.nextMessage(t).Seq
	seqs := sendN(t, b, 3)
	// An ack means stored; the fan-out to the room comes after it. Once
	// Anna's socket has them, the node has fanned them out, and a socket
	// that connects now cannot be sent them live (under a CPU hog, the
	// first resume below got seq 4 before its own live message).
	expectSeqs(t, a.C, seqs)

	check := func(name string, m *member, room string, after uint64, reason string) {
		t.Helper()
		c, rec := s.resume(t, m.Token, room, after)
		if rec != (recoveryEvent{RoomID: room, Reason: reason}) {
			t.Fatalf("%s: recovery = %+v, want %s", name, rec, reason)
		}
		live := b.send(t, "live after "+name)
		if m.User.ID == b.User.ID || live.RoomID != roomOf(t, s, m) {
			return
		}
		expectSeqs(t, c, []uint64{live.Seq})
	}
	check("ahead of the room", a, "_default", seqs[2]+1000, chat.ResumeInvalidSeq)
	check("no such room", a, "rnothere", 0, chat.ResumeNotAMember)

	// The events after the seq Anna saw are dropped from the stream.
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctxT(t), cluster.StreamRooms)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Purge(ctxT(t), jetstream.WithPurgeSubject(cluster.RoomSubjectPrefix+"_default"), jetstream.WithPurgeSequence(seqs[1])); err != nil {
		t.Fatal(err)
	}
	check("window passed", a, "_default", joinB, chat.ResumeWindowPassed)

	// Anna moves to another room: resuming the old one is room_changed.
	if e := a.call(t, "switch_room", map[string]string{"room_id": "_test"}, nil); e != nil {
		t.Fatal(e)
	}
	check("room changed", a, "_default", seqs[2], chat.ResumeRoomChanged)
}

// roomOf is the user's current room as the server lists it.
func roomOf(t *testing.T, s *server, m *member) string {
	t.Helper()
	var u chat.User
	s.do(t, "GET", "/api/users/me", m.Token, nil, &u)
	if u.CurrentRoom == nil {
		return ""
	}
	return u.CurrentRoom.ID
}
