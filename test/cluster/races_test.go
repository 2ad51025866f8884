//go:build unix

package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatrooms/chatrooms/internal/chat"
)

// testNicknameClaims: 50 concurrent claims of one nickname (and its
// look-alikes) through every node and nginx: exactly one wins.
func testNicknameClaims(t *testing.T, tp *topology) {
	w := newWorld(tp, layouts[0])
	base := w.name("Peter")
	variants := []string{base, strings.ToLower(base), strings.ToUpper(base), strings.Replace(base, "e", "е", 1), " " + base + " "}
	eps := tp.endpoints()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
		where = map[int][]string{}
		errs  []error
	)
	start := make(chan struct{})
	for i := range 50 {
		ep := eps[i%len(eps)]
		wg.Go(func() {
			<-start
			code, _, err := request(ep, "POST", "/api/users", "", map[string]string{"username": variants[i%len(variants)]})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			codes[code]++
			where[code] = append(where[code], ep.name)
		})
	}
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("requests failed: %v", errs)
	}
	if codes[201] != 1 || codes[409] != 49 {
		t.Fatalf("status counts = %v (201 through %v), want one 201 and 49 409", codes, where[201])
	}
	t.Logf("the winner came through %s", where[201][0])
}

// testRoomNameClaims: concurrent creations of one room name through
// every node: exactly one room.
func testRoomNameClaims(t *testing.T, tp *topology) {
	w := newWorld(tp, layouts[0])
	eps := tp.endpoints()
	var users []*user
	for i := range 12 {
		users = append(users, w.register(t, fmt.Sprintf("Creator %d", i)))
	}
	name := w.name("Popular")
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
	)
	start := make(chan struct{})
	for i, u := range users {
		ep := eps[i%len(eps)]
		wg.Go(func() {
			<-start
			code, _, err := request(ep, "POST", "/api/rooms", u.Token, map[string]string{"name": name})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes[-1]++
				return
			}
			codes[code]++
		})
	}
	close(start)
	wg.Wait()
	if codes[201] != 1 || codes[409] != len(users)-1 {
		t.Fatalf("status counts = %v, want one 201 and %d 409", codes, len(users)-1)
	}
}

