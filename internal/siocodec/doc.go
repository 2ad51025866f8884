// Package siocodec is the Socket.IO v5 packet codec
// (https://socket.io/docs/v4/socket-io-protocol/, used by Socket.IO v3 and
// v4 peers), shared by the server (package socketio) and the clients
// (package sioclient, cmd/chatload): the text encoding of packets
// (ParsePacket, AppendPacket), binary attachments and their placeholders
// (Decoder, ResolvePlaceholder), and the encoding of event and ack
// arguments as JSON.stringify writes them (EncodeEvent, EncodeAckArgs,
// SplitArgs, EventName).
//
// A packet travels as the data of Engine.IO messages (package eiocodec):
// its text encoding in one text message, then one binary message per
// attachment. The functions are stateless and safe for concurrent use; a
// Decoder belongs to one connection.
package siocodec
