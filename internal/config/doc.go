// Package config holds the ChatRooms server configuration: one Config
// struct filled from command-line flags, with CHATROOMS_* environment
// variables as fallbacks and built-in defaults below them (flag > env >
// default), and validated before use.
package config
