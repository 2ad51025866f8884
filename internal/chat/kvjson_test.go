package chat

import (
	"encoding/json"
	"testing"
)

// TestOwnWritesDecode: while this node writes a value, a watch that
// brings exactly that encoding back for that key gets a copy of the
// value (v.Description is changed after encoding, so that a copy and a
// decoding tell apart); any other bytes or key, or the same after the
// write, are decoded.
func TestOwnWritesDecode(t *testing.T) {
	kv := newJSONKV[roomRecord](nil, "room")
	v := &roomRecord{ID: "r", Name: "n", Members: []string{"a", "b"}}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	v.Description = "in flight" // not in b: only a copy of v has it
	other := []byte(`{"id":"r","name":"m","members":["a"]}`)

	done := kv.writing("r", b, v)
	done2 := kv.writing("r", other, &roomRecord{ID: "r", Name: "second write"})
	tests := []struct {
		name     string
		key      string
		value    []byte
		wantName string
		wantDesc string // "in flight": v copied, not b decoded
	}{
		{"own write: a copy", "r", b, "n", "in flight"},
		{"another write of the key in flight", "r", other, "second write", ""},
		{"same bytes, another key: decoded", "q", b, "n", ""},
		{"other bytes: decoded", "r", []byte(`{"id":"r","name":"x"}`), "x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kv.decode(tt.key, tt.value)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tt.wantName || got.Description != tt.wantDesc {
				t.Errorf("got name %q, description %q; want %q, %q", got.Name, got.Description, tt.wantName, tt.wantDesc)
			}
		})
	}
	c, err := kv.decode("r", b)
	if err != nil {
		t.Fatal(err)
	}
	if c == v {
		t.Fatal("decode returned the written value itself, not a copy")
	}
	c.Members[0] = "changed"
	if v.Members[0] != "a" {
		t.Error("the copy shares its members with the written value")
	}

	done()
	got, err := kv.decode("r", b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != "" || got.Name != "n" {
		t.Errorf("after the write: got %+v, want b decoded", got)
	}
	if got, _ := kv.decode("r", other); got.Name != "second write" {
		t.Errorf("the other write, still in flight: got %q", got.Name)
	}
	done2()
	if n := len(kv.own.m); n != 0 {
		t.Errorf("%d keys left noted after every write ended", n)
	}
	if _, err := kv.decode("r", []byte("{")); err == nil {
		t.Error("bad JSON decoded without an error")
	}
}
