package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/stegocluster/stegocluster/stego"
	"github.com/stegocluster/stegocluster/worker"
)

// form is a parsed multipart request: files by field name, plus text
// fields. Parts are read one at a time from the stream, each bounded, so
// memory is what the files themselves take and no temporary files are
// written.
type form struct {
	files     map[string][]byte
	filenames map[string]string
	types     map[string]string
	fields    map[string]string
}

const (
	maxParts      = 16
	maxFieldBytes = 4 << 10
)

// readForm reads the request's multipart form, reserving every byte it
// keeps from res (see readPart).
func readForm(ctx context.Context, r *http.Request, maxUpload int64, res *worker.Reservation) (*form, error) {
	f := &form{files: map[string][]byte{}, filenames: map[string]string{}, types: map[string]string{}, fields: map[string]string{}}
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return f, nil // all fields optional (capacity of the built-in cover)
	}
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" {
		return nil, badRequest("want a multipart/form-data body with a boundary")
	}
	if err := res.Grow(ctx, 2*maxFormFraming); err != nil { // what the reader buffers of it
		return nil, err
	}
	body := newFormBody(r.Body, params["boundary"])
	mr := multipart.NewReader(body, params["boundary"])
	for i := 0; ; i++ {
		part, err := mr.NextPart()
		// A form is whole only if its closing delimiter came: mime/multipart
		// gives io.EOF, wrapped or not, for a body cut off in a part or
		// between two, and hiding what arrived would hide a truncated
		// secret, or drop a part (the cover, the password) unnoticed.
		if err == io.EOF && body.closed {
			return f, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			switch {
			case errors.As(err, &mbe):
				return nil, err
			case errors.Is(err, io.EOF) && i == 0:
				return nil, badRequest("the form has no complete first part: its boundary is not the one the Content-Type declares, or the body is empty or was cut off")
			case errors.Is(err, io.EOF):
				return nil, badRequest("the form ends before its closing boundary: the upload was cut off")
			case errors.Is(err, errFramingTooLarge):
				return nil, badRequest(fmt.Sprintf("the form's boundaries and part headers are over %d bytes", maxFormFraming))
			}
			return nil, bodyReadError("malformed multipart body", err)
		}
		if i >= maxParts {
			return nil, badRequest(fmt.Sprintf("more than %d form parts", maxParts))
		}
		if err := f.add(ctx, part, body, maxUpload, res); err != nil {
			return nil, err
		}
	}
}

// bodyReadError is the 400 for a body that could not be read: what went
// wrong, without a network error's text, which names the node's address.
func bodyReadError(what string, err error) error {
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return badRequest(what + ": the request body stalled, or was still arriving at the request's deadline")
	}
	return badRequest(what + ": " + err.Error())
}

// maxFormFraming caps a form's boundaries and part headers together:
// mime/multipart holds a part's header whole (up to 10 MB each) before
// anything of ours sees it, and a client sending one slowly would hold
// that memory, unreserved, for the whole body timeout. Real forms of at
// most maxParts parts use a few hundred bytes a part.
const maxFormFraming = 64 << 10

var errFramingTooLarge = errors.New("form framing over its limit")

// formBody is the request body as the multipart reader reads it. It
// counts what it reads beyond the parts' contents (which readPart counts
// in contents): boundaries, part headers, and at most one read-ahead
// buffer; past maxFormFraming the reads fail. And it watches for the
// form's closing delimiter, CRLF "--" boundary "--", which no part's
// contents may hold.
type formBody struct {
	r        io.Reader
	read     int64
	contents int64
	closing  []byte // the closing delimiter
	tail     []byte // the last len(closing)-1 bytes read
	window   []byte // scratch: the tail and the next bytes read
	closed   bool   // the closing delimiter was read
}

func newFormBody(r io.Reader, boundary string) *formBody {
	closing := []byte("\r\n--" + boundary + "--")
	b := &formBody{r: r, closing: closing, tail: make([]byte, 0, len(closing)), window: make([]byte, 0, 2*len(closing))}
	// The body's start counts as a line's start: an empty form is just
	// the closing delimiter.
	b.tail = append(b.tail, "\r\n"...)
	return b
}

