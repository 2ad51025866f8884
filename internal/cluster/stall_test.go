package cluster

import "testing"

func TestStallCheck(t *testing.T) {
	type check struct {
		last, delivered uint64
		idle            bool
		unknown         bool // the stream could not be read
		want            bool
		replace         bool // the consumer is replaced after this check
	}
	tests := []struct {
		name   string
		checks []check
	}{
		{"caught up, idle", []check{{last: 5, delivered: 5, idle: true}, {last: 5, delivered: 5, idle: true}}},
		{"ahead once is not enough", []check{{last: 7, delivered: 5, idle: true}}},
		{"ahead twice without moving", []check{{last: 7, delivered: 5, idle: true}, {last: 7, delivered: 5, idle: true, want: true}}},
		{"moving is not silent", []check{{last: 7, delivered: 5, idle: true}, {last: 9, delivered: 6, idle: true}}},
		{"busy (entries waiting) is not silent", []check{{last: 7, delivered: 5}, {last: 7, delivered: 5}}},
		{"an unreadable stream starts over", []check{{last: 7, delivered: 5, idle: true}, {unknown: true}, {last: 7, delivered: 5, idle: true}, {last: 7, delivered: 5, idle: true, want: true}}},
		{"not replaced twice for one stream end", []check{
			{last: 7, delivered: 5, idle: true}, {last: 7, delivered: 5, idle: true, want: true, replace: true},
			{last: 7, delivered: 5, idle: true}, {last: 7, delivered: 5, idle: true},
			{last: 8, delivered: 5, idle: true, want: true}, // the stream moved on, the new consumer did not
		}},
		{"a failed replacement is tried again", []check{{last: 7, delivered: 5, idle: true}, {last: 7, delivered: 5, idle: true, want: true}, {last: 7, delivered: 5, idle: true, want: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c stallCheck
			for i, ck := range tt.checks {
				if ck.unknown {
					c.unknown()
					continue
				}
				if got := c.silent(ck.last, ck.delivered, ck.idle); got != ck.want {
					t.Fatalf("check %d (%+v): silent = %v, want %v", i, ck, got, ck.want)
				}
				if ck.replace {
					c.replaced(ck.last)
				}
			}
		})
	}
}
