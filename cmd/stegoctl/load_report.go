package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/stegocluster/stegocluster/wire"
)

// printLoadReport writes the human summary of a load run.
func printLoadReport(w io.Writer, r wire.LoadReport) error {
	var b strings.Builder
	how := "ran"
	if r.Interrupted {
		how = "interrupted after"
	}
	fmt.Fprintf(&b, "%s of %d-byte secrets, %d clients on %s; %s %.1f s\n", r.Op, r.SizeBytes, r.Clients, strings.Join(r.Targets, ", "), how, r.DurationS)
	fmt.Fprintf(&b, "requests    %d total, %d ok, %d failed\n", r.Total, r.OK, r.Failed)
	if r.Failed > 0 {
		var kinds []string
		for _, k := range slices.Sorted(maps.Keys(r.Failures)) {
			if r.Failures[k] > 0 {
				kinds = append(kinds, fmt.Sprintf("%s × %d", k, r.Failures[k]))
			}
		}
		fmt.Fprintf(&b, "failures    %s\n", strings.Join(kinds, ", "))
	}
	if r.Resent > 0 {
		fmt.Fprintf(&b, "resent      %d (the server closed a reused connection before answering)\n", r.Resent)
	}
	fmt.Fprintf(&b, "throughput  %.1f req/s, %.2f MB/s of secret\n", r.ThroughputRPS, r.ThroughputMBs)
	fmt.Fprintf(&b, "latency     p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms\n", r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if len(r.PerNode) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NODE\tREQUESTS\tSHARE")
		for _, n := range slices.Sorted(maps.Keys(r.PerNode)) {
			fmt.Fprintf(tw, "%s\t%d\t%.1f%%\n", n, r.PerNode[n], 100*float64(r.PerNode[n])/float64(max(r.Total, 1)))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "first errors:\n  %s\n", strings.Join(r.Errors, "\n  "))
	}
	return nil
}