func (b *formBody) Read(p []byte) (int, error) {
	if b.read-b.contents > maxFormFraming {
		return 0, errFramingTooLarge
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	if !b.closed && n > 0 {
		// The delimiter may straddle two reads: look in the tail and
		// the new bytes' start together, then in the new bytes.
		k := len(b.closing) - 1
		b.window = append(append(b.window[:0], b.tail...), p[:min(n, k)]...)
		b.closed = bytes.Contains(b.window, b.closing) || bytes.Contains(p[:n], b.closing)
		b.remember(p[:n])
	}
	return n, err
}

// remember keeps the last len(closing)-1 bytes of the tail followed by q.
func (b *formBody) remember(q []byte) {
	k := len(b.closing) - 1
	if len(q) >= k {
		b.tail = append(b.tail[:0], q[len(q)-k:]...)
		return
	}
	drop := max(0, len(b.tail)+len(q)-k)
	b.tail = append(b.tail[:copy(b.tail, b.tail[drop:])], q...)
}

// partContents reads a part's contents, counting them in body.contents.
type partContents struct {
	part *multipart.Part
	body *formBody
}

func (c partContents) Read(p []byte) (int, error) {
	n, err := c.part.Read(p)
	c.body.contents += int64(n)
	return n, err
}

// isFilePart says whether a form part named name holds a file (the
// secret, an image) rather than a short value.
func isFilePart(name string) bool { return name == "file" || name == "cover" }

// add reads one part (files up to maxUpload, fields up to maxFieldBytes).
// A part named twice, or a value (password, depth, …) sent as a file, is
// refused: keeping one of two passwords, or hiding under the public key
// because the password came as a file, would silently not do what the
// user asked.
func (f *form) add(ctx context.Context, part *multipart.Part, body *formBody, maxUpload int64, res *worker.Reservation) error {
	defer part.Close()
	name := part.FormName()
	_, isFile := f.files[name]
	_, isField := f.fields[name]
	switch {
	case isFile || isField:
		return badRequest(fmt.Sprintf("form field %q is given twice", name))
	case part.FileName() != "" && !isFilePart(name):
		return badRequest(fmt.Sprintf("form field %q was sent as a file; send its value as a plain field (curl: -F '%s=<FILE' rather than -F %s=@FILE)", name, name, name))
	}
	limit := int64(maxFieldBytes)
	if isFilePart(name) {
		limit = maxUpload
	}
	data, err := readPart(ctx, partContents{part, body}, limit, res)
	switch {
	case errors.Is(err, errPartTooLarge):
		return &apiError{http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("form part %q is over %d bytes", name, limit), gin.H{"limit_bytes": limit}}
	case errors.Is(err, worker.ErrOverBudget), errors.Is(err, worker.ErrExceedsBudget), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case err != nil:
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return bodyReadError("reading form part "+name, err)
	}
	if isFilePart(name) {
		f.files[name] = data
		f.filenames[name] = part.FileName()
		f.types[name] = part.Header.Get("Content-Type")
		return nil
	}
	f.fields[name] = string(data)
	return nil
}

// accepts refuses a form with a field the endpoint does not read: a
// misspelt "pasword" would otherwise hide the secret under the public
// key, and answer 200.
func (f *form) accepts(names []string) error {
	for _, m := range []map[string]string{f.fields, f.filenames} {
		for name := range m {
			if !slices.Contains(names, name) {
				return badRequest(fmt.Sprintf("form field %q is not one this endpoint reads (%s)", name, strings.Join(names, ", ")))
			}
		}
	}
	return nil
}

// depth reads the optional depth field (default 1).
func (f *form) depth() (int, error) {
	v := strings.TrimSpace(f.fields["depth"])
	if v == "" {
		return 1, nil
	}
	d, err := strconv.Atoi(v)
	if err != nil || d < 1 || d > 4 {
		return 0, badRequest("depth must be 1, 2, 3 or 4")
	}
	return d, nil
}

// mode reads the optional mode field, a name stego.ParseMode accepts
// ("keyed", the default when absent, "adaptive" or "sequential");
// another value is refused with stego.ErrInvalidOptions (400).
func (f *form) mode() (stego.Mode, error) {
	return stego.ParseMode(strings.TrimSpace(f.fields["mode"]))
}

// run parses the form and runs job in the worker pool with the job
// timeout, so that a busy node answers 503 at once and a client that
// leaves stops its job. Every byte the form keeps is reserved from res,
// which the handler releases once its answer is written. A job that
// quick says is quick may use the pool's express slot, so that it never
// waits behind big ones.
func (s *Server) run(c *gin.Context, res *worker.Reservation, fields []string, quick func(f *form) bool, job func(ctx context.Context, f *form) error) bool {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.JobTimeout)
	defer cancel()
	f, err := readForm(ctx, c.Request, s.cfg.MaxUpload, res)
	if err == nil {
		err = f.accepts(fields)
	}
	if err != nil {
		fail(c, err)
		return false
	}
	finishBody(c)
	do := s.cfg.Pool.Do
	if quick(f) {
		do = s.cfg.Pool.DoSmall
	}
	if err := do(ctx, func(ctx context.Context) error { return job(ctx, f) }); err != nil {
		fail(c, err)
		return false
	}
	return true
}

