// Package e2e runs whole clusters end to end: three stegod processes
// behind nginx (compose/cluster.sh), the compose stack on a Docker
// engine, a fault-injection suite on that stack, and the web app in
// headless Chromium.
//
// Every test file is behind the e2e build tag, so that `go test ./...`
// passes on a machine with only Go. With nginx, curl, Chromium and a
// Docker engine installed (.ci/run installs the first three on Debian),
// run them all, one package at a time:
//
//	go test -tags e2e -p 1 -timeout 30m ./e2e/
//
// A missing tool fails its test rather than skipping it; leave suites out
// by name instead:
//
//	go test -tags e2e -p 1 -skip 'Compose|Chaos' ./e2e/   # no Docker engine
//	go test -tags e2e -p 1 -run LocalCluster ./e2e/       # nginx only
//
// etcdctl is never taken from the system: compose/cluster.sh builds it
// from this module's go.etcd.io/etcd/etcdctl/v3 (the etcd version stegod
// embeds), as the node image does.
package e2e
