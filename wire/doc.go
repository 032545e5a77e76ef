// Package wire holds the JSON types that cross a process boundary: the
// registry entry a node writes to etcd, the cluster state the leader
// publishes there, the GET /cluster/status and /cluster/events bodies,
// and the report of `stegoctl load --json`.
//
// It imports only the standard library, so that a client (stegoctl, the
// end-to-end tests) can decode a node's answers without pulling in Gin,
// Prometheus or etcd's server. Every field's JSON name is part of the
// API: rename none.
package wire