// smallJob is the most a quick job's input may weigh (see formWeight):
// hiding a few kilobytes in the built-in cover weighs about 3 MB,
// decoding a 50-megapixel cover 600 MB.
const smallJob = 32 << 20

// smallInput says whether f weighs at most smallJob: quick for a job
// whose work follows its input's size (capacity).
func (s *Server) smallInput(f *form) bool { return s.formWeight(f) <= smallJob }

// formWeight estimates what a job on f will hold: the form's bytes, and
// decoding the largest image in it (its header says how large), or a
// copy of the built-in cover when none is sent. Parts that are not
// images (a secret) count by their bytes only.
func (s *Server) formWeight(f *form) int64 {
	var total, decode int64
	for _, data := range f.files {
		total += int64(len(data))
		if cost, err := stego.DecodeCost(data, s.cfg.MaxPixels); err == nil {
			decode = max(decode, cost)
		}
	}
	if len(f.files["cover"]) == 0 {
		decode = max(decode, s.cover.Bytes())
	}
	return total + decode
}

// quickHide says whether a hide is quick: a small input, without a
// password (a key derivation) and not in adaptive mode (about 15× a
// keyed hide's CPU, docs/stealth.md). On the express slot either would
// hold up the small jobs that slot keeps quick. A mode that is no mode
// is quick too: it is refused (400) at once.
func (s *Server) quickHide(f *form) bool {
	mode, err := f.mode()
	return s.smallInput(f) && (err != nil || mode != stego.ModeAdaptive) && f.fields["password"] == ""
}

// quickAnalysis says whether an analysis is quick: a small input, and
// without the rich-model detector (the default), which takes up to half
// a second of every CPU and 105 MB more (docs/stealth.md).
func (s *Server) quickAnalysis(c *gin.Context) func(f *form) bool {
	return func(f *form) bool {
		rich, err := richModelWanted(c, f)
		return s.smallInput(f) && err == nil && !rich
	}
}

// richModelMaxSide caps the central region the API lets the rich model
// analyse: the model was trained on 512×512 crops, and a 2048×2048
// region would reserve about 420 MB and take seconds of CPU.
const richModelMaxSide = 1024

// richModelWanted reads the optional rich_model option, a form field or
// a query parameter (the form field wins): the rich-model detector runs
// unless it is false. Absent or empty means true.
func richModelWanted(c *gin.Context, f *form) (bool, error) {
	v, ok := f.fields["rich_model"]
	if !ok {
		v = c.Query("rich_model")
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return true, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("rich_model must be true or false")
	}
	return b, nil
}

// richModelOptions chooses the rich model's region for img from the
// node's memory budget as it stands, and reserves its memory in res:
// the largest central square (richModelMaxSide, then halving) whose
// working set (about 100 bytes a pixel) fits in what is free. When not
// even 256×256 fits, or the memory is not free within the budget's wait,
// the rich model is reported skipped and the classic analysis still
// answers: the detector is part of every analysis, not a reason to
// refuse one.
func (s *Server) richModelOptions(ctx context.Context, res *worker.Reservation, img *stego.Image) (stego.AnalyzeOptions, error) {
	const noMemory = "not enough of the node's memory budget free for it"
	opts := stego.AnalyzeOptions{RichModel: true}
	opts.RichModelMaxSide = min(img.RichModelSideFor(s.budget.Size()-s.budget.Held()), richModelMaxSide)
	if opts.RichModelMaxSide == 0 {
		opts.RichModelSkip = noMemory
		return opts, nil
	}
	err := res.Grow(ctx, img.RichModelCost(opts.RichModelMaxSide))
	switch {
	case errors.Is(err, worker.ErrOverBudget), errors.Is(err, worker.ErrExceedsBudget):
		opts.RichModelSkip = noMemory
	case err != nil:
		return opts, err
	}
	return opts, nil
}

