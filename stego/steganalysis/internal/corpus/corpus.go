// Package corpus prepares the photographs of testdata/photos the way the
// detector is trained and tested on them: decoded, downscaled, and cut
// into square crops. The training command and the package's tests share
// it, so that a test checks the model on exactly what it was trained on.
package corpus

import (
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // the photos are JPEG and PNG
	_ "image/png"
	"os"
)

// Load decodes the image file at path.
func Load(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return img, nil
}

// Halve downscales by 2 with a box filter: each output pixel is the
// rounded mean of a 2×2 block, in 8-bit sRGB values as stored. It
// removes a JPEG's block traces.
func Halve(img image.Image) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx()/2, b.Dy()/2
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var s [3]uint32
			for dy := 0; dy < 2; dy++ {
				for dx := 0; dx < 2; dx++ {
					r, g, bb, _ := img.At(b.Min.X+2*x+dx, b.Min.Y+2*y+dy).RGBA()
					s[0] += r >> 8
					s[1] += g >> 8
					s[2] += bb >> 8
				}
			}
			out.SetRGBA(x, y, color.RGBA{uint8((s[0] + 2) / 4), uint8((s[1] + 2) / 4), uint8((s[2] + 2) / 4), 255})
		}
	}
	return out
}

// Crops cuts up to max non-overlapping size×size crops, opaque RGB, from
// a grid centred on img.
func Crops(img image.Image, size, max int) []*image.RGBA {
	b := img.Bounds()
	nx, ny := b.Dx()/size, b.Dy()/size
	x0 := b.Min.X + (b.Dx()-nx*size)/2
	y0 := b.Min.Y + (b.Dy()-ny*size)/2
	var out []*image.RGBA
	for j := 0; j < ny; j++ {
		for i := 0; i < nx; i++ {
			if len(out) == max {
				return out
			}
			c := image.NewRGBA(image.Rect(0, 0, size, size))
			for y := 0; y < size; y++ {
				for x := 0; x < size; x++ {
					r, g, bb, _ := img.At(x0+i*size+x, y0+j*size+y).RGBA()
					c.SetRGBA(x, y, color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bb >> 8), 255})
				}
			}
			out = append(out, c)
		}
	}
	return out
}
