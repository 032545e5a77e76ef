package stego

import (
	"fmt"
	"slices"
	"sort"
)

// The stream order of samples.
//
// Samples are grouped into units of unitSize consecutive samples in raster
// order. The keyed order visits the full units in a keyed order
// (unitOrder, below), each unit's samples in raster order, then the few
// samples after the last full unit ("the tail") in raster order. The
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
	saltUnits   = 8 * saltSize / unitSize // version 3: the units holding the salt
)

// unitOrder is a keyed order of an image's full units: stream position
// to unit (at) and back (indexes).
//
// Up to version 2 it is one permutation of all units, keyed by the
// password alone (legacyUnitOrder). From version 3 (saltedUnitOrder) the
// first saltUnits positions are the first units of a public
// permutation, which hold the salt and can be read before any key is
// known, and the rest follow a permutation of the other units keyed by
// the salted master key: with the cover, learning where a guessed
// password puts the header costs the guess's Argon2id.
type unitOrder struct {
	fixed  []int          // version 3: the salt's units, in stream order
	sorted []int          // fixed, sorted
	below  [saltUnits]int // below[k]: units not in fixed that precede sorted[k]
	perm   *permutation   // over the units not in fixed
}

// legacyUnitOrder is versions 1 and 2's order of units units.
func legacyUnitOrder(units int, seed [32]byte) unitOrder {
	return unitOrder{perm: newPermutation(units, seed)}
}

// saltUnitsOf returns the units that hold version 3's salt in an image
// of units full units, in stream order.
func saltUnitsOf(units int) ([]int, error) {
	seed, err := saltPositionSeed()
	if err != nil {
		return nil, err
	}
	p := newPermutation(units, seed)
	fixed := make([]int, saltUnits)
	for i := range fixed {
		fixed[i] = p.at(i)
	}
	return fixed, nil
}

// saltedUnitOrder is version 3's order: the salt's units (saltUnitsOf),
// then the others as seed permutes them.
func saltedUnitOrder(units int, fixed []int, seed [32]byte) unitOrder {
	if len(fixed) != saltUnits {
		panic(fmt.Sprintf("stego: %d salt units, want %d", len(fixed), saltUnits)) // below holds exactly saltUnits
	}
	u := unitOrder{fixed: fixed, sorted: slices.Sorted(slices.Values(fixed)), perm: newPermutation(units-len(fixed), seed)}
	for k, f := range u.sorted {
		u.below[k] = f - k
	}
	return u
}

// at returns the unit at stream position i.
func (u *unitOrder) at(i int) int {
	if i < len(u.fixed) {
		return u.fixed[i]
	}
	j := u.perm.at(i - len(u.fixed))
	if u.fixed == nil {
		return j
	}
	// The j-th unit not in fixed is j plus the fixed units below it,
	// which are those with at most j others below them. Counted without
	// an early exit: the count is data-dependent, a loop that stopped at
	// it would mispredict on nearly every call, and embedding calls this
	// once per unit that a change falls in.
	c := 0
	for _, b := range &u.below {
		if b <= j {
			c++
		}
	}
	return j + c
}

// indexes sets out[i] to the stream position of unit from+i. The units
// between two fixed ones are consecutive in the permuted domain, so each
// such run is one batch of the permutation's inverse.
func (u *unitOrder) indexes(from int, out []int) {
	next, _ := slices.BinarySearch(u.sorted, from) // fixed units below from
	for i := 0; i < len(out); {
		unit := from + i
		if next < len(u.sorted) && u.sorted[next] == unit {
			out[i] = slices.Index(u.fixed, unit)
			next++
			i++
			continue
		}
		end := len(out)
		if next < len(u.sorted) {
			end = min(end, u.sorted[next]-from)
		}
		run := out[i:end]
		u.perm.indexes(unit-next, run)
		for k := range run {
			run[k] += len(u.fixed)
		}
		i = end
	}
}

// sampleOrder maps stream positions to samples and back for one image,
// key and mode.
type sampleOrder struct {
	samples   int
	fullUnits int
	units     unitOrder
	mode      Mode
	headerAt  []int // sequential mode: raster units of the header, sorted
}

// newSampleOrder needs at least headerUnits full units, which any image
// with samples > headerSamples has; units must order samples/unitSize
// units.
func newSampleOrder(samples int, units unitOrder, mode Mode) *sampleOrder {
	o := &sampleOrder{samples: samples, fullUnits: samples / unitSize, units: units, mode: mode}
	if mode == ModeSequential {
		o.headerAt = make([]int, headerUnits)
		for i := range o.headerAt {
			o.headerAt[i] = o.units.at(i)
		}
		sort.Ints(o.headerAt)
	}
	return o
}

// headerSample returns the sample holding header bit i.
func (o *sampleOrder) headerSample(i int) int {
	return o.units.at(i/unitSize)*unitSize + i%unitSize
}

// bodyUnits is the number of full units in the body.
func (o *sampleOrder) bodyUnits() int { return o.fullUnits - headerUnits }

// tailStart is the first sample after the last full unit.
func (o *sampleOrder) tailStart() int { return o.fullUnits * unitSize }

// cursor maps body positions to samples; positions asked of one cursor
// must not decrease.
func (o *sampleOrder) cursor() *bodyCursor {
	return &bodyCursor{o: o, lastT: -1}
}

type bodyCursor struct {
	o    *sampleOrder
	next int // sequential: how many header units lie before the last unit
	// keyed: the last unit asked for and where it is. A dense payload
	// changes several samples of a unit, each asked for in turn.
	lastT, lastU int
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
		if t != c.lastT {
			c.lastT, c.lastU = t, o.units.at(headerUnits+t)
		}
		u = c.lastU
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
	o.units.indexes(from, out)
	for i, j := range out {
		if j -= headerUnits; j < 0 {
			out[i] = -1
		} else {
			out[i] = j * unitSize
		}
	}
}