// neverQuick is an extraction's answer: it may decompress a secret up
// to an upload's size, and may derive a password's key, whatever the
// image's size; what the image claims is not trusted.
func neverQuick(*form) bool { return false }

// reserveKDF reserves the memory deriving a password's key takes
// (nothing without a password: the public key needs no Argon2id).
func (s *Server) reserveKDF(ctx context.Context, res *worker.Reservation, password string) error {
	if password == "" {
		return nil
	}
	return res.Grow(ctx, stego.KDFMemory)
}

// releaseKDF gives back reserveKDF's memory once the key is derived.
func (s *Server) releaseKDF(res *worker.Reservation, password string) {
	if password != "" {
		res.Shrink(stego.KDFMemory)
	}
}

// decode reserves what decoding data will allocate, then decodes it.
func (s *Server) decode(ctx context.Context, res *worker.Reservation, data []byte) (*stego.Image, error) {
	cost, err := stego.DecodeCost(data, s.cfg.MaxPixels)
	if err != nil {
		return nil, err
	}
	if err := res.Grow(ctx, cost); err != nil {
		return nil, err
	}
	return stego.Decode(data, s.cfg.MaxPixels)
}

type coverInfo struct {
	Width         int `json:"width"`
	Height        int `json:"height"`
	Channels      int `json:"channels"`
	LSBPerChannel int `json:"lsb_per_channel"`
	CapacityBytes int `json:"capacity_bytes"`
}

func (s *Server) coverFrom(ctx context.Context, res *worker.Reservation, f *form) (*stego.Image, bool, error) {
	data, err := f.cover()
	if err != nil || data == nil {
		return s.cover, false, err
	}
	img, err := s.decode(ctx, res, data)
	return img, true, err
}

// cover returns the cover part's bytes, or nil when none was sent. A
// browser sends a file input left empty as a part with neither a file
// name nor bytes: no cover. A named file without bytes (an empty file
// picked, a wrong path given to curl) is refused rather than quietly
// replaced by the public built-in cover.
func (f *form) cover() ([]byte, error) {
	data := f.files["cover"]
	if len(data) > 0 {
		return data, nil
	}
	if name := f.filenames["cover"]; name != "" {
		return nil, badRequest(fmt.Sprintf("the cover file %q is empty", stego.CleanName(name)))
	}
	return nil, nil
}

// genericType is what clients declare for a file whose type they do not
// know, and what http.DetectContentType says of binary data.
const genericType = stego.DefaultMIME

// secretMeta is the file name and MIME type /api/embed stores with a
// secret uploaded under filename with Content-Type declared. The name is
// stego.CleanName's (base name only, no leading dot, no control
// characters, at most 255 bytes), none if filename is empty. The type is
// the declared one in canonical form unless that is missing or generic,
// else the one the name's extension gives, else sniff's answer (the type
// of the content), called only then; a declared type that is not a
// type/subtype is the client's mistake and refused (400) rather than
// stored as something it did not say. /api/capacity uses it too, so its
// figure is for the same name and type that embed stores.
func secretMeta(filename, declared string, sniff func() string) (name, mimeType string, err error) {
	if filename != "" {
		name = stego.CleanName(filename)
	}
	if declared != "" {
		if mimeType, err = stego.ParseMIME(declared); err != nil {
			return "", "", fmt.Errorf("the secret's declared type: %w", err)
		}
	}
	if mimeType == "" || mimeType == genericType {
		if t := mime.TypeByExtension(filepath.Ext(name)); t != "" {
			mimeType = stego.CleanMIME(t)
		} else {
			mimeType = stego.CleanMIME(sniff())
		}
	}
	return name, mimeType, nil
}

// uploadedSecret is the form's "file" as embed stores it.
func uploadedSecret(f *form) (stego.Secret, error) {
	data := f.files["file"]
	name, mimeType, err := secretMeta(f.filenames["file"], f.types["file"], func() string { return http.DetectContentType(data) })
	return stego.Secret{Name: name, MIME: mimeType, Data: data}, err
}

