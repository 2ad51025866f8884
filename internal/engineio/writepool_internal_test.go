package engineio

import (
	"net"
	"slices"
	"testing"
)

func TestUnwritten(t *testing.T) {
	bufs := func() net.Buffers { return net.Buffers{[]byte("abc"), []byte("de"), []byte("fghi")} }
	for _, tc := range []struct {
		n    int
		want []string
	}{
		{0, []string{"abc", "de", "fghi"}},
		{1, []string{"bc", "de", "fghi"}},
		{3, []string{"de", "fghi"}},
		{4, []string{"e", "fghi"}},
		{5, []string{"fghi"}},
		{8, []string{"i"}},
		{9, nil},
	} {
		var got []string
		for _, b := range unwritten(bufs(), tc.n) {
			got = append(got, string(b))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("unwritten(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestPoolWorkersLeaveAP(t *testing.T) {
	for _, tc := range []struct{ procs, want int }{
		{1, 1}, // nothing to leave: one worker still writes
		{2, 1},
		{3, 2},
		{16, 15},
	} {
		if got := poolWorkers(tc.procs); got != tc.want {
			t.Errorf("poolWorkers(%d) = %d, want %d", tc.procs, got, tc.want)
		}
	}
}
