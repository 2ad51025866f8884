package socketio

import (
	"fmt"
	"hash/maphash"
	"slices"
	"testing"
)

// members lists the sockets each reports for room, in all's order.
func members(rs *roomSet, room string, all []*Socket) []*Socket {
	var out []*Socket
	rs.each(room, func(s *Socket) { out = append(out, s) })
	slices.SortFunc(out, func(a, b *Socket) int { return slices.Index(all, a) - slices.Index(all, b) })
	return out
}

func TestRoomSet(t *testing.T) {
	socks := make([]*Socket, 6)
	for i := range socks {
		socks[i] = newSocket(nil, nil)
	}
	type step struct {
		add  bool
		room string
		s    int
	}
	tests := []struct {
		name  string
		steps []step
		want  map[string][]int // room -> socket indexes
	}{
		{"one member", []step{{true, "a", 0}}, map[string][]int{"a": {0}}},
		{"added twice, once a member", []step{{true, "a", 0}, {true, "a", 0}}, map[string][]int{"a": {0}}},
		{"last removed: room gone", []step{{true, "a", 0}, {false, "a", 0}}, map[string][]int{"a": nil}},
		{"removing a non-member changes nothing", []step{{true, "a", 0}, {false, "a", 1}, {false, "b", 0}}, map[string][]int{"a": {0}, "b": nil}},
		{"first removed: the last takes its place", []step{{true, "a", 0}, {true, "a", 1}, {true, "a", 2}, {false, "a", 0}}, map[string][]int{"a": {1, 2}}},
		{"middle removed", []step{{true, "a", 0}, {true, "a", 1}, {true, "a", 2}, {false, "a", 1}, {true, "a", 3}}, map[string][]int{"a": {0, 2, 3}}},
		{"last removed, then re-added", []step{{true, "a", 0}, {true, "a", 1}, {false, "a", 1}, {true, "a", 1}}, map[string][]int{"a": {0, 1}}},
		{"rooms apart", []step{{true, "a", 0}, {true, "b", 0}, {true, "b", 1}, {false, "a", 0}}, map[string][]int{"a": nil, "b": {0, 1}}},
		{"all removed in any order", []step{{true, "a", 0}, {true, "a", 1}, {true, "a", 2}, {false, "a", 1}, {false, "a", 2}, {false, "a", 0}, {true, "a", 5}}, map[string][]int{"a": {5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rs roomSet
			rs.init(maphash.MakeSeed())
			for _, st := range tt.steps {
				if st.add {
					rs.add(st.room, socks[st.s])
				} else {
					rs.remove(st.room, socks[st.s])
				}
			}
			for room, idx := range tt.want {
				var want []*Socket
				for _, i := range idx {
					want = append(want, socks[i])
				}
				if got := members(&rs, room, socks); !slices.Equal(got, want) {
					t.Errorf("room %q: got %v, want %v", room, got, want)
				}
				if got := rs.size(room); got != len(idx) {
					t.Errorf("room %q: size %d, want %d", room, got, len(idx))
				}
				sh := &rs.shards[rs.shardOf(room)]
				if _, ok := sh.m[room]; ok != (len(idx) > 0) {
					t.Errorf("room %q: kept %v with %d members", room, ok, len(idx))
				}
			}
		})
	}
}

// BenchmarkRoomEach measures a broadcast's walk over a room's members
// (collect's part per recipient, without the sends).
func BenchmarkRoomEach(b *testing.B) {
	for _, n := range []int{100, 2000} {
		b.Run(fmt.Sprintf("room=%d", n), func(b *testing.B) {
			var rs roomSet
			rs.init(maphash.MakeSeed())
			for range n {
				rs.add("room", newSocket(nil, nil))
			}
			out := make([]*Socket, 0, n)
			b.ReportAllocs()
			for b.Loop() {
				out = out[:0]
				rs.each("room", func(s *Socket) { out = append(out, s) })
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/member")
		})
	}
}

// TestRoomSetShrinks: a room that a crowd joined and left does not keep
// the crowd's array.
func TestRoomSetShrinks(t *testing.T) {
	var rs roomSet
	rs.init(maphash.MakeSeed())
	socks := make([]*Socket, 5000)
	for i := range socks {
		socks[i] = newSocket(nil, nil)
		rs.add("room", socks[i])
	}
	for _, s := range socks[10:] {
		rs.remove("room", s)
	}
	m := rs.shards[rs.shardOf("room")].m["room"]
	if len(m.list) != 10 || len(m.at) != 10 {
		t.Fatalf("%d listed, %d placed; want 10", len(m.list), len(m.at))
	}
	if c := cap(m.list); c > 4*1024 {
		t.Errorf("10 members keep an array of %d", c)
	}
	for i, s := range m.list {
		if m.at[s] != i {
			t.Errorf("socket at %d placed at %d", i, m.at[s])
		}
	}
	if got := members(&rs, "room", socks); !slices.Equal(got, socks[:10]) {
		t.Errorf("members after the crowd left: %d, want the first 10", len(got))
	}
}
