package realtime

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestListSnapshotUpdate(t *testing.T) {
	type item struct{ id, v string }
	enc := func(items ...item) ([]string, map[string]json.RawMessage) {
		ids := make([]string, len(items))
		m := make(map[string]json.RawMessage, len(items))
		for i, it := range items {
			ids[i] = it.id
			m[it.id] = json.RawMessage(`{"id":"` + it.id + `","v":"` + it.v + `"}`)
		}
		return ids, m
	}
	tests := []struct {
		name      string
		before    []item
		after     []item
		upsert    []string // ids
		remove    []string
		noChange  bool
		wantWhole string
		reordered bool
	}{
		{name: "same", before: []item{{"a", "1"}}, after: []item{{"a", "1"}}, noChange: true,
			wantWhole: `[{"id":"a","v":"1"}]`},
		{name: "added", before: []item{{"a", "1"}}, after: []item{{"a", "1"}, {"b", "1"}}, upsert: []string{"b"}, remove: []string{},
			wantWhole: `[{"id":"a","v":"1"},{"id":"b","v":"1"}]`},
		{name: "changed", before: []item{{"a", "1"}, {"b", "1"}}, after: []item{{"a", "2"}, {"b", "1"}}, upsert: []string{"a"}, remove: []string{},
			wantWhole: `[{"id":"a","v":"2"},{"id":"b","v":"1"}]`},
		{name: "removed", before: []item{{"a", "1"}, {"b", "1"}}, after: []item{{"b", "1"}}, upsert: []string{}, remove: []string{"a"},
			wantWhole: `[{"id":"b","v":"1"}]`},
		{name: "all at once", before: []item{{"a", "1"}, {"b", "1"}, {"c", "1"}}, after: []item{{"c", "2"}, {"d", "1"}, {"b", "1"}},
			upsert: []string{"c", "d"}, remove: []string{"a"}, wantWhole: `[{"id":"c","v":"2"},{"id":"d","v":"1"},{"id":"b","v":"1"}]`},
		{name: "emptied", before: []item{{"a", "1"}}, after: nil, upsert: []string{}, remove: []string{"a"}, wantWhole: `[]`},
		{name: "reordered only", before: []item{{"a", "1"}, {"b", "1"}}, after: []item{{"b", "1"}, {"a", "1"}}, noChange: true,
			wantWhole: `[{"id":"b","v":"1"},{"id":"a","v":"1"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l listSnapshot
			l.update(enc(tt.before...))
			v0 := l.version
			_ = l.encoded() // cached, must not survive a change
			d := l.update(enc(tt.after...))
			if got := string(l.encoded()); got != tt.wantWhole {
				t.Errorf("whole list %s, want %s", got, tt.wantWhole)
			}
			if tt.noChange {
				if d != nil || l.version != v0 {
					t.Fatalf("delta %+v, version %d → %d for no change", d, v0, l.version)
				}
				return
			}
			if d == nil {
				t.Fatal("no delta")
			}
			if d.Version != v0+1 || l.version != v0+1 {
				t.Errorf("delta version %d, snapshot %d, want %d", d.Version, l.version, v0+1)
			}
			var up []string
			for _, b := range d.Upsert {
				var x struct{ ID string }
				if err := json.Unmarshal(b, &x); err != nil {
					t.Fatal(err)
				}
				up = append(up, x.ID)
			}
			if !slices.Equal(up, tt.upsert) && !(len(up) == 0 && len(tt.upsert) == 0) {
				t.Errorf("upsert %v, want %v", up, tt.upsert)
			}
			if !slices.Equal(d.Remove, tt.remove) {
				t.Errorf("remove %v, want %v", d.Remove, tt.remove)
			}
			// The wire form has both arrays even when empty.
			b, _ := json.Marshal(d)
			var wire map[string]json.RawMessage
			_ = json.Unmarshal(b, &wire)
			if string(wire["upsert"]) == "null" || string(wire["remove"]) == "null" {
				t.Errorf("delta %s has a null array", b)
			}
		})
	}
}
