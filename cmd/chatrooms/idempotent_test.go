package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
	"github.com/chatrooms/chatrooms/internal/natstest"
)

// sendAck is the ack of send_message with its duplicate flag; Raw keeps
// the fields as sent, to tell an absent "duplicate" from false.
type sendAck struct {
	OK        bool         `json:"ok"`
	Message   chat.Message `json:"message"`
	Duplicate bool         `json:"duplicate"`
	Raw       map[string]json.RawMessage
}

// sendID sends a text message with a client_id and returns the ack.
func (m *member) sendID(t *testing.T, text, clientID string) sendAck {
	t.Helper()
	var raw map[string]json.RawMessage
	if e := m.call(t, "send_message", map[string]string{"content": text, "client_id": clientID}, &raw); e != nil {
		t.Fatalf("%s: send %q with client_id %q: %s %s", m.User.Name, text, clientID, e.Error, e.Message)
	}
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	a := sendAck{Raw: raw}
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	if !a.OK {
		t.Fatalf("%s: send with client_id %q: ack %s", m.User.Name, clientID, b)
	}
	return a
}

// nextText waits for the next chat_message that is a text message,
// skipping join and leave notices.
func (m *member) nextText(t *testing.T) chat.Message {
	t.Helper()
	for range 100 {
		if msg := m.nextMessage(t); msg.Type == chat.MessageText {
			return msg
		}
	}
	t.Fatalf("%s: 100 notices and no text message", m.User.Name)
	return chat.Message{}
}

// sameMessage fails unless the duplicate answer is the original message.
func sameMessage(t *testing.T, got, want chat.Message) {
	t.Helper()
	if got.ID != want.ID || got.Seq != want.Seq || got.RoomID != want.RoomID || got.Content != want.Content ||
		got.ClientID != want.ClientID || got.Timestamp != want.Timestamp || got.Sender == nil || got.Sender.ID != want.Sender.ID {
		t.Fatalf("duplicate answer %+v, want the original %+v", got, want)
	}
}

// A repeated client_id gets the original message back, marked duplicate,
// and the room receives it once: the next text message a member gets
// after the original is the one sent after the repeat.
func TestIdempotentSend(t *testing.T) {
	s := startServer(t, "")
	anna := s.join(t, "Anna")
	boris := s.join(t, "Boris")

	first := anna.sendID(t, "hello once", "c-1")
	if _, ok := first.Raw["duplicate"]; ok || first.Message.ClientID != "c-1" || first.Message.Seq == 0 {
		t.Fatalf("first send: ack %v, message %+v; want no duplicate field and client_id c-1", first.Raw, first.Message)
	}
	got := boris.nextText(t)
	sameMessage(t, got, first.Message)

	// The retry (even with other content) is answered with the original.
	again := anna.sendID(t, "hello twice?", "c-1")
	if !again.Duplicate {
		t.Fatalf("repeat: ack %v, want duplicate true", again.Raw)
	}
	sameMessage(t, again.Message, first.Message)

	after := anna.send(t, "after the repeat")
	if after.ClientID != "" {
		t.Fatalf("message without client_id carries %q", after.ClientID)
	}
	if got := boris.nextText(t); got.ID != after.ID {
		t.Fatalf("Boris got %q (seq %d) after the original, want %q: the repeat was delivered", got.Content, got.Seq, after.Content)
	}
	// The sender's own socket likewise got the original once.
	if got := anna.nextText(t); got.ID != first.Message.ID {
		t.Fatalf("Anna's first text is %q, want the original", got.Content)
	}
	if got := anna.nextText(t); got.ID != after.ID {
		t.Fatalf("Anna got %q after the original, want %q", got.Content, after.Content)
	}
}

// The same client_id from different users is two messages.
func TestIdempotentSendPerUser(t *testing.T) {
	s := startServer(t, "")
	anna := s.join(t, "Anna")
	boris := s.join(t, "Boris")
	a := anna.sendID(t, "from Anna", "same")
	b := boris.sendID(t, "from Boris", "same")
	if a.Duplicate || b.Duplicate || a.Message.ID == b.Message.ID || b.Message.Seq <= a.Message.Seq {
		t.Fatalf("Anna %+v, Boris %+v: want two separate messages", a, b)
	}
	if got := anna.nextText(t); got.ID != a.Message.ID {
		t.Fatalf("Anna got %q first", got.Content)
	}
	if got := anna.nextText(t); got.ID != b.Message.ID {
		t.Fatalf("Anna got %q second, want Boris's", got.Content)
	}
}