func (s *Server) embed(c *gin.Context) {
	raw, err := wantsRaw(c, "image/png", "png")
	if err != nil {
		fail(c, err)
		return
	}
	res := s.budget.Reserve()
	defer res.Release()
	var resp gin.H
	var png []byte
	// The pooled buffers go back once the answer is written: the job runs
	// on this goroutine (worker.Pool.Do), so nothing holds them after.
	var copied *stego.Image
	buf, _ := s.answers.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer func() {
		// Only a buffer the built-in cover's answer fits goes back: one
		// grown for a big cover would stay in the pool, outside every
		// reservation (a 50 MP cover's is over 200 MB).
		if buf.Cap() <= 2*int(s.cover.EncodedSize()) { // Grow rounds up
			buf.Reset()
			s.answers.Put(buf)
		}
		if copied != nil {
			s.coverCopies.Put(copied)
		}
	}()
	ok := s.run(c, res, []string{"file", "cover", "password", "depth", "mode"}, s.quickHide, func(ctx context.Context, f *form) error {
		data, ok := f.files["file"]
		if !ok {
			return badRequest("missing form file \"file\" (the secret to hide)")
		}
		depth, err := f.depth()
		if err != nil {
			return err
		}
		cover, own, err := s.coverFrom(ctx, res, f)
		if err != nil {
			return err
		}
		if !own { // the job hides in a copy of the shared built-in cover
			if err := res.Grow(ctx, cover.Bytes()); err != nil {
				return err
			}
		}
		mode, err := f.mode()
		if err != nil {
			return err
		}
		opts := stego.Options{Password: f.fields["password"], Depth: depth, Mode: mode}
		if err := s.reserveKDF(ctx, res, opts.Password); err != nil {
			return err
		}
		secret, err := uploadedSecret(f)
		if err != nil {
			return err
		}
		// What hiding holds besides the cover: in keyed mode it grows
		// with the payload (its change lists), in adaptive mode with the
		// cover.
		if err := res.Grow(ctx, cover.EmbedCost(secret, opts)); err != nil {
			return err
		}
		out := cover
		if !own {
			dst, _ := s.coverCopies.Get().(*stego.Image)
			out = cover.CloneInto(dst)
			copied = out
		}
		stats, err := stego.EmbedInPlace(ctx, out, secret, opts)
		s.releaseKDF(res, opts.Password)
		if err != nil {
			return err
		}
		if err := res.Grow(ctx, out.EncodedSize()+out.EncodeCost()); err != nil {
			return err
		}
		buf.Grow(int(out.EncodedSize()))
		if err := out.Encode(buf, stego.PNG); err != nil {
			return err
		}
		png = buf.Bytes()
		res.Shrink(out.EncodeCost()) // the encoder's working set is released
		notes := append([]string{}, out.Notes...)
		if !own {
			notes = append(notes, "built-in cover used: anyone who has it can see where bits changed; send your own cover for real secrecy")
		}
		resp = gin.H{
			"node_id": s.cfg.NodeID,
			"cover_info": coverInfo{Width: out.Width(), Height: out.Height(), Channels: out.Channels(),
				LSBPerChannel: depth, CapacityBytes: stats.Capacity},
			"secret_size_bytes":  len(data),
			"payload_size_bytes": stats.PayloadBytes,
			"bits_per_channel":   stats.BitsPerChannel,
			"changed_samples":    stats.ChangedSamples,
			"matrix_k":           stats.MatrixK,
			"mode":               stats.Mode.String(),
			"compressed":         stats.Compressed,
			"stealth":            stego.StealthOf(out, opts, secret.Name, secret.MIME, stats),
			"notes":              notes,
		}
		return nil
	})
	if !ok {
		return
	}
	if raw {
		s.writeAnswer(c, "image/png", png)
		return
	}
	resp["request_id"] = c.GetString(requestIDKey)
	s.writeJSONWithBase64(c, resp, "stego_image_b64", png)
}

// wantsRaw reports whether the client asked for the raw body rather
// than JSON: ?format= decides (raw's value, or json), else the Accept
// header's contentType. Another format is refused (400) before any
// work, rather than answered with JSON the client did not ask for.
func wantsRaw(c *gin.Context, contentType, raw string) (bool, error) {
	switch format := c.Query("format"); format {
	case "":
		return strings.Contains(c.GetHeader("Accept"), contentType), nil
	case raw:
		return true, nil
	case "json":
		return false, nil
	default:
		return false, badRequest(fmt.Sprintf("format must be %s or json", raw))
	}
}

