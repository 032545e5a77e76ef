package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/stegocluster/stegocluster/stego"
)

func runAnalyze(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("analyze", "IMAGE [--cover ORIGINAL] [--json] [--rich-model=false]", `  stegoctl analyze suspect.png
  stegoctl analyze photo.stego.png --cover photo.png --json
  stegoctl analyze photo.stego.png --rich-model=false   # the classic tests only
`, stderr)
	var (
		cover     = fs.String("cover", "", "the original cover, to report PSNR and changed samples")
		asJSON    = fs.Bool("json", false, "print JSON")
		richModel = fs.Bool("rich-model", true, fmt.Sprintf("run the trained rich-model detector beside the classic tests (it catches what they miss, but also flags about %.0f%% of clean photos; about 0.5 s of CPU per megapixel, at most 2048×2048 analysed; docs/stealth.md); --rich-model=false for the classic tests alone", 100*stego.RichModelFalseAlarmRate))
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
	a, err := stego.AnalyzeImageWith(img, coverImg, stego.AnalyzeOptions{RichModel: *richModel})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(a)
	}
	// The report is many small writes: remember the first failure (a
	// full disk, a closed pipe) and report it, or the command would say
	// it succeeded.
	out := &firstErrorWriter{w: stdout}
	stdout = out
	verdict := "no sign of LSB embedding"
	switch {
	case a.Suspicious:
		verdict = "SUSPICIOUS"
	case len(a.FlaggedBy) > 0:
		verdict = "SUSPICIOUS (rich model only: worth a closer look, not proof)"
	}
	fmt.Fprintf(stdout, "%s: %dx%d, %d channels, %d-bit — %s\n", path, a.Width, a.Height, a.Channels, a.BitDepth, verdict)
	fmt.Fprintf(stdout, "  chi-square    p=%.4f (whole image), suspect prefix %.0f%%\n", a.ChiSquare.PValue, 100*a.ChiSquare.SuspectFraction)
	fmt.Fprintf(stdout, "  RS            rate %.4f bits/channel (flagged above %.4f)\n", a.RS.Rate, a.RS.Threshold)
	fmt.Fprintf(stdout, "  SPA           rate %.4f bits/channel (flagged above %.4f)\n", a.SPA.Rate, a.SPA.Threshold)
	if j := a.JPEGCompat; j != nil {
		switch {
		case !j.JPEGLike:
			fmt.Fprintf(stdout, "  JPEG compat   not a decoded JPEG\n")
		case j.Modified:
			fmt.Fprintf(stdout, "  JPEG compat   decoded JPEG (about quality %d) MODIFIED since: %d of %d blocks changed (flagged from %d)\n", j.Quality, j.Incompatible, j.MCUs, j.MinIncompatible)
		default:
			fmt.Fprintf(stdout, "  JPEG compat   decoded JPEG (about quality %d), not modified: %d of %d blocks changed (flagged from %d)\n", j.Quality, j.Incompatible, j.MCUs, j.MinIncompatible)
		}
	}
	if rm := a.RichModel; rm != nil {
		fa := 100 * stego.RichModelFalseAlarmRate
		if rm.Verdict == stego.RichModelSkipped {
			fmt.Fprintf(stdout, "  rich model    skipped: %s\n", rm.Skipped)
		} else {
			fmt.Fprintf(stdout, "  rich model    (false alarms on about %.0f%% of clean photos) score %.2f (stego above %.2f): %s, on %dx%d at (%d,%d)\n",
				fa, rm.Score, rm.Threshold, rm.Verdict, rm.Region.Width, rm.Region.Height, rm.Region.X, rm.Region.Y)
		}
	}
	if d := a.Distortion; d != nil {
		fmt.Fprintf(stdout, "  vs cover      PSNR %.2f dB, MSE %.5f, %d samples changed (%.3f%%), max change %d\n",
			d.PSNR, d.MSE, d.ChangedSamples, 100*d.ChangedFraction, d.MaxAbsChange)
	}
	fmt.Fprintf(stdout, "  summary       %s\n", a.Summary)
	for _, r := range a.Reasons {
		fmt.Fprintf(stdout, "  - %s\n", r)
	}
	if rm := a.RichModel; rm != nil {
		for _, n := range rm.Notes {
			fmt.Fprintf(stdout, "  rich model: %s\n", n)
		}
	}
	if out.err != nil {
		return fmt.Errorf("write the report: %w", out.err)
	}
	return nil
}

// firstErrorWriter writes to w until a write fails, then keeps that
// error and writes nothing more.
type firstErrorWriter struct {
	w   io.Writer
	err error
}

func (f *firstErrorWriter) Write(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.w.Write(p)
	f.err = err
	return n, err
}
