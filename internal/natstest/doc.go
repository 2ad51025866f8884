// Package natstest runs real NATS servers for tests, in the manner of
// nats.go's RunBasicJetStreamServer: Start gives a cluster.Cluster on an
// embedded JetStream server in t.TempDir(), StartServer a standalone
// JetStream server to reach through cluster.Options.NATSURL, and
// StartCluster a routed JetStream cluster of several servers. Everything
// listens on 127.0.0.1 random ports and is stopped in t.Cleanup.
//
// Import it from external test packages (package cluster_test), since it
// imports package cluster.
package natstest