func (s *Server) extract(c *gin.Context) {
	raw, err := wantsRaw(c, "application/octet-stream", "raw")
	if err != nil {
		fail(c, err)
		return
	}
	res := s.budget.Reserve()
	defer res.Release()
	var secret *stego.Secret
	var password bool
	ok := s.run(c, res, []string{"file", "password"}, neverQuick, func(ctx context.Context, f *form) error {
		password = f.fields["password"] != ""
		data, ok := f.files["file"]
		if !ok {
			return badRequest("missing form file \"file\" (the stego image)")
		}
		img, err := s.decode(ctx, res, data)
		if err != nil {
			return err
		}
		// The secret can be no larger than an upload: nothing bigger was
		// ever embedded by a node, and the image's own claim is not
		// trusted (stego.Options.MaxSecretSize). Nor is its mode: what
		// extracting costs is reserved for the costliest.
		if err := res.Grow(ctx, s.cfg.MaxUpload+img.ExtractCost()); err != nil {
			return err
		}
		if err := s.reserveKDF(ctx, res, f.fields["password"]); err != nil {
			return err
		}
		secret, err = stego.Extract(ctx, img, stego.Options{Password: f.fields["password"], MaxSecretSize: int(s.cfg.MaxUpload)})
		s.releaseKDF(res, f.fields["password"])
		if err == nil {
			res.Shrink(s.cfg.MaxUpload - int64(len(secret.Data)))
		}
		return err
	})
	if !ok {
		return
	}
	// The stored name and type are the image writer's choice, and anyone
	// can write an image for the public key: both are cleaned before they
	// become a header or a file name on the client, whatever wrote them.
	name, mimeType := stego.CleanName(secret.Name), stego.CleanMIME(secret.MIME)
	c.Header("X-Stego-Format-Version", strconv.Itoa(secret.Version))
	if raw {
		c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		// A valid type may still be text/html or image/svg+xml: should a
		// browser render the answer despite "attachment", it gets no
		// script and no origin (securityHeaders adds nosniff to every
		// answer, so it cannot guess another type either).
		c.Header("Content-Security-Policy", "default-src 'none'; sandbox")
		s.writeAnswer(c, mimeType, secret.Data)
		return
	}
	s.writeJSONWithBase64(c, gin.H{
		"request_id":           c.GetString(requestIDKey),
		"node_id":              s.cfg.NodeID,
		"recovered_size_bytes": len(secret.Data),
		"recovered_mime":       mimeType,
		"recovered_filename":   name,
		"format_version":       secret.Version,
		"notes":                extractNotes(secret.Version, password),
	}, "recovered_b64", secret.Data)
}

// extractNotes is what an extraction's answer tells the user besides the
// secret: an empty list, or why to hide it again.
func extractNotes(version int, password bool) []string {
	if note := stego.VersionNote(version, password); note != "" {
		return []string{note}
	}
	return []string{}
}

// capacityInfo is /api/capacity's answer. CapacityBytes is how many
// bytes of data fit beside the name and MIME type embed would store:
// those of the secret sent as "file", else of the "name" and "mime"
// fields, else none, and then Assumes says so. Assumes also says when
// the type embed would store depends on content the request did not
// carry.
type capacityInfo struct {
	coverInfo
	Name            string `json:"name,omitempty"`
	MIME            string `json:"mime,omitempty"`
	SecretSizeBytes *int   `json:"secret_size_bytes,omitempty"` // with "file" only
	Fits            *bool  `json:"fits,omitempty"`              // with "file" only: whether embed takes it (compressed if need be)
	Assumes         string `json:"assumes,omitempty"`
	// Stealth is how much of that stays stealthy against a modern
	// detector and, with "file", how detectable that secret would be.
	Stealth stego.Stealth `json:"stealth"`
}

