package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/stegocluster/stegocluster/stego"
)

func runAnalyze(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("analyze", "IMAGE [--cover ORIGINAL] [--json]", `  stegoctl analyze suspect.png
  stegoctl analyze photo.stego.png --cover photo.png --json
`, stderr)
	var (
		cover  = fs.String("cover", "", "the original cover, to report PSNR and changed samples")
		asJSON = fs.Bool("json", false, "print JSON")
	)
	// Accept the image before or after the flags.
	var path string
	if len(args) > 0 && len(args[0]) > 0 && (args[0][0] != '-' || args[0] == "-") {
		path, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if path == "" && fs.NArg() == 1 {
		path = fs.Arg(0)
	} else if fs.NArg() != 0 || path == "" {
		return fmt.Errorf("%w: want exactly one image", errUsage)
	}
	img, err := decodeImageFile(path, stdin)
	if err != nil {
		return err
	}
	var coverImg *stego.Image
	if *cover != "" {
		if coverImg, err = decodeImageFile(*cover, stdin); err != nil {
			return err
		}
	}
	a, err := stego.AnalyzeImage(img, coverImg)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(a)
	}
	verdict := "no sign of LSB embedding"
	if a.Suspicious {
		verdict = "SUSPICIOUS"
	}
	fmt.Fprintf(stdout, "%s: %dx%d, %d channels, %d-bit — %s\n", path, a.Width, a.Height, a.Channels, a.BitDepth, verdict)
	fmt.Fprintf(stdout, "  chi-square    p=%.4f (whole image), suspect prefix %.0f%%\n", a.ChiSquare.PValue, 100*a.ChiSquare.SuspectFraction)
	fmt.Fprintf(stdout, "  RS            rate %.4f bits/channel (flagged above %.4f)\n", a.RS.Rate, a.RS.Threshold)
	fmt.Fprintf(stdout, "  SPA           rate %.4f bits/channel (flagged above %.4f)\n", a.SPA.Rate, a.SPA.Threshold)
	if d := a.Distortion; d != nil {
		fmt.Fprintf(stdout, "  vs cover      PSNR %.2f dB, MSE %.5f, %d samples changed (%.3f%%), max change %d\n",
			d.PSNR, d.MSE, d.ChangedSamples, 100*d.ChangedFraction, d.MaxAbsChange)
	}
	for _, r := range a.Reasons {
		fmt.Fprintf(stdout, "  - %s\n", r)
	}
	return nil
}
