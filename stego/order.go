package stego

import "sort"

// The stream order of samples.
//
// Samples are grouped into units of unitSize consecutive samples in raster
// order. The keyed order visits the full units in the order of a keyed
// permutation (permute.go), each unit's samples in raster order, then the
// few samples after the last full unit ("the tail") in raster order. The
// first headerUnits units of that order carry the header; the rest is the
// body.
//
// Permuting units rather than single samples costs one permutation
// evaluation per eight samples and lets a unit's slots be read and written
// as whole bytes; the units used are still spread uniformly over the
// image, and with matrix coding only about one sample per 2^k-1 slots
// changes, so what changes is as scattered as with a per-sample order.
//
// The sequential order visits the body units in raster order instead
// (the header stays where the keyed order puts it), then the tail.
const (
	unitSize    = 8
	headerUnits = headerSamples / unitSize
)

// sampleOrder maps stream positions to samples and back for one image,
// key and mode.
type sampleOrder struct {
	samples   int
	fullUnits int
	perm      *permutation // over the full units
	mode      Mode
	headerAt  []int // sequential mode: raster units of the header, sorted
}

// newSampleOrder needs at least headerUnits full units, which any image
// with samples > headerSamples has.
func newSampleOrder(samples int, seed [32]byte, mode Mode) *sampleOrder {
	o := &sampleOrder{samples: samples, fullUnits: samples / unitSize, mode: mode}
	o.perm = newPermutation(o.fullUnits, seed)
	if mode == ModeSequential {
		o.headerAt = make([]int, headerUnits)
		for i := range o.headerAt {
			o.headerAt[i] = o.perm.at(i)
		}
		sort.Ints(o.headerAt)
	}
	return o
}

// headerSample returns the sample holding header bit i.
func (o *sampleOrder) headerSample(i int) int {
	return o.perm.at(i/unitSize)*unitSize + i%unitSize
}

// bodyUnits is the number of full units in the body.
func (o *sampleOrder) bodyUnits() int { return o.fullUnits - headerUnits }

// tailStart is the first sample after the last full unit.
func (o *sampleOrder) tailStart() int { return o.fullUnits * unitSize }

// cursor maps body positions to samples; positions asked of one cursor
// must not decrease.
func (o *sampleOrder) cursor() *bodyCursor {
	return &bodyCursor{o: o}
}

type bodyCursor struct {
	o    *sampleOrder
	next int // sequential: how many header units lie before the last unit
}

func (c *bodyCursor) sample(p int) int {
	o := c.o
	if p >= o.bodyUnits()*unitSize {
		return p + headerSamples // the tail, in raster order
	}
	t := p / unitSize
	var u int
	if o.mode == ModeSequential {
		u = t + c.next
		for c.next < len(o.headerAt) && o.headerAt[c.next] <= u {
			c.next++
			u++
		}
	} else {
		u = o.perm.at(headerUnits + t)
	}
	return u*unitSize + p%unitSize
}

// indexer maps raster units, asked in increasing order, to the body
// position of their first sample, or -1 for a header unit. It is the
// inverse of the cursor, and lets the kernel read the raster
// sequentially.
func (o *sampleOrder) indexer(fromUnit int) *unitIndexer {
	x := &unitIndexer{o: o}
	if o.mode == ModeSequential {
		x.next = sort.SearchInts(o.headerAt, fromUnit)
	}
	return x
}

type unitIndexer struct {
	o    *sampleOrder
	next int // sequential: how many header units lie before the last unit
}

// bodyPositions sets out[i] to the body position of unit from+i's first
// sample, or -1 for a header unit. In keyed modes it inverts the
// permutation for the whole batch first and walks the few cycles that
// leave the domain afterwards: a loop without branches lets the CPU
// overlap the batch's table lookups, where one unit at a time waits on
// each unit's cycle-walking branch.
func (x *unitIndexer) bodyPositions(from int, out []int) {
	o := x.o
	if o.mode == ModeSequential {
		for i := range out {
			u := from + i
			for x.next < len(o.headerAt) && o.headerAt[x.next] < u {
				x.next++
			}
			if x.next < len(o.headerAt) && o.headerAt[x.next] == u {
				out[i] = -1
			} else {
				out[i] = (u - x.next) * unitSize
			}
		}
		return
	}
	o.perm.indexes(from, out)
	for i, j := range out {
		if j -= headerUnits; j < 0 {
			out[i] = -1
		} else {
			out[i] = j * unitSize
		}
	}
}
