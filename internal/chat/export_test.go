package chat

// SessionWriteCallers is how many callers of writeSessions for the user
// on this node wait for an answer (the write in flight's and the next
// one's), for tests.
func (s *Service) SessionWriteCallers(userID string) int {
	return s.sessionWrites.waiting(userID)
}
