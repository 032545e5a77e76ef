package stego_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/stegocluster/stegocluster/stego"
)

// Hide a file in a photograph with a password, write the PNG, read it
// back and recover the file with its name and type.
func Example() {
	ctx := context.Background()
	coverBytes, err := os.ReadFile("../testdata/covers/street-640x426.png")
	if err != nil {
		log.Fatal(err)
	}
	cover, err := stego.Decode(coverBytes, 0)
	if err != nil {
		log.Fatal(err)
	}
	secret := stego.Secret{Name: "plan.txt", MIME: "text/plain", Data: []byte("meet at the old mill at dawn")}
	opts := stego.Options{Password: "correct horse battery staple"}

	result, _, err := stego.Embed(ctx, cover, secret, opts)
	if err != nil {
		log.Fatal(err)
	}
	var png bytes.Buffer
	if err := result.Encode(&png, stego.PNG); err != nil {
		log.Fatal(err)
	}

	img, err := stego.Decode(png.Bytes(), 0)
	if err != nil {
		log.Fatal(err)
	}
	got, err := stego.Extract(ctx, img, opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s (%s): %s\n", got.Name, got.MIME, got.Data)

	_, err = stego.Extract(ctx, img, stego.Options{Password: "wrong"})
	fmt.Println(errors.Is(err, stego.ErrNoHiddenData))
	// Output:
	// plan.txt (text/plain): meet at the old mill at dawn
	// true
}

// Capacity is exact: a secret of that size fits, one byte more does not,
// and the error says by how much.
func ExampleCapacity() {
	coverBytes, err := os.ReadFile("../testdata/covers/street-640x426.png")
	if err != nil {
		log.Fatal(err)
	}
	cover, err := stego.Decode(coverBytes, 0)
	if err != nil {
		log.Fatal(err)
	}
	opts := stego.Options{Depth: 1, DisableCompression: true}
	capacity, err := stego.Capacity(cover, opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("capacity:", capacity)

	_, _, err = stego.Embed(context.Background(), cover, stego.Secret{Data: make([]byte, capacity+1)}, opts)
	var tooLarge *stego.CapacityError
	if errors.As(err, &tooLarge) {
		fmt.Printf("needs %d, holds %d\n", tooLarge.Needed, tooLarge.Available)
	}
	// Output:
	// capacity: 102177
	// needs 102178, holds 102177
}
