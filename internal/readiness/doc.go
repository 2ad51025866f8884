// Package readiness decides when a node stops serving clients because
// its backend is gone: a Guard turns clients away (refuses new sessions
// and closes the open ones) once the NATS connection has been lost for
// longer than a grace period, and lets them back when it returns.
//
// The node's other readiness signals (the watchdog, draining) stay with
// their owners; this package holds only the loss rule, so that it can be
// tested on a fake clock.
package readiness
