// Package coordinator makes a stegocluster node a member of the cluster:
// it runs an embedded etcd member, campaigns for leadership with
// concurrency.Election, keeps the node's registry entry alive, and lets
// the leader publish the cluster state with fenced writes that a deposed
// leader cannot make.
//
// Keys (see Keys):
//
//	/stegocluster/election/<lease>   election candidates; the oldest leads (value: node id)
//	/stegocluster/nodes/<id>         one per live node, under its own lease (JSON NodeInfo)
//	/stegocluster/state              the published ClusterState (JSON), written only by the leader
//
// The package knows nothing of images; the node's live figures reach the
// registry through a callback.
package coordinator