func (s *Server) capacity(c *gin.Context) {
	res := s.budget.Reserve()
	defer res.Release()
	var info capacityInfo
	ok := s.run(c, res, []string{"cover", "depth", "mode", "name", "mime", "file"}, s.smallInput, func(ctx context.Context, f *form) error {
		depth, err := f.depth()
		if err != nil {
			return err
		}
		cover, _, err := s.coverFrom(ctx, res, f)
		if err != nil {
			return err
		}
		mode, err := f.mode()
		if err != nil {
			return err
		}
		opts := stego.Options{Depth: depth, Mode: mode}
		_, hasFile := f.files["file"]
		_, hasName := f.fields["name"]
		_, hasMIME := f.fields["mime"]
		var secret stego.Secret
		switch {
		case hasFile:
			if secret, err = uploadedSecret(f); err != nil {
				return err
			}
		case hasName || hasMIME:
			secret.Name, secret.MIME, err = secretMeta(f.fields["name"], f.fields["mime"], func() string {
				info.Assumes = fmt.Sprintf("the MIME type stored is %s, what embed detects in binary content when neither the declared type nor the name gives one (text would be stored as text/plain; charset=utf-8); send the file itself for the exact figure", genericType)
				return genericType
			})
			if err != nil {
				return err
			}
		default:
			info.Assumes = "a secret with no file name and no MIME type; embed stores both beside the data and each costs its length in bytes, so send name and mime (or the file itself) for the figure that fits exactly"
		}
		n, err := stego.DataCapacity(cover, opts, secret.Name, secret.MIME)
		if err != nil {
			return err
		}
		info.coverInfo = coverInfo{Width: cover.Width(), Height: cover.Height(), Channels: cover.Channels(), LSBPerChannel: depth, CapacityBytes: n}
		info.Name, info.MIME = secret.Name, secret.MIME
		if !hasFile {
			info.Stealth = stego.StealthFor(cover, opts, secret.Name, secret.MIME, -1)
			return nil
		}
		stealth, fits, err := stego.StealthForSecret(cover, opts, secret)
		if err != nil {
			return err
		}
		size := len(secret.Data)
		info.Stealth, info.SecretSizeBytes, info.Fits = stealth, &size, &fits
		return nil
	})
	if ok {
		c.JSON(http.StatusOK, info)
	}
}

func (s *Server) analyze(c *gin.Context) {
	res := s.budget.Reserve()
	defer res.Release()
	var report *stego.Analysis
	ok := s.run(c, res, []string{"file", "cover", "rich_model"}, s.quickAnalysis(c), func(ctx context.Context, f *form) error {
		rich, err := richModelWanted(c, f)
		if err != nil {
			return err
		}
		data, ok := f.files["file"]
		if !ok {
			return badRequest("missing form file \"file\" (the image to analyse)")
		}
		img, err := s.decode(ctx, res, data)
		if err != nil {
			return err
		}
		coverData, err := f.cover()
		if err != nil {
			return err
		}
		var cover *stego.Image
		if coverData != nil {
			if cover, err = s.decode(ctx, res, coverData); err != nil {
				return err
			}
		}
		// The analysis copies the samples out of an image with alpha.
		need := img.Bytes()
		if cover != nil {
			need += cover.Bytes()
		}
		if err := res.Grow(ctx, need); err != nil {
			return err
		}
		if !rich {
			// rich_model=false: the classic tests only.
			report, err = stego.AnalyzeImage(img, cover)
			return err
		}
		opts, err := s.richModelOptions(ctx, res, img)
		if err != nil {
			return err
		}
		report, err = stego.AnalyzeImageWith(img, cover, opts)
		return err
	})
	if ok {
		c.JSON(http.StatusOK, report)
	}
}

// datasetSize is the number of deterministic test secrets served.
const datasetSize = 50

// dataset serves test secret number index: a small PNG, the same on
// every node and every run, for load tests that must verify round trips.
func (s *Server) dataset(c *gin.Context) {
	i, err := strconv.Atoi(c.Param("index"))
	if err != nil || i < 0 || i >= datasetSize {
		fail(c, &apiError{http.StatusNotFound, codeNotFound, fmt.Sprintf("dataset index must be 0–%d", datasetSize-1), nil})
		return
	}
	png, err := datasetImage(i)
	if err != nil {
		fail(c, err)
		return
	}
	c.Header("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": fmt.Sprintf("dataset-%02d.png", i)}))
	c.Data(http.StatusOK, "image/png", png)
}

func datasetImage(i int) ([]byte, error) {
	size := 48 + 8*(i%8)
	rng := rand.New(rand.NewPCG(uint64(i), 0x5eed))
	m := image.NewNRGBA(image.Rect(0, 0, size, size))
	base := color.NRGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			m.SetNRGBA(x, y, color.NRGBA{base.R + uint8(x*3), base.G + uint8(y*3), base.B ^ uint8(rng.IntN(32)), 255})
		}
	}
	img, err := stego.FromImage(m)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := img.Encode(&buf, stego.PNG); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