// testLeaveVersusJoin races, through different nodes, the last member of
// a room leaving it (switching away, or logging out) against another
// user joining it. Either the join succeeds and the room stays with the
// joiner in it, or the join gets room_not_found and the room is gone;
// and once things settle every listed room can be joined.
func testLeaveVersusJoin(t *testing.T, tp *topology) {
	const rounds = 16
	w := newWorld(tp, layout{name: "race", sockets: []string{"a"}, api: []string{"a"}})
	nodeA, nodeB := tp.endpoint("a"), tp.endpoint("b")
	joiner := connect(t, w.register(t, "Joiner"), nodeB)
	prober := connect(t, w.register(t, "Prober"), tp.endpoint("c"))
	outcomes := map[string]int{}
	for round := range rounds {
		leaver := connect(t, w.register(t, fmt.Sprintf("Leaver %d", round)), nodeA)
		room := w.createRoom(t, leaver, fmt.Sprintf("Race %d", round))
		logout := round%2 == 1

		var (
			wg       sync.WaitGroup
			joinErr  *apiError
			joinOK   bool
			leaveErr error
		)
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			if logout {
				if code, body, err := request(nodeA, "DELETE", "/api/users/me", leaver.Token, nil); err != nil || code != 204 {
					leaveErr = fmt.Errorf("logout: %d %s %v", code, body, err)
				}
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
			defer cancel()
			ack, err := leaver.C.EmitWithAck(ctx, "switch_room", map[string]string{"room_id": "_test"})
			if err != nil {
				leaveErr = err
				return
			}
			var e apiError
			if err := ack.Arg(0, &e); err == nil && e.Error != "" {
				leaveErr = fmt.Errorf("leave: %+v", e)
			}
		})
		// The join starts 0 to 7.5 ms after the leave, sweeping the few
		// milliseconds in which the leave is in flight.
		delay := time.Duration(round%16) * 500 * time.Microsecond
		wg.Go(func() {
			<-start
			time.Sleep(delay)
			ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
			defer cancel()
			ack, err := joiner.C.EmitWithAck(ctx, "switch_room", map[string]string{"room_id": room.ID})
			if err != nil {
				joinErr = &apiError{Error: "transport", Message: err.Error()}
				return
			}
			var e apiError
			if err := ack.Arg(0, &e); err == nil && e.Error != "" {
				joinErr = &e
				return
			}
			joinOK = true
		})
		close(start)
		wg.Wait()
		if leaveErr != nil {
			t.Fatalf("round %d: %v", round, leaveErr)
		}

		var got chat.Room
		code := do(t, tp.endpoint("c"), "GET", "/api/rooms/"+room.ID, "", nil, &got)
		switch {
		case joinOK:
			if code != 200 || got.MemberCount != 1 {
				t.Fatalf("round %d: the join succeeded but the room is %d %+v", round, code, got)
			}
			var me chat.User
			joiner.do(t, "GET", "/api/users/me", nil, &me)
			if me.CurrentRoom == nil || me.CurrentRoom.ID != room.ID {
				t.Fatalf("round %d: the join succeeded but the joiner is in %+v", round, me.CurrentRoom)
			}
			outcomes["joined"]++
			t.Logf("round %d (join %v after the leave): joined", round, delay)
			joiner.awaitRoom(t, room.ID)
			// Leave it empty: it must go, as any emptied room.
			joiner.enter(t, "_default")
			if code := do(t, tp.endpoint("c"), "GET", "/api/rooms/"+room.ID, "", nil, nil); code != 404 {
				t.Fatalf("round %d: emptied room still there: %d", round, code)
			}
		case joinErr != nil && joinErr.Error == "room_not_found":
			if code != 404 {
				t.Fatalf("round %d: the join got room_not_found but the room is %d %+v", round, code, got)
			}
			outcomes["room_not_found"]++
			t.Logf("round %d (join %v after the leave): room_not_found", round, delay)
		default:
			t.Fatalf("round %d: join failed with %+v", round, joinErr)
		}
		// Every room any node lists can be joined, or the node stops
		// listing it within listFix: a node's list follows its watch of
		// the rooms bucket, which may be a moment behind the node that
		// deleted the room.
		const listFix = 5 * time.Second
		for _, ep := range tp.endpoints() {
			var rooms []chat.Room
			do(t, ep, "GET", "/api/rooms", "", nil, &rooms)
			for _, r := range rooms {
				if !strings.HasSuffix(r.Name, w.suffix) {
					continue // other scenarios' rooms come and go
				}
				if e := prober.call(t, "switch_room", map[string]string{"room_id": r.ID}, nil); e != nil {
					if e.Error != "room_not_found" {
						t.Fatalf("round %d: room %s listed by %s cannot be joined: %+v", round, r.ID, ep.name, e)
					}
					began := time.Now()
					waitFor(t, listFix, fmt.Sprintf("round %d: %s to stop listing the deleted room %s", round, ep.name, r.ID), func() error {
						var now []chat.Room
						do(t, ep, "GET", "/api/rooms", "", nil, &now)
						if slices.ContainsFunc(now, func(x chat.Room) bool { return x.ID == r.ID }) {
							return errors.New("still listed")
						}
						return nil
					})
					t.Logf("round %d: %s listed the room deleted by the leave; unlisted %v later", round, ep.name, time.Since(began).Round(time.Millisecond))
					continue
				}
				prober.awaitRoom(t, r.ID)
				prober.enter(t, "_test")
			}
		}
		if !logout {
			_ = leaver.C.Close()
		}
	}
	b, _ := json.Marshal(outcomes)
	t.Logf("%d rounds: %s", rounds, b)
}
