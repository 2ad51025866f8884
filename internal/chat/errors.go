package chat

import "errors"

// Storage errors, returned (wrapped) by KV implementations.
var (
	// ErrNotFound: no such key.
	ErrNotFound = errors.New("chat: not found")
	// ErrExists: Create of a key that exists.
	ErrExists = errors.New("chat: already exists")
	// ErrConflict: the key changed since the revision given.
	ErrConflict = errors.New("chat: revision conflict")
	// ErrUnavailable: the store cannot be reached; nothing was decided.
	ErrUnavailable = errors.New("chat: storage unavailable")
)
