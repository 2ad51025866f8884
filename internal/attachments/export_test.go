package attachments

import "context"

// Hooks into a Service for the external tests; set before serving.

// SetReadHook makes f see an upload's buffer (length, capacity) before
// each read into it.
func SetReadHook(s *Service, f func(length, capacity int)) { s.readHook = f }

// HoldPixels takes n units of s's pixel budget, as a decoding image
// would, until release is called.
func HoldPixels(ctx context.Context, s *Service, n int64) (release func(), err error) {
	if err := s.pixels.acquire(ctx, n); err != nil {
		return nil, err
	}
	return func() { s.pixels.release(n) }, nil
}

// PixelWaiters is how many uploads wait for room in s's pixel budget.
func PixelWaiters(s *Service) int {
	s.pixels.mu.Lock()
	defer s.pixels.mu.Unlock()
	return len(s.pixels.waiters)
}
