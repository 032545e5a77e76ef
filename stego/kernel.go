package stego

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math/bits"
	mrand "math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// The kernel moves bits between a byte stream and the samples of a raster.
//
// Samples are visited in the stream order of order.go. Each body sample
// contributes depth slots (its depth low bits, least significant first).
// Slots are grouped into Hamming blocks of n = 2^k-1; a block carries k
// message bits as its syndrome (the xor of the 1-based indices of its set
// slots), so embedding changes at most one slot per block.
//
// Reading ("gather") walks the raster in order and scatters each unit's
// slots into a slot bitset: sequential pixel reads, and a unit's slots are
// whole bytes, so goroutines on disjoint raster ranges never share a
// byte. Syndromes and changes are then computed over chunks of whole
// blocks, sized so that chunks start on a sample boundary and on a byte of
// the message stream; chunks share no sample and no message byte and run
// in parallel without locks.

// chunkAlign is a multiple of 8 (message bytes) and of every depth 1–4
// (sample boundaries: n is odd, so B·n ≡ 0 mod depth iff B ≡ 0 mod depth).
const chunkAlign = 192

// kernel binds a raster to a stream order and a body layout.
type kernel struct {
	r      *raster
	units  unitOrder
	order  *sampleOrder
	layout layout
}

// newKernel prepares the header's order; the raster must have more than
// headerSamples samples.
func newKernel(r *raster, units unitOrder) *kernel {
	return &kernel{r: r, units: units, order: newSampleOrder(r.dataSamples(), units, ModeKeyed)}
}

// setBody fixes the body's mode and layout.
func (k *kernel) setBody(mode Mode, l layout) {
	if mode != k.order.mode {
		k.order = newSampleOrder(k.r.dataSamples(), k.units, mode)
	}
	k.layout = l
}

// readHeader reads the header region's LSBs.
func (k *kernel) readHeader() []byte {
	out := make([]byte, headerSize)
	for i := 0; i < headerSamples; i++ {
		out[i/8] |= byte(k.r.sample(k.order.headerSample(i))&1) << (i % 8)
	}
	return out
}

// readSalt reads version 3's salt from its units (saltUnitsOf): the first
// 8·saltSize header bits, readable before any key is known.
func readSalt(r *raster, fixed []int) []byte {
	out := make([]byte, saltSize)
	for i := range 8 * saltSize {
		out[i/8] |= byte(r.sample(fixed[i/unitSize]*unitSize+i%unitSize)&1) << (i % 8)
	}
	return out
}

// writeHeader stores hdr (headerSize bytes) in the header region.
func (k *kernel) writeHeader(hdr []byte, rng *mrand.Rand) int {
	changed := 0
	for i := 0; i < headerSamples; i++ {
		s := k.order.headerSample(i)
		if want := int(hdr[i/8]>>(i%8)) & 1; k.r.sample(s)&1 != want {
			k.change(s, 1, 1, rng)
			changed++
		}
	}
	return changed
}

