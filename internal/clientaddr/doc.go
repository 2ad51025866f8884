// Package clientaddr finds the address of the client behind an HTTP
// request: the peer's address, or, when the peer is a trusted proxy, the
// right-most address in its forwarding header (X-Forwarded-For or RFC
// 7239 Forwarded) that is not itself a trusted proxy. Headers from any
// other peer are ignored, so a client cannot choose its own address.
package clientaddr
