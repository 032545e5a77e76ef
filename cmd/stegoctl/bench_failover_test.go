package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchFailover runs the real tool on a real local cluster: a few
// SIGKILLs and SIGTERMs of the leader, each followed by a new leader.
func TestBenchFailover(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "stegod")
	if out, err := exec.Command("go", "build", "-o", bin, "../stegod").CombinedOutput(); err != nil {
		t.Fatalf("build stegod: %v\n%s", err, out)
	}
	for _, fault := range []string{"kill", "term"} {
		r := stegoctl(t, "", "bench", "failover", "--fault", fault, "--trials", "2", "--json", "--stegod", bin)
		if r.code != exitOK {
			t.Fatalf("%s: exit %d: %s", fault, r.code, r.stderr)
		}
		var res failoverResult
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("%s: %v: %q", fault, err, r.stdout)
		}
		if res.Fault != fault || res.Trials != 2 || len(res.SamplesMs) != 2 || res.P50Ms <= 0 || res.MaxMs < res.P50Ms {
			t.Fatalf("%s: %+v", fault, res)
		}
		t.Logf("%s: %v ms", fault, res.SamplesMs)
	}
	if r := stegoctl(t, "", "bench", "failover", "--fault", "explode"); r.code != exitUsage {
		t.Fatalf("bad fault: exit %d", r.code)
	}
}

// A failed bench's message points at the local cluster's logs: they must
// still be there afterwards, while a bench that never pointed at them
// leaves nothing behind.
func TestLocalClusterKeepsTheLogsItPointedAt(t *testing.T) {
	for _, hinted := range []bool{false, true} {
		dir := t.TempDir()
		c := &processCluster{dir: filepath.Join(dir, "cluster")}
		if err := os.Mkdir(c.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if hinted && !strings.Contains(c.Hint(), c.dir) {
			t.Fatalf("hint %q does not name %s", c.Hint(), c.dir)
		}
		c.Close()
		if _, err := os.Stat(c.dir); (err == nil) != hinted {
			t.Errorf("hinted %v: directory kept = %v", hinted, err == nil)
		}
	}
}
