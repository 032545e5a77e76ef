package stego

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"sync"

	"github.com/stegocluster/stegocluster/stego/internal/adaptivetune"
)

// Adaptive mode (ModeAdaptive; docs/format.md is the normative text).
//
// The header is today's: the same sealed 45 bytes in the first 360 keyed
// samples, one LSB each, with mode byte 2, depth 1 and the k byte holding
// the syndrome-trellis code's constraint height h. The body's samples are
// the rest of the keyed order. They are split into passes: by colour
// channel, then by the pixel's 2×2 sub-lattice (x mod 2, y mod 2), each
// pass's samples in keyed order; the body's bits are split over the
// passes in proportion to their sizes, and each pass into segments of at
// most adaptiveSegment samples, likewise. Each segment carries its bits
// as the syndrome of its LSBs under the trellis code of stc.go.
//
// The embedder gives each sample its HILL cost (hill.go) and embeds the
// passes in order. Before a pass it looks at the changes already made at
// the same pixel in the other channels and at the four neighbours in the
// same channel: where they lean one way (the sum of their ±1 is not 0)
// and that way is possible, the sample's cost is divided by syncFactor
// and, if the code flips its LSB, it moves that way; elsewhere the
// direction is random (or the only one possible at 0 and at the maximum).
// This is CMD, "clustering modification directions" (Li et al., IEEE TIFS
// 2015; for colour components, Tang et al., IEEE SPL 2016): changes
// that agree across channels keep the channels' residuals correlated as
// in a cover, which our detector's colour block measures, and changes
// that agree with their neighbours leave smoother residuals for its SRM
// block. The sub-lattices make sure a pass never depends on itself: the
// four neighbours of a pixel are in other sub-lattices. Binary coding
// (LSB parity) leaves the direction of each flip free, which is what
// makes this cost nothing in payload.

// adaptiveSegment bounds a trellis segment: the Viterbi back-pointers
// take 2^h bits per sample, 1 MiB per segment at h = 7, and segments run
// in parallel, so embedding holds at most GOMAXPROCS MiB of them
// whatever the image's size (a 960×640 RGB cover in one segment would
// need 29 MB per image).
const adaptiveSegment = 1 << 16

// defaultSyncFactor is CMD's α: the cost of a flip that follows its
// neighbours' direction is divided by it (Li et al. found 9 best for
// HILL-class costs).
const defaultSyncFactor = 9

// adaptiveBodyCapacityBytes is the largest sealed body adaptive mode
// embeds: one bit per two body samples (code rate ≤ 1/2). Above that the
// trellis code has little freedom left to pick cheap samples, and the
// stealth the mode exists for is gone; keyed mode carries up to twice as
// much.
func adaptiveBodyCapacityBytes(samples int) int {
	if samples <= headerSamples {
		return 0
	}
	return (samples - headerSamples) / 16
}

// adaptivePasses lists the body samples of each pass in keyed order.
// The order maps units of unitSize consecutive samples, so it is asked
// once per unit.
func adaptivePasses(r *raster, order *sampleOrder) [][]int32 {
	c, w, h := r.channels, r.width, r.height
	n := r.dataSamples() - headerSamples
	passes := make([][]int32, 4*c)
	for i := range passes {
		// Every sample of the pass's channel and sub-lattice: a few more
		// than it gets, since the header takes some.
		dy, dx := i/2%2, i%2
		passes[i] = make([]int32, 0, (h-dy+1)/2*((w-dx+1)/2))
	}
	cur := order.cursor()
	for p := 0; p < n; p += unitSize {
		first := cur.sample(p)
		for s := first; s < first+min(unitSize, n-p); s++ {
			pixel := s / c
			i := s%c*4 + pixel/w%2*2 + pixel%w%2
			passes[i] = append(passes[i], int32(s))
		}
	}
	return passes
}

// adaptiveSeg is one trellis: the pass's samples [from, to) and the
// message bits [msgFrom, msgTo) they carry.
type adaptiveSeg struct {
	from, to       int
	msgFrom, msgTo int
}

// adaptiveSegments splits m message bits over the passes and each pass
// over its segments, every split in proportion to the sample counts.
// A segment's bits never outnumber its samples when m is at most half
// the body (adaptiveBodyCapacityBytes); the reader checks it anyway.
func adaptiveSegments(passes [][]int32, m int) [][]adaptiveSeg {
	total := 0
	for _, p := range passes {
		total += len(p)
	}
	out := make([][]adaptiveSeg, len(passes))
	before := 0
	for i, p := range passes {
		from, to := share(m, before, total), share(m, before+len(p), total)
		before += len(p)
		n := len(p)
		segs := (n + adaptiveSegment - 1) / adaptiveSegment
		for t := range segs {
			out[i] = append(out[i], adaptiveSeg{
				from:    share(n, t, segs),
				to:      share(n, t+1, segs),
				msgFrom: from + share(to-from, t, segs),
				msgTo:   from + share(to-from, t+1, segs),
			})
		}
	}
	return out
}

// share is n*part/whole, 0 <= part <= whole, rounded down; the product
// is taken in 64 bits, which a 32-bit int cannot hold for a photograph's
// samples times its message bits.
func share(n, part, whole int) int { return int(int64(n) * int64(part) / int64(whole)) }

