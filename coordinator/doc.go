// Package coordinator makes a stegocluster node a member of the cluster.
// Node is its one public surface: Start runs an embedded etcd member,
// campaigns for leadership with concurrency.Election, keeps the node's
// registry entry alive, lets the leader publish the cluster state with
// fenced writes that a deposed leader cannot make, follows that state
// for every reader, probes the other nodes (once, for the failure
// detector and every event stream alike) and holds the node's fault
// switches. A node started with RoleWorker runs no member and never
// campaigns: it is a client of the members, registered and following the
// state like the others (worker.go), so that stego work can grow past
// the members without adding raft voters.
//
// Keys (keys.go):
//
//	/stegocluster/election/<lease>   election candidates; the oldest leads (value: node id)
//	/stegocluster/nodes/<id>         one per live node, under its own lease (JSON wire.NodeInfo)
//	/stegocluster/state              the published wire.ClusterState, written only by the leader
//
// Files, one idea each: node.go (the surface) and config.go (every
// default); lease.go, election.go and fence.go (leadership and the
// fenced transaction); failover.go with probe.go and prober.go (fast
// failover and the shared prober); registry.go, state.go (the publisher)
// and watcher.go; member.go and etcdlog.go (the embedded etcd, its mutual
// TLS and its logs); worker.go (the worker role); faults.go (pause and
// crash).
//
// The package knows nothing of images; the node's live figures reach its
// registry entry through Config.Metrics.
package coordinator
