package stego_test

import (
	"fmt"
	"image"
	"image/draw"
	_ "image/png"
	"log"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/stegocluster/stegocluster/stego"
)

// Analyze a clean photograph, then the same photograph after a naive tool
// has written random bits over the LSBs of its first 20% of samples.
func ExampleAnalyze() {
	f, err := os.Open("../testdata/covers/street-640x426.png")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	cover, _, err := image.Decode(f)
	if err != nil {
		log.Fatal(err)
	}

	clean, err := stego.Analyze(cover, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("clean photo suspicious:", clean.Suspicious)

	// Sequential LSB replacement, the way the simplest tools embed:
	// R, G, B of each pixel in turn, from the top-left corner.
	m := image.NewRGBA(cover.Bounds())
	draw.Draw(m, m.Bounds(), cover, cover.Bounds().Min, draw.Src)
	rng := rand.New(rand.NewPCG(1, 2))
	samples := 3 * len(m.Pix) / 4
	for s := range samples / 5 {
		i := s/3*4 + s%3 // skip alpha
		m.Pix[i] = m.Pix[i]&^1 | byte(rng.Uint32()&1)
	}

	a, err := stego.Analyze(m, cover)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("after LSB replacement suspicious:", a.Suspicious)
	for _, r := range a.Reasons {
		fmt.Println("  flagged by", r[:strings.Index(r, ":")])
	}
	fmt.Printf("changed samples: %.0f%%\n", 100*a.Distortion.ChangedFraction)
	// Output:
	// clean photo suspicious: false
	// after LSB replacement suspicious: true
	//   flagged by chi-square
	//   flagged by RS
	//   flagged by SPA
	// changed samples: 10%
}
