// Package gctune lowers the garbage collector's heap headroom while the
// process allocates little, and gives it back as soon as it allocates
// more.
//
// With GOGC=100 the heap may grow to twice what was live after the last
// collection before the next one starts, and the runtime keeps about that
// much memory. A chat node holding many idle connections has a large live
// heap (a few KiB a connection) and allocates little (heartbeats), so
// that headroom is mostly memory it never uses. The collector's cost is
// proportional to how often it runs, which is the allocation rate over the
// headroom: a Tuner sizes the headroom for DefaultWindow of allocation at
// the mean rate of the last DefaultMemory seconds (or the last second's,
// if higher), between its Min and the process's own GOGC. Idle, GOGC drops to Min and the runtime returns
// the rest to the system; under load the headroom is the process's GOGC,
// as if there were no tuner, from the first busy second on.
package gctune
