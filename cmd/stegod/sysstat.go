package main

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/procfs"

	"github.com/stegocluster/stegocluster/wire"
)

// sysStats samples this process's and the host's CPU and memory once a
// second from /proc, for the node registry.
type sysStats struct {
	mu     sync.Mutex
	latest wire.NodeMetrics // only the process and host fields are set
}

// snapshot returns the latest sample.
func (s *sysStats) snapshot() wire.NodeMetrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest
}

// run samples until ctx ends. Where /proc is unreadable the figures stay
// zero rather than failing the node.
func (s *sysStats) run(ctx context.Context) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return
	}
	var lastProc, lastBusy, lastTotal float64
	last := time.Now()
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		now := time.Now()
		elapsed := now.Sub(last).Seconds()
		last = now
		var cpuPct, memPct, hostCPU, hostMem float64
		var rss uint64
		var memTotal uint64
		if mi, err := fs.Meminfo(); err == nil && mi.MemTotal != nil && *mi.MemTotal > 0 {
			memTotal = *mi.MemTotal * 1024
			if mi.MemAvailable != nil {
				hostMem = 100 * (1 - float64(*mi.MemAvailable)/float64(*mi.MemTotal))
			}
		}
		if self, err := fs.Self(); err == nil {
			if st, err := self.Stat(); err == nil {
				cpu := st.CPUTime()
				if lastProc > 0 && elapsed > 0 {
					cpuPct = 100 * (cpu - lastProc) / elapsed
				}
				lastProc = cpu
				rss = uint64(st.ResidentMemory())
				if memTotal > 0 {
					memPct = 100 * float64(rss) / float64(memTotal)
				}
			}
		}
		if st, err := fs.Stat(); err == nil {
			c := st.CPUTotal
			busy := c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal
			total := busy + c.Idle + c.Iowait
			if lastTotal > 0 && total > lastTotal {
				hostCPU = 100 * (busy - lastBusy) / (total - lastTotal)
			}
			lastBusy, lastTotal = busy, total
		}
		s.mu.Lock()
		s.latest = wire.NodeMetrics{CPUPct: cpuPct, MemPct: memPct, HostCPUPct: hostCPU, HostMemPct: hostMem, RSSBytes: rss}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
