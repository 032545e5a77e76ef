package stego

import (
	"fmt"
	"testing"
)

// Both versions' unit orders are bijections of the full units, indexes
// inverts at over any batch (runs split by the salt's units included),
// and version 3's order puts the salt's public units first.
func TestUnitOrderIsABijection(t *testing.T) {
	for _, units := range []int{headerUnits, headerUnits + 1, 100, 1000, 4097} {
		fixed, err := saltUnitsOf(units)
		if err != nil {
			t.Fatal(err)
		}
		seed := [32]byte{1, 2, 3}
		for _, c := range []struct {
			name  string
			order unitOrder
		}{
			{"legacy", legacyUnitOrder(units, seed)},
			{"salted", saltedUnitOrder(units, fixed, seed)},
		} {
			t.Run(fmt.Sprintf("%s/%d", c.name, units), func(t *testing.T) {
				pos := make([]int, units) // unit → stream position
				for i := range pos {
					pos[i] = -1
				}
				for i := range units {
					u := c.order.at(i)
					if u < 0 || u >= units || pos[u] >= 0 {
						t.Fatalf("at(%d) = %d: out of range or repeated", i, u)
					}
					pos[u] = i
				}
				if c.order.fixed != nil {
					for i, u := range fixed {
						if c.order.at(i) != u {
							t.Fatalf("stream position %d is unit %d, want the salt's unit %d", i, c.order.at(i), u)
						}
					}
				}
				for _, batch := range [][2]int{{0, units}, {units / 3, units - units/3}, {units - 1, 1}, {7, min(50, units-7)}} {
					out := make([]int, batch[1])
					c.order.indexes(batch[0], out)
					for i, p := range out {
						if p != pos[batch[0]+i] {
							t.Fatalf("indexes(%d)[%d] = %d, want %d", batch[0], i, p, pos[batch[0]+i])
						}
					}
				}
			})
		}
	}
}
