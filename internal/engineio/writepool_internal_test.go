package engineio

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/eiocodec"
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

func TestPoolWorkersLeaveTwoPs(t *testing.T) {
	for _, tc := range []struct{ procs, want int }{
		{1, 1}, // nothing to leave: one worker still writes
		{2, 1},
		{3, 1}, // cmd/chatrooms' least
		{4, 2},
		{16, 14},
	} {
		if got := poolWorkers(tc.procs); got != tc.want {
			t.Errorf("poolWorkers(%d) = %d, want %d", tc.procs, got, tc.want)
		}
	}
}

// The pool writes sessions with a reply waiting before the others, each
// once, and otherwise in the order they became ready.
func TestWritePoolRepliesFirst(t *testing.T) {
	type step struct {
		op   string // push, promote, pop
		s    int    // session index
		want int    // pop: the session expected, -1 for none
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"ready in order", []step{
			{"push", 0, 0}, {"push", 1, 0}, {"push", 2, 0},
			{"pop", 0, 0}, {"pop", 0, 1}, {"pop", 0, 2}, {"pop", 0, -1},
		}},
		{"a reply goes first, once", []step{
			{"push", 0, 0}, {"push", 1, 0}, {"push", 2, 0},
			{"promote", 2, 0},
			{"pop", 0, 2}, {"pop", 0, 0}, {"pop", 0, 1}, {"pop", 0, -1},
		}},
		{"replies in their order; a second reply changes nothing", []step{
			{"push", 0, 0}, {"push", 1, 0}, {"push", 2, 0},
			{"promote", 2, 0}, {"promote", 1, 0}, {"promote", 2, 0},
			{"pop", 0, 2}, {"pop", 0, 1}, {"pop", 0, 0}, {"pop", 0, -1},
		}},
		{"a reply while being written: its next push goes first", []step{
			{"push", 0, 0}, {"push", 1, 0},
			{"pop", 0, 0}, // a worker writes 0
			{"promote", 0, 0},
			{"push", 0, 0}, // more was queued: 0 is queued again
			{"pop", 0, 0}, {"pop", 0, 1}, {"pop", 0, -1},
		}},
		{"the mark is spent by one push", []step{
			{"push", 0, 0}, {"pop", 0, 0},
			{"promote", 0, 0},
			{"push", 1, 0}, {"push", 0, 0}, // 0 to replies
			{"pop", 0, 0}, {"push", 0, 0}, // then back to ready
			{"pop", 0, 1}, {"pop", 0, 0}, {"pop", 0, -1},
		}},
		{"written first, then queued again behind the others", []step{
			{"push", 0, 0}, {"push", 1, 0}, {"promote", 1, 0},
			{"pop", 0, 1}, {"push", 1, 0},
			{"pop", 0, 0}, {"pop", 0, 1}, {"pop", 0, -1},
		}},
		{"once a round: a flood of requests does not hold up the others", []step{
			{"push", 1, 0}, {"push", 2, 0}, {"push", 0, 0},
			{"promote", 0, 0}, {"pop", 0, 0}, // 0 goes first
			{"promote", 0, 0}, {"push", 0, 0}, // another reply while it was written: at its turn
			{"promote", 0, 0}, // and another: still at its turn
			{"pop", 0, 1}, {"pop", 0, 2}, {"pop", 0, 0}, {"pop", 0, -1},
		}},
		{"once a round: ahead again when the round is over", []step{
			{"push", 1, 0}, {"push", 0, 0},
			{"promote", 0, 0}, {"pop", 0, 0}, // first; ready holds 1 and 0's old entry
			{"push", 0, 0}, {"push", 2, 0}, {"promote", 0, 0}, // not yet
			{"pop", 0, 1}, {"pop", 0, 0}, // the round is over: 0's turn
			{"promote", 0, 0}, {"push", 0, 0}, // a reply while written: first again
			{"pop", 0, 0}, {"pop", 0, 2}, {"pop", 0, -1},
		}},
		{"once a round: an empty round ends at once", []step{
			{"push", 0, 0}, {"pop", 0, 0}, {"promote", 0, 0}, {"push", 0, 0}, // to replies, ready empty
			{"pop", 0, 0},
			{"promote", 0, 0}, {"push", 1, 0}, {"push", 0, 0}, // nothing was waiting: first again
			{"pop", 0, 0}, {"pop", 0, 1}, {"pop", 0, -1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &writePool{} // max 0: push starts no worker
			ss := make([]*Session, 3)
			for i := range ss {
				ss[i] = &Session{id: string(rune('a' + i))}
			}
			for i, st := range tc.steps {
				switch st.op {
				case "push":
					p.push(ss[st.s])
				case "promote":
					p.promote(ss[st.s], false)
				case "pop":
					got := p.pop()
					want := (*Session)(nil)
					if st.want >= 0 {
						want = ss[st.want]
					}
					if got != want {
						t.Fatalf("step %d: pop = %v, want %v", i, sessionName(got), sessionName(want))
					}
				}
			}
			if n := p.readyLen(); n != 0 {
				t.Errorf("%d entries left", n)
			}
		})
	}
}

func sessionName(s *Session) string {
	if s == nil {
		return "none"
	}
	return s.id
}

// A pool that is never idle (a session queued again as another is taken,
// for a long time) reuses its queue's array: it does not grow with the
// number of sessions ever queued, only with those waiting at once.
func TestWritePoolQueueStaysSmallWhenNeverEmpty(t *testing.T) {
	for _, waiting := range []int{1, 7, 100, 1000} {
		p := &writePool{}
		ss := make([]*Session, waiting)
		for i := range ss {
			ss[i] = &Session{}
			p.push(ss[i])
		}
		for i := range 200 * waiting {
			s := p.pop()
			if s != ss[i%waiting] {
				t.Fatalf("waiting %d: pop %d took the wrong session", waiting, i)
			}
			p.push(s)
		}
		if c := cap(p.ready.q); c > 4*waiting+8 {
			t.Errorf("waiting %d: the queue's array holds %d entries after %d pushes", waiting, c, 201*waiting)
		}
		if n := p.readyLen(); n != waiting {
			t.Errorf("waiting %d: %d entries queued", waiting, n)
		}
	}
}

// TestWrittenDoesNotAllocate: reporting a write's stamped frames costs no
// allocation (the pool's writes happen 40,000 times a second under load),
// and every stamped frame is reported once, in chunks of at most
// framesWrittenChunk.
func TestWrittenDoesNotAllocate(t *testing.T) {
	var got, calls, biggest int
	srv := &Server{cfg: Config{FramesWritten: func(ages []time.Duration) {
		got += len(ages)
		calls++
		biggest = max(biggest, len(ages))
	}}}
	frames := make([]*Frame, 150)
	for i := range frames {
		frames[i] = eiocodec.NewMessageFrame([]byte("x"))
		if i%3 != 0 { // two in three stamped, as a mix of events and acks
			frames[i].SetOrigin(time.Now())
		}
	}
	scratch := newVecWriter().ages
	srv.written(frames, scratch)
	if got != 100 || calls != 2 || biggest != framesWrittenChunk {
		t.Errorf("reported %d ages in %d calls of at most %d, want 100 in 2 of at most %d", got, calls, biggest, framesWrittenChunk)
	}
	if n := testing.AllocsPerRun(100, func() { srv.written(frames, scratch) }); n != 0 {
		t.Errorf("written allocates %v times a call", n)
	}
}
