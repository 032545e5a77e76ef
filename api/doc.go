// Package api is a stegocluster node's HTTP interface: the stego
// endpoints (hide, reveal, capacity, analysis), the cluster status, health
// and readiness, Prometheus metrics and the admin fault switches, served
// with Gin. Every error is JSON {"error": …, "code": …} with a status
// that says what went wrong; nothing a client sends can panic the node.
package api
