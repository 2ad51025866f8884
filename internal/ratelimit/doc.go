// Package ratelimit holds the server's one kind of rate limiter: a keyed
// set of golang.org/x/time/rate token buckets (one per user or client
// address) with bounded memory, answering allow-or-retry-after; and a
// keyed counter of concurrent uses (sessions per client address).
//
// A Limit is written "N/period:burst" ("5/1s:20": five events a second,
// twenty at once after a quiet spell) or "off"; ParseLimit reads that
// form and *Limit is a flag.Value.
package ratelimit