// embedAdaptive embeds msg (the sealed body) into the body samples of r
// in adaptive mode and returns how many samples changed. On error r may
// be partly embedded (the caller discards it, as after cancellation).
func embedAdaptive(ctx context.Context, r *raster, order *sampleOrder, msg []byte, h int, rng *mrand.Rand) (int, error) {
	alpha := adaptivetune.SyncFactor(ctx, defaultSyncFactor)
	rho, err := hillCosts(ctx, r)
	if err != nil {
		return 0, err
	}
	passes := adaptivePasses(r, order)
	segs := adaptiveSegments(passes, 8*len(msg))
	bits := make([]byte, 8*len(msg))
	for i := range bits {
		bits[i] = msg[i/8] >> (i % 8) & 1
	}
	dir := make([]int8, r.dataSamples()) // the change made to each sample: -1, 0, +1
	c, w, ht, maxV := r.channels, r.width, r.height, r.maxSample()
	workers := max(1, runtime.GOMAXPROCS(0))
	paths := make([][]uint64, workers)
	largest := 0
	for _, pass := range passes {
		largest = max(largest, len(pass))
	}
	// Per-pass scratch, allocated once at the largest pass's size.
	xs, ys := make([]byte, largest), make([]byte, largest)
	costs, prefs := make([]float32, largest), make([]int8, largest)
	changed := 0
	for pi, pass := range passes {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		x, y := xs[:len(pass)], ys[:len(pass)]
		cost, pref := costs[:len(pass)], prefs[:len(pass)]
		// prepare reads the samples, costs and the directions of earlier
		// passes' changes for the pass's samples [from, to); segments run
		// it in parallel, each on its own range.
		prepare := func(from, to int) {
			for i := from; i < to; i++ {
				s := int(pass[i])
				v := r.sample(s)
				x[i] = byte(v & 1)
				y[i] = x[i]
				cost[i] = rho[s]
				pref[i] = 0
				// The direction the changes already made lean to: the
				// other channels of this pixel, the 4-neighbours in this
				// channel.
				p, ch := s/c, s%c
				vote := 0
				for o := range c {
					if o != ch {
						vote += int(dir[p*c+o])
					}
				}
				px, py := p%w, p/w
				if px > 0 {
					vote += int(dir[s-c])
				}
				if px+1 < w {
					vote += int(dir[s+c])
				}
				if py > 0 {
					vote += int(dir[s-w*c])
				}
				if py+1 < ht {
					vote += int(dir[s+w*c])
				}
				d := int8(0)
				switch {
				case vote > 0 && v < maxV:
					d = 1
				case vote < 0 && v > 0:
					d = -1
				}
				if d != 0 && alpha > 1 {
					pref[i] = d
					cost[i] /= alpha
				}
			}
		}
		if err := runSegments(ctx, segs[pi], prepare, y, cost, bits, h, paths); err != nil {
			return 0, err
		}
		for i, s32 := range pass {
			if y[i] == x[i] {
				continue
			}
			s := int(s32)
			v := r.sample(s)
			d := pref[i]
			if d == 0 {
				d = 1
				if rng.IntN(2) == 0 {
					d = -1
				}
			}
			if v+int(d) < 0 || v+int(d) > maxV {
				d = -d
			}
			r.setSample(s, v+int(d))
			dir[s] = d
			changed++
		}
	}
	return changed, nil
}

// runSegments runs the trellis of every segment of one pass, in parallel
// on up to len(paths) goroutines (each keeps its back-pointer buffer in
// paths between passes). Before a segment's trellis, prepare(from, to)
// fills y with the cover LSBs and cost with the costs of the pass's
// samples [from, to) — every sample of the pass, since the segments
// cover it — and the trellis replaces y's by the stego LSBs. Every
// goroutine has returned when it returns.
func runSegments(ctx context.Context, segs []adaptiveSeg, prepare func(from, to int), y []byte, cost []float32, bits []byte, h int, paths [][]uint64) error {
	var wg sync.WaitGroup
	errs := make([]error, len(segs))
	next := make(chan int)
	for wi := range min(len(paths), len(segs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for si := range next {
				sg := segs[si]
				prepare(sg.from, sg.to)
				if sg.msgTo == sg.msgFrom {
					continue
				}
				if need := (sg.to - sg.from) * stcWords(h); len(paths[wi]) < need {
					paths[wi] = make([]uint64, need)
				}
				_, errs[si] = stcEmbed(ctx, h, y[sg.from:sg.to], cost[sg.from:sg.to], bits[sg.msgFrom:sg.msgTo], paths[wi])
			}
		}()
	}
	for si := range segs {
		if ctx.Err() != nil {
			break
		}
		next <- si
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// extractAdaptive reads a sealed body of bodyLen bytes in adaptive mode
// with constraint height h.
func extractAdaptive(ctx context.Context, r *raster, order *sampleOrder, bodyLen, h int) ([]byte, error) {
	passes := adaptivePasses(r, order)
	out := make([]byte, bodyLen)
	var cols stcColumnCache
	y := make([]byte, 0, adaptiveSegment) // one segment's LSBs at a time
	for pi, segs := range adaptiveSegments(passes, 8*bodyLen) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, sg := range segs {
			m := sg.msgTo - sg.msgFrom
			if m == 0 {
				continue
			}
			if m > sg.to-sg.from {
				return nil, fmt.Errorf("%w: header declares %d bytes, more than the image holds", ErrCorrupt, bodyLen)
			}
			y = y[:0]
			for _, s := range passes[pi][sg.from:sg.to] {
				y = append(y, byte(r.sample(int(s))&1))
			}
			stcExtract(h, y, m, &cols, func(i int, bit byte) {
				j := sg.msgFrom + i
				out[j/8] |= bit << (j % 8)
			})
		}
	}
	return out, nil
}

// newTieRand returns a generator seeded from crypto/rand for the choices
// no one must be able to predict or repeat (random ±1 directions).
func newTieRand() (*mrand.Rand, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("seed tie-breaking: %w", err)
	}
	return mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:]))), nil
}
