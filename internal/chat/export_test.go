package chat

// SetSessionsJoinedHook sets testHookSessionsJoined for the external
// tests; the returned function unsets it.
func SetSessionsJoinedHook(f func(userID string)) (unset func()) {
	testHookSessionsJoined = f
	return func() { testHookSessionsJoined = nil }
}
