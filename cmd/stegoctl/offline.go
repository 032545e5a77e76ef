package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/stegocluster/stegocluster/stego"
)

// passwordFlags are shared by embed and extract.
type passwordFlags struct{ file string }

func (p *passwordFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.file, "password-file", "", "read the password from this file (first line); default: $STEGO_PASSWORD, else none")
}

// password reads the password from the file, else STEGO_PASSWORD. A
// password asked for but empty (an empty file, a blank first line, the
// variable set to nothing) is a usage error: taken as "no password", it
// would hide the secret under the public key, which anyone can read,
// while the user believes it protected.
func (p *passwordFlags) password() (string, error) {
	if p.file == "" {
		pw, set := os.LookupEnv("STEGO_PASSWORD")
		if set && pw == "" {
			return "", fmt.Errorf("%w: STEGO_PASSWORD is set but empty (unset it for no password)", errUsage)
		}
		return pw, nil
	}
	b, err := os.ReadFile(p.file)
	if err != nil {
		return "", fmt.Errorf("read password file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimSuffix(line, "\r"); line == "" {
		return "", fmt.Errorf("%w: the password file %s has no password on its first line", errUsage, p.file)
	}
	return line, nil
}

// readInput reads a file, or standard input for "-".
func readInput(path string, stdin io.Reader) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(path)
}