// A repeat after the sender moved to another room is still the same
// send: the original (in the first room) comes back, nothing is stored in
// the new room.
func TestIdempotentSendAfterRoomChange(t *testing.T) {
	s := startServer(t, "")
	anna := s.join(t, "Anna")
	first := anna.sendID(t, "in the default room", "move-1")
	if e := anna.call(t, "switch_room", map[string]string{"room_id": "_test"}, nil); e != nil {
		t.Fatalf("switch_room: %v", e)
	}
	again := anna.sendID(t, "in the default room", "move-1")
	if !again.Duplicate || again.Message.RoomID != first.Message.RoomID {
		t.Fatalf("repeat after switching rooms: %+v, want the original in %s", again, first.Message.RoomID)
	}
	sameMessage(t, again.Message, first.Message)
	after := anna.send(t, "in the testing room")
	for {
		got := anna.nextText(t)
		if got.RoomID == "_test" {
			if got.ID != after.ID {
				t.Fatalf("first text in _test is %q, want %q", got.Content, after.Content)
			}
			break
		}
	}
}

// client_id values outside 1..64 of [A-Za-z0-9_-] are refused with
// invalid_request and send nothing; 64 characters are fine.
func TestIdempotentSendInvalidClientID(t *testing.T) {
	s := startServer(t, "")
	anna := s.join(t, "Anna")
	boris := s.join(t, "Boris")
	for _, tc := range []struct {
		name string
		id   any
	}{
		{"empty", ""},
		{"65 characters", strings.Repeat("a", 65)},
		{"space", "a b"},
		{"slash", "a/b"},
		{"dot", "a.b"},
		{"colon", "u:c"},
		{"non-ASCII", "é"},
		{"number", 42},
		{"object", map[string]string{"id": "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := anna.call(t, "send_message", map[string]any{"content": "refused", "client_id": tc.id}, nil)
			if e == nil || e.Error != apierr.CodeInvalidRequest {
				t.Fatalf("client_id %v: %+v, want invalid_request", tc.id, e)
			}
		})
	}
	long := strings.Repeat("Az09_-", 10) + "abcd" // 64
	ok := anna.sendID(t, "with a 64-character id", long)
	if ok.Message.ClientID != long {
		t.Fatalf("64-character client_id: message carries %q", ok.Message.ClientID)
	}
	// null is the same as no client_id.
	var res sendAck
	if e := anna.call(t, "send_message", map[string]any{"content": "null id", "client_id": nil}, &res); e != nil || res.Message.ClientID != "" {
		t.Fatalf("client_id null: %+v, %+v", e, res)
	}
	if got := boris.nextText(t); got.ID != ok.Message.ID {
		t.Fatalf("Boris's first text is %q, want the one with the 64-character id: a refused send was delivered", got.Content)
	}
}

// A repeat takes no rate-limit allowance: it needs a token to be tried,
// and gets it back once it turns out to be a duplicate.
func TestIdempotentSendRateLimit(t *testing.T) {
	s := startServer(t, "", "--limit-messages", "1/1m:2")
	anna := s.join(t, "Anna")
	first := anna.sendID(t, "one", "r-1")
	for range 3 {
		if again := anna.sendID(t, "one", "r-1"); !again.Duplicate || again.Message.ID != first.Message.ID {
			t.Fatalf("repeat: %+v", again)
		}
	}
	anna.sendID(t, "two", "r-2")
	e := anna.call(t, "send_message", map[string]string{"content": "three", "client_id": "r-3"}, nil)
	if e == nil || e.Error != apierr.CodeRateLimited {
		t.Fatalf("third new message with a burst of 2: %+v, want rate_limited", e)
	}
}

// Two nodes on one NATS: a repeat through the other node is a duplicate
// too, and the room gets the message once on both nodes.
func TestIdempotentSendAcrossNodes(t *testing.T) {
	url, _ := natstest.StartServer(t)
	n1 := startServer(t, "", "--nats-url", url, "--node-name", "n1")
	n2 := startServer(t, "", "--nats-url", url, "--node-name", "n2")
	anna := n1.join(t, "Anna")
	boris := n2.join(t, "Boris")
	first := anna.sendID(t, "sent on n1", "x-1")
	annaOn2 := n2.connect(t, anna.User, anna.Token)
	again := annaOn2.sendID(t, "sent on n1", "x-1")
	if !again.Duplicate {
		t.Fatalf("repeat on n2: ack %v, want duplicate true", again.Raw)
	}
	sameMessage(t, again.Message, first.Message)
	after := annaOn2.send(t, "after the repeat")
	for _, m := range []*member{boris, anna} {
		if got := m.nextText(t); got.ID != first.Message.ID {
			t.Fatalf("%s: first text %q, want the original", m.User.Name, got.Content)
		}
		if got := m.nextText(t); got.ID != after.ID {
			t.Fatalf("%s: got %q after the original, want %q: the repeat was delivered", m.User.Name, got.Content, after.Content)
		}
	}
}
