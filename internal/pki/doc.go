// Package pki makes the certificates that authenticate a cluster's etcd
// traffic: one certificate authority per cluster, and for each node a
// key and a certificate that it presents both as a server (to clients
// and peers) and as a client (to other members). etcd, given the CA as
// its only trust anchor and client-certificate authentication, then
// talks only to holders of a certificate this CA signed.
//
// The layout on disk, written by `stegoctl certs init` and read by a
// node through ETCD_TLS_DIR (coordinator.TLSFiles):
//
//	DIR/ca.crt, DIR/ca.key          the authority (keep ca.key off the nodes if you can)
//	DIR/NAME/ca.crt, tls.crt, tls.key   one directory per node, all it needs
//	DIR/etcdctl/…                   a client-only certificate for operators
//
// Every file is written aside and renamed into place, so a reader (etcd
// reloads a node's certificate on each new connection) sees the old
// file or the new one, never half of one. Keys are written mode 0600.
package pki
