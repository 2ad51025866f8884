package chattest

import (
	"context"
	"fmt"
	"sync"

	"github.com/chatrooms/chatrooms/internal/apierr"
	"github.com/chatrooms/chatrooms/internal/chat"
)

var _ chat.Files = (*Files)(nil)

// Files is an in-memory chat.Files: the files Add was given, each until
// its ExpiresAt on the Clock. Safe for concurrent use; get one from
// NewFiles.
type Files struct {
	clock chat.Clock

	mu    sync.Mutex
	files map[string]chat.FileInfo
	fail  func(id string) error
}

// NewFiles returns an empty file store on clock (nil: real time).
func NewFiles(clock chat.Clock) *Files {
	if clock == nil {
		clock = realClock{}
	}
	return &Files{clock: clock, files: map[string]chat.FileInfo{}}
}

// Add stores f (replacing a file of the same ID).
func (fs *Files) Add(f chat.FileInfo) {
	fs.mu.Lock()
	fs.files[f.ID] = f
	fs.mu.Unlock()
}

// FailWith makes every later Lookup consult fn first: an error from fn
// fails it. Nil stops it.
func (fs *Files) FailWith(fn func(id string) error) {
	fs.mu.Lock()
	fs.fail = fn
	fs.mu.Unlock()
}

// Lookup implements chat.Files.
func (fs *Files) Lookup(ctx context.Context, id string) (chat.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return chat.FileInfo{}, err
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.fail != nil {
		if err := fs.fail(id); err != nil {
			return chat.FileInfo{}, fmt.Errorf("files: lookup %q: %w", id, err)
		}
	}
	f, ok := fs.files[id]
	if !ok || !f.ExpiresAt.After(fs.clock.Now()) {
		return chat.FileInfo{}, fmt.Errorf("files: lookup %q: %w", id, apierr.ErrNotFound)
	}
	return f, nil
}
