package socketio

import (
	"fmt"
	"slices"
	"testing"
)

// TestRoomNames checks the set against a map through the move from slice
// to map and back down to empty.
func TestRoomNames(t *testing.T) {
	tests := []struct {
		name string
		n    int // distinct names added, then removed
	}{
		{"empty", 0},
		{"one", 1},
		{"at the slice limit", roomNamesSliceMax},
		{"past the slice limit", roomNamesSliceMax + 1},
		{"many", 5 * roomNamesSliceMax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r roomNames
			want := map[string]bool{}
			check := func(step string) {
				t.Helper()
				if r.len() != len(want) {
					t.Fatalf("%s: len %d, want %d", step, r.len(), len(want))
				}
				got := r.appendTo(nil)
				slices.Sort(got)
				var w []string
				for n := range want {
					w = append(w, n)
				}
				slices.Sort(w)
				if !slices.Equal(got, w) {
					t.Fatalf("%s: names %v, want %v", step, got, w)
				}
			}
			for i := range tt.n {
				name := fmt.Sprintf("room-%d", i)
				if !r.add(name) {
					t.Fatalf("add %s: not new", name)
				}
				if r.add(name) {
					t.Fatalf("add %s again: new", name)
				}
				want[name] = true
			}
			check("after adds")
			if r.remove("absent") {
				t.Fatal("removed an absent name")
			}
			for i := 0; i < tt.n; i += 2 { // every other one, then the rest
				name := fmt.Sprintf("room-%d", i)
				if !r.remove(name) || r.remove(name) {
					t.Fatalf("remove %s: not exactly once", name)
				}
				delete(want, name)
			}
			check("after removing half")
			for i := 1; i < tt.n; i += 2 {
				name := fmt.Sprintf("room-%d", i)
				if !r.remove(name) {
					t.Fatalf("remove %s: absent", name)
				}
				delete(want, name)
			}
			check("after removing all")
		})
	}
}