// change flips the bits in mask among the low depth bits of sample s.
// Keyed mode moves the value to the nearest one with the wanted low bits
// (for depth 1: ±1 at random, LSB matching), which avoids the
// pairs-of-values asymmetry LSB replacement leaves; sequential mode
// replaces the bits.
func (k *kernel) change(s, mask, depth int, rng *mrand.Rand) {
	v := k.r.sample(s)
	low := v & (1<<depth - 1)
	target := low ^ mask
	if k.order.mode == ModeSequential {
		k.r.setSample(s, v-low+target)
		return
	}
	delta := target - low
	alt := delta - 1<<depth
	if delta < 0 {
		alt = delta + 1<<depth
	}
	if abs(alt) < abs(delta) || (abs(alt) == abs(delta) && rng.IntN(2) == 0) {
		delta, alt = alt, delta
	}
	if nv := v + delta; nv < 0 || nv > k.r.maxSample() {
		delta = alt
	}
	k.r.setSample(s, v+delta)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// walkUnits calls fn(worker, u, p) for every full raster unit u whose
// body position p is below used, visiting the raster in order, split into
// one contiguous range per worker goroutine (fn may keep per-worker state
// indexed by worker). It returns ctx.Err() if ctx ended first; all
// goroutines have returned by then. Tail samples are the caller's.
func (k *kernel) walkUnits(ctx context.Context, workers, used int, fn func(worker, u, p int)) error {
	units := k.order.fullUnits
	var wg sync.WaitGroup
	for w := range workers {
		from, to := units*w/workers, units*(w+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			idx := k.order.indexer(from)
			var pos [64]int
			for u := from; u < to; u += len(pos) {
				if (u-from)&0xfff == 0 && ctx.Err() != nil {
					return
				}
				batch := pos[:min(len(pos), to-u)]
				idx.bodyPositions(u, batch)
				for i, p := range batch {
					if p >= 0 && p < used {
						fn(w, u+i, p)
					}
				}
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// workers is how many goroutines walk the raster.
func (k *kernel) workers() int {
	return max(1, min(runtime.GOMAXPROCS(0), k.order.fullUnits/4096))
}

// gather reads every body slot of the layout into a bitset indexed by
// slot (LSB-first bytes, readable as little-endian words; padded for the
// unaligned reads of syndromes). A unit's 8·depth slots are depth whole
// bytes at p·depth/8, so units never share a byte and workers write
// without locks.
func (k *kernel) gather(ctx context.Context) ([]byte, error) {
	d, slots, used := k.layout.depth, k.layout.slots(), k.layout.samplesUsed()
	set := make([]byte, k.slotBytes())
	mask := 1<<d - 1
	packed := d == 1 && !k.r.alpha && !k.r.depth16
	err := k.walkUnits(ctx, k.workers(), used, func(_, u, p int) {
		if packed {
			// Eight 8-bit samples in a row: gather their LSBs with one
			// multiply (bit 8i lands on bit 56+i).
			x := binary.LittleEndian.Uint64(k.r.pix[u*unitSize:]) & 0x0101010101010101
			set[p/unitSize] = byte(x * 0x0102040810204080 >> 56)
			return
		}
		var acc uint32
		for o := range unitSize {
			acc |= uint32(k.r.sample(u*unitSize+o)&mask) << (o * d)
		}
		for i := range d {
			set[p/unitSize*d+i] = byte(acc >> (8 * i))
		}
	})
	if err != nil {
		return nil, err
	}
	for s := k.order.tailStart(); s < k.r.dataSamples(); s++ {
		p := s - headerSamples
		if p >= used {
			break
		}
		v := k.r.sample(s) & mask
		for t := p * d; v != 0 && t < slots; t++ {
			set[t/8] |= byte(v&1) << (t % 8)
			v >>= 1
		}
	}
	return set, nil
}

// slotBytes is the size of a slot bitset, padding included.
func (k *kernel) slotBytes() int {
	return (k.layout.samplesUsed()+unitSize-1)/unitSize*k.layout.depth + 16
}

// applyChanges makes the changes listed in lists (entries sample<<8 |
// mask, from all chunks). Samples sit at keyed-random places, so the
// entries are first bucketed by raster region (a counting sort on the
// sample's high bits); each region is then small enough to stay in
// cache, and regions are applied by parallel workers without sharing a
// sample.
func (k *kernel) applyChanges(lists [][]uint64, rngs []*mrand.Rand) int {
	samples := k.r.dataSamples()
	shift := max(0, bits.Len(uint(samples))-10) // about a thousand regions
	counts := make([]int, samples>>shift+2)
	total := 0
	for _, l := range lists {
		for _, e := range l {
			counts[(e>>8)>>shift+1]++
		}
		total += len(l)
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	sorted := make([]uint64, total)
	for _, l := range lists {
		for _, e := range l {
			b := (e >> 8) >> shift
			sorted[counts[b]] = e
			counts[b]++
		}
	}
	// counts[b] is now the end of region b; split regions among workers.
	var wg sync.WaitGroup
	for w, rng := range rngs {
		from, to := total*w/len(rngs), total*(w+1)/len(rngs)
		// Move the cut to a region boundary so no sample is split.
		for from > 0 && from < total && sorted[from]>>8>>shift == sorted[from-1]>>8>>shift {
			from++
		}
		for to < total && to > 0 && sorted[to]>>8>>shift == sorted[to-1]>>8>>shift {
			to++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, e := range sorted[from:min(to, total)] {
				k.change(int(e>>8), int(e&0xff), k.layout.depth, rng)
			}
		}()
	}
	wg.Wait()
	return total
}

// chunk is a range of whole blocks.
type chunk struct{ first, end int }

// forEachChunk runs fn over chunks of the layout's blocks on up to
// GOMAXPROCS goroutines, with a syndrome buffer for each goroutine (see
// syndromes) that fn may use until it returns. It stops early, returning
// ctx.Err(), when ctx is cancelled; every goroutine has returned when it
// returns.
func (k *kernel) forEachChunk(ctx context.Context, fn func(c chunk, index int, syn *[]uint32)) error {
	blocks, per, count := k.layout.blocks(), k.blocksPerChunk(), k.chunks()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), count) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var syn []uint32
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= count {
					return
				}
				fn(chunk{first: i * per, end: min(blocks, (i+1)*per)}, i, &syn)
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// blocksPerChunk: ~64 Ki slots per chunk gives the scheduler enough
// pieces to balance and to notice cancellation.
func (k *kernel) blocksPerChunk() int {
	per := (1 << 16) / k.layout.n()
	return max(chunkAlign, per/chunkAlign*chunkAlign)
}

// chunks is the number of chunks forEachChunk runs.
func (k *kernel) chunks() int {
	per := k.blocksPerChunk()
	return (k.layout.blocks() + per - 1) / per
}

// syndromes computes the syndrome of each block of chunk c from the
// slot bitset, into *buf (grown if need be: one buffer per goroutine,
// reused chunk after chunk, rather than four bytes a block allocated
// over the whole body).
func (k *kernel) syndromes(c chunk, set []byte, buf *[]uint32) []uint32 {
	n := k.layout.n()
	*buf = slices.Grow((*buf)[:0], c.end-c.first)
	syn := (*buf)[:c.end-c.first]
	if n <= 63 {
		// Blocks fit a word: syndrome bit j is the parity of the block's
		// set slots i whose index i+1 has bit j set.
		masks := syndromeMasks(k.layout.k)
		for b := range syn {
			t := (c.first + b) * n
			word := binary.LittleEndian.Uint64(set[t/8:]) >> (t % 8)
			if t%8+n > 64 {
				word |= uint64(set[t/8+8]) << (64 - t%8)
			}
			word &= 1<<n - 1
			var sy uint32
			for j, m := range masks {
				sy |= uint32(bits.OnesCount64(word&m)&1) << j
			}
			syn[b] = sy
		}
		return syn
	}
	clear(syn) // accumulated below, and the buffer holds the last chunk's
	first, end := c.first*n, c.end*n
	for w := first / 64; w*64 < end; w++ {
		word := binary.LittleEndian.Uint64(set[8*w:])
		if w*64 < first {
			word &^= 1<<(first%64) - 1
		}
		if (w+1)*64 > end {
			word &= 1<<(end%64) - 1
		}
		for word != 0 {
			t := w*64 + bits.TrailingZeros64(word) - first
			word &= word - 1
			syn[t/n] ^= uint32(t%n + 1)
		}
	}
	return syn
}

// syndromeMasks returns, for each bit j of a k-bit syndrome, the slots i
// of a block whose 1-based index has bit j set.
func syndromeMasks(k int) []uint64 {
	masks := make([]uint64, k)
	for i := range 1<<k - 1 {
		for j := range masks {
			if (i+1)>>j&1 != 0 {
				masks[j] |= 1 << i
			}
		}
	}
	return masks
}

// messageBits returns k bits of msg starting at bit off (LSB-first
// within each byte); bits past the end read as zero.
func messageBits(msg []byte, off, k int) uint32 {
	var v uint32
	for i := 0; i < k; i++ {
		if j := off + i; j/8 < len(msg) {
			v |= uint32(msg[j/8]>>(j%8)&1) << i
		}
	}
	return v
}

// embed hides the sealed header and body and returns how many samples
// changed.
func (k *kernel) embed(ctx context.Context, msg, hdr []byte) (int, error) {
	var rngSeed [16]byte
	if _, err := rand.Read(rngSeed[:]); err != nil {
		return 0, fmt.Errorf("seed tie-breaking: %w", err)
	}
	s1, s2 := binary.LittleEndian.Uint64(rngSeed[:8]), binary.LittleEndian.Uint64(rngSeed[8:])
	rngs := make([]*mrand.Rand, k.workers())
	for i := range rngs {
		rngs[i] = mrand.New(mrand.NewPCG(s1, s2+uint64(i)))
	}
	n, d, kk := k.layout.n(), k.layout.depth, k.layout.k
	set, err := k.gather(ctx)
	if err != nil {
		return 0, err
	}
	lists := make([][]uint64, k.chunks())
	err = k.forEachChunk(ctx, func(c chunk, index int, synBuf *[]uint32) {
		cur := k.order.cursor()
		// At most one flip per block, so one entry per block at most:
		// sized once, the list never grows (growing it was most of what
		// embedding allocated).
		list := make([]uint64, 0, c.end-c.first)
		// Flips come out in increasing slot order; group them by sample
		// so each sample moves once, to the nearest value with all its
		// wanted bits.
		pending, pendingMask := -1, 0
		flush := func() {
			if pendingMask != 0 {
				list = append(list, uint64(cur.sample(pending))<<8|uint64(pendingMask))
			}
		}
		for i, sy := range k.syndromes(c, set, synBuf) {
			b := c.first + i
			flip := int(sy ^ messageBits(msg, b*kk, kk))
			if flip == 0 {
				continue
			}
			t := b*n + flip - 1
			if p := t / d; p != pending {
				flush()
				pending, pendingMask = p, 0
			}
			pendingMask |= 1 << (t % d)
		}
		flush()
		lists[index] = list
	})
	if err != nil {
		return 0, err
	}
	changed := k.applyChanges(lists, rngs)
	return changed + k.writeHeader(hdr, rngs[0]), nil
}

// extractBody reads the sealed body of the layout's size.
func (k *kernel) extractBody(ctx context.Context) ([]byte, error) {
	kk := k.layout.k
	out := make([]byte, (k.layout.bodyBits+7)/8)
	set, err := k.gather(ctx)
	if err != nil {
		return nil, err
	}
	err = k.forEachChunk(ctx, func(c chunk, _ int, synBuf *[]uint32) {
		syn := k.syndromes(c, set, synBuf)
		for i, sy := range syn {
			off := (c.first + i) * kk
			for j := 0; j < kk; j++ {
				if bit := off + j; bit < k.layout.bodyBits && sy>>j&1 != 0 {
					out[bit/8] |= 1 << (bit % 8)
				}
			}
		}
	})
	return out, err
}
