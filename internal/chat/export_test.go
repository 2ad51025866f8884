package chat

// SessionsInFlight is how many Connected and Disconnected calls of the
// user are under way on this node.
func (s *Service) SessionsInFlight(userID string) int {
	s.local.mu.Lock()
	defer s.local.mu.Unlock()
	return s.local.inflight[userID]
}
