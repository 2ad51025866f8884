// Package realtime connects the chat service to Socket.IO clients on the
// namespace "/chat": it authenticates sockets by token, turns client
// events (send_message, switch_room, typing) into service calls with acks,
// and passes service events to the sockets of this node — room events to
// the members of the room (each encoded once), coalesced user and room
// lists to everyone, and logouts as disconnections.
package realtime
