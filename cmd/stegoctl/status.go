package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stegocluster/stegocluster/wire"
)

func runStatus(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("status", "[--url URL] [--json]", `  stegoctl status                              # a local node on :8080
  stegoctl status --url http://localhost       # through nginx
`, stderr)
	base := fs.String("url", "http://127.0.0.1:8080", "any node, or nginx in front of them")
	asJSON := fs.Bool("json", false, "print the raw JSON")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	body, err := getOK(strings.TrimSuffix(*base, "/")+"/cluster/status", 5*time.Second)
	if err != nil {
		return err
	}
	if *asJSON {
		_, err := stdout.Write(append(body, '\n'))
		return err
	}
	// The wire type, not the API's: stegoctl reads a node's answers
	// without linking Gin, Prometheus or etcd's server.
	var st wire.ClusterState
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("decode status: %w", err)
	}
	fmt.Fprintf(stdout, "leader %s, epoch %d, raft term %d, raft leader %s (answered by %s)\n", st.LeaderID, st.Epoch, st.Term, st.RaftLeader, st.ServedBy)
	if st.Degraded != "" {
		fmt.Fprintf(stdout, "degraded: %s answers without coordination: %s\n", st.ServedBy, st.Degraded)
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(w, " NODE\t ROLE\t HEALTHY\t ADDRESS\t RAFT\t CPU %\t MEM %\t QPS 1M\t P95 MS\t IN FLIGHT\t QUEUE\t")
	for _, n := range st.Nodes {
		health := fmt.Sprint(n.Healthy)
		if n.Paused {
			health = "paused"
		}
		raft := ""
		switch {
		case n.RaftLeader:
			raft = "leader"
		case n.Worker:
			raft = "-" // not an etcd member
		}
		// A member that is down has no registry entry: its address and
		// figures are unknown, not 0.
		addr := fmt.Sprintf("%s:%d", n.IP, n.HTTPPort)
		if n.HTTPPort == 0 {
			addr = "-"
		}
		if !n.Healthy && !n.Paused {
			fmt.Fprintf(w, " %s\t %s\t %s\t %s\t %s\t -\t -\t -\t -\t -\t -\t\n", n.ID, n.Role, health, addr, raft)
			continue
		}
		fmt.Fprintf(w, " %s\t %s\t %s\t %s\t %s\t %.1f\t %.1f\t %.2f\t %.0f\t %d\t %d\t\n",
			n.ID, n.Role, health, addr, raft, n.CPUPct, n.MemPct, n.QPS1m, n.P95Ms, n.InFlight, n.QueueDepth)
	}
	return w.Flush()
}