// writeSecret writes a recovered secret to a new file at path, readable
// by its owner only (it was a secret). The name may come from the image,
// which anyone can craft, so nothing already at path is touched: the file
// is created with O_EXCL, which also refuses a symlink placed there
// (dangling or not) instead of writing through it; O_NOFOLLOW says the
// same for systems that read O_EXCL loosely. With force an existing
// regular file or symlink is replaced, never followed: see replaceFile.
func writeSecret(path string, data []byte, force bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	switch {
	case errors.Is(err, os.ErrExist) && force:
		return replaceFile(path, data)
	case errors.Is(err, os.ErrExist):
		return fmt.Errorf("%q already exists (--force replaces it)", path)
	case err != nil:
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path) // ours: created above
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// replaceFile puts data at path in place of the regular file or symlink
// there: written to a new temporary file beside it and renamed over it.
// rename(2) replaces a symlink itself rather than its target, so a link
// planted in the output directory cannot redirect the write, and a failed
// write leaves the old file whole. Anything else at path (a directory, a
// device, a FIFO) is left alone.
func replaceFile(path string, data []byte) error {
	info, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() && info.Mode()&os.ModeSymlink == 0 {
		return fmt.Errorf("%q exists and is not a regular file or a symlink; not replaced", path)
	}
	// A short fixed prefix: the name itself may be 255 bytes, the limit.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".stegoctl-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeImage encodes img straight into the output file, through a
// temporary file in the same directory put in place on success, so a
// failed write never leaves a truncated image under the output name.
// Without force it is linked into place, which fails if anything is
// there by then; with force it is renamed over what is there (a symlink
// itself, not its target).
func writeImage(path string, img *stego.Image, f stego.Format, stdout io.Writer, force bool) error {
	if path == "-" {
		w := bufio.NewWriterSize(stdout, 1<<20)
		if err := img.Encode(w, f); err != nil {
			return err
		}
		return w.Flush()
	}
	// Not named after the output: a name near the 255-byte limit would
	// leave no room for the temporary file's suffix.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".stegoctl-*")
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("write output: %s: no such directory", filepath.Dir(path))
	} else if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := img.Encode(w, f); err != nil {
		tmp.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("write output: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write output: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if force {
		if err := os.Rename(tmp.Name(), path); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%q already exists (--force replaces it)", path)
	} else if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func decodeImageFile(path string, stdin io.Reader) (*stego.Image, error) {
	data, err := readInput(path, stdin)
	if err != nil {
		return nil, err
	}
	img, err := stego.Decode(data, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	collectBetweenPhases() // the file's bytes are garbage now
	return img, nil
}

// collectBetweenPhases runs a garbage collection between two phases of a
// one-shot command, so that the next phase reuses the memory the last
// one dropped. Batch commands run with the collector off (run, in
// main.go), so otherwise every buffer a later phase allocates is fresh
// memory that the kernel faults in page by page, at 1–11 µs a page on
// our VMs, while the dropped buffers (the compressed file once decoded,
// the embedding's scratch once embedded) sit unused. Collecting a heap
// of a few pointer-free buffers takes about half a millisecond
// (GODEBUG=gctrace=1); it saves a quarter of embed's page faults
// (docs/performance.md). A node needs none of this: it reuses its
// buffers from request to request.
func collectBetweenPhases() { runtime.GC() }

func runEmbed(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("embed", "--cover IMAGE --secret FILE -o OUT [flags]", `  stegoctl embed --cover photo.png --secret notes.pdf -o photo.stego.png
  STEGO_PASSWORD=hunter2 stegoctl embed --cover photo.jpg --secret key.txt --depth 2 -o out.png
  tar cz docs | stegoctl embed --cover photo.png --secret - --name docs.tgz -o - > out.png
`, stderr)
	var (
		pw         passwordFlags
		cover      = fs.String("cover", "", "cover image (PNG, JPEG, GIF, BMP, TIFF, WebP); - for stdin")
		secretPath = fs.String("secret", "", "file to hide; - for stdin")
		out        = fs.String("o", "", "output image; - for stdout")
		depth      = fs.Int("depth", 1, "low bits per channel that may carry data, 1-4 (more: capacity up, stealth down)")
		modeName   = fs.String("mode", "keyed", modeUsage)
		format     = fs.String("format", "", "output format: png or bmp (default: from -o's extension, else png; a lossy name such as .jpg is refused)")
		name       = fs.String("name", "", "file name stored with the secret (default: the secret's base name)")
		mimeType   = fs.String("mime", "", "MIME type stored with the secret (default: from the name or content)")
		noCompress = fs.Bool("no-compress", false, "store the secret uncompressed even if it compresses")
		force      = fs.Bool("force", false, "replace an existing output file (a symlink there is replaced, not followed)")
	)
	pw.register(fs)
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if *cover == "" || *secretPath == "" || *out == "" {
		return fmt.Errorf("%w: --cover, --secret and -o are required", errUsage)
	}
	// Checked before the work, and again when the image is put in place:
	// -o naming the cover, the secret or any file kept is a slip that
	// would lose it.
	if _, err := os.Lstat(*out); err == nil && *out != "-" && !*force {
		return fmt.Errorf("%q already exists (--force replaces it)", *out)
	}
	if *cover == "-" && *secretPath == "-" {
		return fmt.Errorf("%w: only one of --cover and --secret can be standard input", errUsage)
	}
	mode, err := stego.ParseMode(*modeName)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if *depth < 1 || *depth > 4 {
		return fmt.Errorf("%w: --depth %d (want 1-4)", errUsage, *depth)
	}
	outFormat, err := outputFormat(*format, *out)
	if err != nil {
		return err
	}
	password, err := pw.password()
	if err != nil {
		return err
	}
	img, err := decodeImageFile(*cover, stdin)
	if err != nil {
		return err
	}
	data, err := readInput(*secretPath, stdin)
	if err != nil {
		return fmt.Errorf("read secret: %w", err)
	}
	// A larger secret might fit once compressed, but extract (like a
	// node) refuses to decompress more than this: the image could not be
	// read back.
	if len(data) > stego.DefaultMaxSecretSize {
		return fmt.Errorf("the secret is %d bytes; extract reads back at most %d", len(data), stego.DefaultMaxSecretSize)
	}
	secret := stego.Secret{Data: data}
	secret.Name, secret.MIME, err = secretMeta(*name, *mimeType, *secretPath, func() string { return http.DetectContentType(data) })
	if err != nil {
		return err
	}
	if given := givenName(*name, *secretPath); given != "" && given != secret.Name {
		fmt.Fprintf(stderr, "note: name %q stored as %q\n", given, secret.Name)
	}
	opts := stego.Options{Password: password, Depth: *depth, Mode: mode, DisableCompression: *noCompress}
	stats, err := stego.EmbedInPlace(context.Background(), img, secret, opts)
	if errors.Is(err, stego.ErrInvalidOptions) { // e.g. adaptive at depth 2: the command line's
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if err != nil {
		return err
	}
	collectBetweenPhases() // the embedding's scratch, before the encoder's buffers
	// The advice reads the finished image (its JPEG-compatibility check
	// costs a few ms) while the encoder also only reads it.
	advice := make(chan stego.Stealth, 1)
	go func() { advice <- stego.StealthOf(img, opts, secret.Name, secret.MIME, stats) }()
	if err := writeImage(*out, img, outFormat, stdout, *force); err != nil {
		return err
	}
	result := img
	fmt.Fprintf(stderr, "hid %d bytes (%q, %s) in %dx%d cover: %.1f%% of capacity %d, %.4f bits per channel, matrix k=%d, %d samples changed\n",
		len(data), secret.Name, secret.MIME, img.Width(), img.Height(),
		100*float64(secret.Size())/float64(max(1, stats.Capacity)), stats.Capacity, stats.BitsPerChannel, stats.MatrixK, stats.ChangedSamples)
	for _, note := range result.Notes {
		fmt.Fprintf(stderr, "note: %s\n", note)
	}
	fmt.Fprintf(stderr, "stealth: %s\n", (<-advice).Advice)
	return nil
}

// outputFormat picks the image format from --format or the file name.
func outputFormat(flagValue, out string) (stego.Format, error) {
	f := strings.ToLower(flagValue)
	if f == "" {
		f = strings.TrimPrefix(strings.ToLower(filepath.Ext(out)), ".")
		switch f {
		case "bmp":
		case "jpg", "jpeg", "gif", "webp", "tif", "tiff", "avif", "heic":
			// A PNG under this name would be opened, and likely re-saved,
			// as what it is not; a real JPEG or WebP would destroy the
			// secret.
			return "", fmt.Errorf("%w: -o %s: stegoctl writes PNG or BMP only (lossless); name the file .png or .bmp, or say --format", errUsage, out)
		default:
			f = "png"
		}
	}
	switch stego.Format(f) {
	case stego.PNG, stego.BMP:
		return stego.Format(f), nil
	}
	return "", fmt.Errorf("%w: --format %q (want png or bmp)", errUsage, flagValue)
}

// secretMeta is the file name and MIME type embed stores: givenName's,
// made safe by stego.CleanName (so what extract writes is what embed
// said); --mime in canonical form, a usage error if it is not a MIME
// type, else the type of the name's extension, else sniff's answer (the
// type of the content), called only then. capacity uses it too, so its
// figure is for the name and type embed stores.
func secretMeta(nameFlag, mimeFlag, secretPath string, sniff func() string) (name, mimeType string, err error) {
	if name = givenName(nameFlag, secretPath); name != "" {
		name = stego.CleanName(name)
	}
	if mimeFlag != "" {
		if mimeType, err = stego.ParseMIME(mimeFlag); err != nil {
			return "", "", fmt.Errorf("%w: --mime: %v", errUsage, err)
		}
		return name, mimeType, nil
	}
	if mimeType = mime.TypeByExtension(filepath.Ext(name)); mimeType == "" {
		mimeType = sniff()
	}
	return name, stego.CleanMIME(mimeType), nil
}

// givenName is the name the user gave the secret: --name, else the secret
// file's base name, else none (standard input).
func givenName(nameFlag, secretPath string) string {
	if nameFlag == "" && secretPath != "" && secretPath != "-" {
		return filepath.Base(secretPath)
	}
	return nameFlag
}

func runExtract(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("extract", "-i IMAGE -o DIR|FILE [flags]", `  stegoctl extract -i photo.stego.png -o .          # writes the secret under its stored name
  stegoctl extract -i photo.stego.png -o notes.pdf
  stegoctl extract -i photo.stego.png -o . --force  # replaces a file of that name
  stegoctl extract -i out.png --password-file pw.txt -o - | less

The stored name is untrusted (anyone can write an image for the public
key): only its base name is used, a leading dot becomes _, unprintable
characters become _, and a note says so when the name was changed.
Nothing is overwritten without --force, and a symlink is never followed.
`, stderr)
	var (
		pw    passwordFlags
		in    = fs.String("i", "", "stego image; - for stdin")
		out   = fs.String("o", "", "output: a directory (the stored file name, cleaned, is used), a file, or - for stdout")
		force = fs.Bool("force", false, "replace an existing file (a symlink is replaced, never written through)")
	)
	pw.register(fs)
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if *in == "" || *out == "" {
		return fmt.Errorf("%w: -i and -o are required", errUsage)
	}
	password, err := pw.password()
	if err != nil {
		return err
	}
	img, err := decodeImageFile(*in, stdin)
	if err != nil {
		return err
	}
	secret, err := stego.Extract(context.Background(), img, stego.Options{Password: password})
	if err != nil {
		return err
	}
	if note := stego.VersionNote(secret.Version, password != ""); note != "" {
		fmt.Fprintf(stderr, "note: %s\n", note)
	}
	if *out == "-" {
		if _, err := stdout.Write(secret.Data); err != nil {
			return fmt.Errorf("write secret: %w", err)
		}
		return nil
	}
	path := *out
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		dir := filepath.Dir(path)
		if strings.HasSuffix(path, "/") { // meant as a directory
			dir = path
		}
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("write secret: %s: no such directory", dir)
		}
	}
	if err == nil && info.IsDir() {
		name := stego.CleanName(secret.Name)
		if secret.Name != "" && name != secret.Name {
			fmt.Fprintf(stderr, "note: stored name %q saved as %q\n", secret.Name, name)
		}
		path = filepath.Join(path, name)
	}
	if err := writeSecret(path, secret.Data, *force); err != nil {
		return fmt.Errorf("write secret: %w", err)
	}
	fmt.Fprintf(stderr, "recovered %d bytes (%s) to %q\n", len(secret.Data), stego.CleanMIME(secret.MIME), path)
	return nil
}

// modeUsage documents --mode for embed and capacity.
const modeUsage = "keyed (default: ±1 at keyed positions, matrix coding), adaptive (±1 where the image is busy, syndrome-trellis coding: harder to detect, half the capacity, about 15x the CPU) or sequential (LSB replacement in raster order; for comparison)"

// capacityReport is capacity's answer. CapacityBytes is how many bytes of
// data fit beside the name and MIME type embed would store (those of
// --secret, --name and --mime, else none); Assumes says what the figure
// assumes when the flags leave something open.
type capacityReport struct {
	Width           int    `json:"width"`
	Height          int    `json:"height"`
	Channels        int    `json:"channels"`
	LSBPerChannel   int    `json:"lsb_per_channel"`
	CapacityBytes   int    `json:"capacity_bytes"`
	Format          string `json:"format"`
	Name            string `json:"name,omitempty"`
	MIME            string `json:"mime,omitempty"`
	SecretSizeBytes *int   `json:"secret_size_bytes,omitempty"` // with --secret only
	Fits            *bool  `json:"fits,omitempty"`              // with --secret only: whether embed takes it (compressed if need be)
	Assumes         string `json:"assumes,omitempty"`
	// Stealth: how much stays stealthy against a modern detector and,
	// with --secret, how detectable that secret would be.
	Stealth stego.Stealth `json:"stealth"`
}

func runCapacity(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("capacity", "--cover IMAGE [flags]", `  stegoctl capacity --cover photo.png --name notes.pdf
  stegoctl capacity --cover photo.png --secret notes.pdf   # also says whether it fits
  stegoctl capacity --cover photo.png --depth 2 --json
`, stderr)
	var (
		cover      = fs.String("cover", "", "cover image; - for stdin")
		depth      = fs.Int("depth", 1, "low bits per channel, 1-4")
		modeName   = fs.String("mode", "keyed", modeUsage)
		asJSON     = fs.Bool("json", false, "print JSON")
		secretPath = fs.String("secret", "", "the file to hide: the figure is for its name and type, and the answer says whether it fits")
		name       = fs.String("name", "", "file name embed will store (default: the secret's base name); it costs its length")
		mimeType   = fs.String("mime", "", "MIME type embed will store (default: from the name or content); it costs its length")
	)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cover == "" && fs.NArg() == 1 {
		*cover = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q (one cover: --cover or a single argument)", errUsage, fs.Args())
	}
	if *cover == "" {
		return fmt.Errorf("%w: --cover is required", errUsage)
	}
	if *depth < 1 || *depth > 4 {
		return fmt.Errorf("%w: --depth %d (want 1-4)", errUsage, *depth)
	}
	if *cover == "-" && *secretPath == "-" {
		return fmt.Errorf("%w: only one of --cover and --secret can be standard input", errUsage)
	}
	img, err := decodeImageFile(*cover, stdin)
	if err != nil {
		return err
	}
	r := capacityReport{Width: img.Width(), Height: img.Height(), Channels: img.Channels(), LSBPerChannel: *depth, Format: img.SourceFormat}
	var secret stego.Secret
	switch {
	case *secretPath != "":
		if secret.Data, err = readInput(*secretPath, stdin); err != nil {
			return fmt.Errorf("read secret: %w", err)
		}
		if secret.Name, secret.MIME, err = secretMeta(*name, *mimeType, *secretPath, func() string { return http.DetectContentType(secret.Data) }); err != nil {
			return err
		}
	case *name != "" || *mimeType != "":
		secret.Name, secret.MIME, err = secretMeta(*name, *mimeType, "", func() string {
			r.Assumes = "the MIME type stored is application/octet-stream, what embed detects in binary content when the name gives no type (text would be stored as text/plain; charset=utf-8); pass --mime or --secret for the exact figure"
			return "application/octet-stream"
		})
		if err != nil {
			return err
		}
	default:
		r.Assumes = "a secret with no file name and no MIME type; embed stores both beside the data and each costs its length in bytes, so pass --name (and --mime) or --secret for the figure that fits exactly"
	}
	mode, err := stego.ParseMode(*modeName)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	opts := stego.Options{Depth: *depth, Mode: mode}
	capacity, err := stego.DataCapacity(img, opts, secret.Name, secret.MIME)
	switch {
	case errors.Is(err, stego.ErrInvalidOptions):
		return fmt.Errorf("%w: %v", errUsage, err)
	case err != nil:
		return err
	}
	r.CapacityBytes, r.Name, r.MIME = capacity, secret.Name, secret.MIME
	if *secretPath == "" {
		r.Stealth = stego.StealthFor(img, opts, secret.Name, secret.MIME, -1)
	} else {
		stealth, fits, err := stego.StealthForSecret(img, opts, secret)
		if err != nil {
			return err
		}
		size := len(secret.Data)
		r.Stealth, r.SecretSizeBytes, r.Fits = stealth, &size, &fits
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	return printCapacity(stdout, r)
}

// printCapacity writes the human form of a capacity report.
func printCapacity(w io.Writer, r capacityReport) error {
	var b strings.Builder
	what := ""
	if r.Name != "" || r.MIME != "" {
		what = fmt.Sprintf(" for %q (%s)", r.Name, r.MIME)
	}
	fmt.Fprintf(&b, "%d bytes%s (%dx%d, %d channels, %d bits per channel)\n", r.CapacityBytes, what, r.Width, r.Height, r.Channels, r.LSBPerChannel)
	if r.Fits != nil {
		verdict := "fits"
		switch {
		case !*r.Fits:
			verdict = fmt.Sprintf("does not fit: %d bytes over", *r.SecretSizeBytes-r.CapacityBytes)
		case *r.SecretSizeBytes > r.CapacityBytes:
			verdict = "fits once compressed"
		}
		fmt.Fprintf(&b, "secret: %d bytes, %s\n", *r.SecretSizeBytes, verdict)
	}
	if r.Assumes != "" {
		fmt.Fprintf(&b, "assumes %s\n", r.Assumes)
	}
	fmt.Fprintf(&b, "stealth: %s\n", r.Stealth.Advice)
	_, err := io.WriteString(w, b.String())
	return err
}
