// Command train builds the steganalysis corpus from testdata/photos,
// measures the detector's P_E against stego.Embed (keyed mode and adaptive
// mode, with and without its colour synchronisation) and against
// simulated ±1 embedding, estimates its false alarms, and writes the
// shipped model.
//
//	go run ./stego/steganalysis/train -photos testdata/photos -out stego/steganalysis/model.gob
//
// Covers: every photo is decoded and downscaled several ways (see
// variants): by 2 with a 2×2 box filter (up to -crops crops), and with
// golang.org/x/image/draw's Catmull-Rom at 1/2, 1/2.5, 1/3 and 1/4 and
// ApproxBiLinear at 1/2.5 (one or two crops each) — files named
// *-half.png are stored already box-halved, and their factors are taken
// relative to the original. Each downscale is cut into non-overlapping,
// centred 512×512 crops. Downscaling averages away JPEG's 8×8 block
// structure, so covers do not carry JPEG traces; several resamplers keep
// the classifier from learning one resampler's texture as "cover" (with
// box-halved covers only, clean Catmull-Rom downscales scored as stego).
//
// Evaluation: for each payload, -splits random halvings of the photos
// (never of the crops: all of a photo's variants are on the same side);
// an ensemble is trained on one half's cover/stego pairs — separately for
// each embedder, so each is measured against a detector trained on it —
// and P_E = min
// over thresholds of (P_FA + P_MD)/2 measured on the other half. The
// table gives the mean and standard deviation over splits; a second
// table gives the test halves' false-alarm and miss rates at the
// shipped threshold.
//
// The shipped model is trained on all photos except the -holdout ones
// (kept for the package's tests) with stego images at 0.1, 0.2 and 0.4
// bits per channel mixed. Its threshold is 0.5 (a majority vote) unless
// -maxfa is set; the out-of-fold table (-folds folds by photo over the
// training photos) shows what each threshold costs. The command then
// scores the held-out crops and the -check images with the new model.
package main

import (
	"context"
	"encoding/gob"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	xdraw "golang.org/x/image/draw"

	"github.com/stegocluster/stegocluster/stego"
	"github.com/stegocluster/stegocluster/stego/internal/adaptivetune"
	"github.com/stegocluster/stegocluster/stego/steganalysis"
	"github.com/stegocluster/stegocluster/stego/steganalysis/internal/corpus"
)

// Container overhead of stego.Embed in today's format, in bytes: the
// sealed header (16 salt + 13 fields + 16 tag), the body's two length
// bytes and its 16-byte tag. Payload B bits per channel means
// 8·(overhead + data) = B·width·height·channels, the figure Stats reports.
const overhead = 45 + 2 + 16

type crop struct {
	photo   string
	variant string // how the photo was downscaled, e.g. "box/2", "catmullrom/2.5"
	img     *image.RGBA
}

// variant is one way of downscaling a photo into covers: a resampler, a
// factor (relative to the original photo) and how many crops to take.
type variant struct {
	name   string
	scaler xdraw.Scaler // nil: 2×2 box halving
	factor float64
	crops  int
}

// variants: the 2×2 box halving the corpus always had, plus smooth
// resamplers at several factors. With box covers only, the ensemble
// learned "box-filtered texture = cover" and called clean Catmull-Rom
// downscales stego; covers from several resamplers make it learn the
// embedding's traces instead.
func variants(boxCrops int) []variant {
	return []variant{
		{"box/2", nil, 2, boxCrops},
		{"catmullrom/2", xdraw.CatmullRom, 2, 2},
		{"catmullrom/2.5", xdraw.CatmullRom, 2.5, 2},
		{"catmullrom/3", xdraw.CatmullRom, 3, 2},
		{"catmullrom/4", xdraw.CatmullRom, 4, 1},
		{"approxbilinear/2.5", xdraw.ApproxBiLinear, 2.5, 1},
	}
}

type feats struct {
	Cover []float32
	Codec map[float64][]float32
	Sim   map[float64][]float32
	// Adaptive mode (stego.ModeAdaptive), and the same without
	// synchronised directions (sync factor 1): the ablation that shows
	// what the synchronisation buys.
	Adapt       map[float64][]float32
	AdaptNoSync map[float64][]float32
}

// kinds of stego image the evaluation trains and tests on, in table
// order.
var allKinds = []string{"codec", "adaptive", "adaptive-nosync", "sim"}

// stegoFeats returns a crop's features for one kind and payload.
func (f feats) stegoFeats(kind string, p float64) []float32 {
	switch kind {
	case "sim":
		return f.Sim[p]
	case "adaptive":
		return f.Adapt[p]
	case "adaptive-nosync":
		return f.AdaptNoSync[p]
	}
	return f.Codec[p]
}

func main() {
	photos := flag.String("photos", "testdata/photos", "directory of photos")
	out := flag.String("out", "stego/steganalysis/model.gob", "where to write the trained model ('' to skip)")
	size := flag.Int("size", 512, "crop side")
	perPhoto := flag.Int("crops", 4, "at most this many crops per photo")
	splits := flag.Int("splits", 10, "random photo halvings per payload")
	payloadList := flag.String("payloads", "0.05,0.1,0.2,0.4", "payloads in bits per channel")
	holdout := flag.String("holdout", "pool,skyline,bottles-half", "photos left out of the shipped model (the tests use them)")
	workers := flag.Int("workers", 2, "feature extraction goroutines")
	seed := flag.Uint64("seed", 1, "seed for splits, secrets, simulation and ensembles")
	cache := flag.String("cache", "", "file to keep extracted features in between runs ('' for none)")
	lambda := flag.Float64("lambda", 0, "ensemble ridge (0: the package default)")
	dsubs := flag.String("dsubs", "", "comma-separated d_sub candidates (empty: the package default)")
	nL := flag.Int("L", 0, "base learners (0: the package default)")
	folds := flag.Int("folds", 5, "photo folds for the out-of-fold threshold and false-alarm estimate")
	maxFA := flag.Float64("maxfa", 0, "if > 0, ship the lowest threshold ≥ 0.5 whose out-of-fold false-alarm rate is at most this")
	check := flag.String("check", "testdata/covers/street-640x426.png,testdata/covers/street-1920x1280.png,api/assets/cover.png,testdata/covers/street-1920x1280.jpg", "clean images the shipped model is run on ('' for none)")
	diag := flag.Bool("diag", false, "print, per photo, how often its test crops are misclassified by majority vote")
	ablation := flag.Bool("ablation", true, "also measure adaptive mode without its synchronised directions")
	flag.Parse()
	start := time.Now()
	var flags []string
	flag.Visit(func(f *flag.Flag) { flags = append(flags, fmt.Sprintf("-%s %s", f.Name, f.Value)) })
	fmt.Printf("command: go run ./stego/steganalysis/train %s\n", strings.Join(flags, " "))
	fmt.Printf("date: %s\n", start.UTC().Format(time.RFC3339))

	var payloads []float64
	for _, s := range strings.Split(*payloadList, ",") {
		var p float64
		if _, err := fmt.Sscan(s, &p); err != nil {
			log.Fatalf("payload %q: %v", s, err)
		}
		payloads = append(payloads, p)
	}
	vs := variants(*perPhoto)
	crops, nPhotos, err := loadCrops(*photos, *size, vs)
	if err != nil {
		log.Fatal(err)
	}
	perVariant := map[string]int{}
	for _, c := range crops {
		perVariant[c.variant]++
	}
	var vdesc []string
	for _, v := range vs {
		vdesc = append(vdesc, fmt.Sprintf("%s %d", v.name, perVariant[v.name]))
	}
	fmt.Printf("photos: %d, crops: %d of %d×%d (%s)\n", nPhotos, len(crops), *size, *size, strings.Join(vdesc, ", "))

	cfg := steganalysis.TrainConfig{Lambda: *lambda, L: *nL}
	if *dsubs != "" {
		for _, d := range strings.Split(*dsubs, ",") {
			var v int
			if _, err := fmt.Sscan(d, &v); err != nil {
				log.Fatalf("dsubs %q: %v", d, err)
			}
			cfg.DSubs = append(cfg.DSubs, v)
		}
	}
	kinds := allKinds
	if !*ablation {
		kinds = []string{"codec", "adaptive", "sim"}
	}
	key := fmt.Sprintf("%s size=%d crops=%d payloads=%s seed=%d n=%d dim=%d variants=%s kinds=%s", *photos, *size, *perPhoto, *payloadList, *seed, len(crops), steganalysis.Dim, strings.Join(vdesc, ","), strings.Join(kinds, ","))
	fs, ok := loadCache(*cache, key)
	if !ok {
		fs = extractAll(crops, payloads, *workers, *seed, *ablation)
		saveCache(*cache, key, fs)
	}

	// photo index per crop for splitting
	names := map[string]int{}
	var order []string
	for _, c := range crops {
		if _, ok := names[c.photo]; !ok {
			names[c.photo] = len(order)
			order = append(order, c.photo)
		}
	}
	rng := rand.New(rand.NewPCG(*seed, 99))
	type cell struct{ mean, sd float64 }
	table := map[string]map[float64]cell{}
	// test-half cover scores of every split, to count false alarms at the
	// shipped threshold once it is known
	type splitScores struct{ covers, stegos []float64 }
	evalScores := map[string]map[float64][]splitScores{}
	wrong := map[string]map[float64]map[string]float64{}
	seen := map[string]map[float64]map[string]float64{}
	for _, k := range kinds {
		table[k], evalScores[k], wrong[k], seen[k] = map[float64]cell{}, map[float64][]splitScores{}, map[float64]map[string]float64{}, map[float64]map[string]float64{}
		for _, p := range payloads {
			wrong[k][p], seen[k][p] = map[string]float64{}, map[string]float64{}
		}
	}
	for _, kind := range kinds {
		for _, p := range payloads {
			var pes []float64
			for s := 0; s < *splits; s++ {
				perm := rng.Perm(len(order))
				inA := make([]bool, len(order))
				for _, j := range perm[:len(order)/2] {
					inA[j] = true
				}
				var trC, trS, teC, teS [][]float32
				for i, c := range crops {
					st := fs[i].stegoFeats(kind, p)
					if inA[names[c.photo]] {
						trC, trS = append(trC, fs[i].Cover), append(trS, st)
					} else {
						teC, teS = append(teC, fs[i].Cover), append(teS, st)
					}
				}
				en, err := steganalysis.Train(trC, trS, withSeed(cfg, *seed+uint64(s)))
				if err != nil {
					log.Fatal(err)
				}
				var sc, ss []float64
				for i := range teC {
					a, _ := en.Votes(teC[i])
					b, _ := en.Votes(teS[i])
					sc, ss = append(sc, a), append(ss, b)
				}
				if *diag {
					k := 0
					for _, c := range crops {
						if inA[names[c.photo]] {
							continue
						}
						wrong[kind][p][c.photo] += b2f(sc[k] > 0.5) + b2f(ss[k] <= 0.5)
						seen[kind][p][c.photo] += 2
						k++
					}
				}
				pes = append(pes, steganalysis.PE(sc, ss))
				evalScores[kind][p] = append(evalScores[kind][p], splitScores{sc, ss})
			}
			m, sd := meanSD(pes)
			table[kind][p] = cell{m, sd}
			log.Printf("%s %.2f bpc: P_E %.3f ± %.3f over %d splits", kind, p, m, sd, len(pes))
		}
	}
	if *diag {
		for _, k := range kinds {
			for _, p := range payloads {
				var parts []string
				for _, name := range order {
					if seen[k][p][name] > 0 && wrong[k][p][name] > 0 {
						parts = append(parts, fmt.Sprintf("%s %.0f%%", name, 100*wrong[k][p][name]/seen[k][p][name]))
					}
				}
				fmt.Printf("diag %s %.2f bpc: majority-vote errors per tested image: %s\n", k, p, strings.Join(parts, ", "))
			}
		}
	}
	heading := map[string]string{
		"codec":           "keyed mode (today's default)",
		"adaptive":        "adaptive mode",
		"adaptive-nosync": "adaptive, directions not synchronised",
		"sim":             "simulated random ±1, no coding",
	}
	fmt.Printf("\n| payload (bits per channel) |")
	for _, k := range kinds {
		fmt.Printf(" %s |", heading[k])
	}
	fmt.Printf("\n| --- |%s\n", strings.Repeat(" --- |", len(kinds)))
	for _, p := range payloads {
		fmt.Printf("| %g |", p)
		for _, k := range kinds {
			fmt.Printf(" %.2f ± %.2f |", table[k][p].mean, table[k][p].sd)
		}
		fmt.Println()
	}
	fmt.Printf("\nP_E: mean ± sd over %d random halvings of the %d photos (train on one half, test on the other).\n", *splits, nPhotos)

	held := map[string]bool{}
	for _, h := range strings.Split(*holdout, ",") {
		held[strings.TrimSpace(h)] = true
	}
	mixed := []float64{0.1, 0.2, 0.4}
	// pairs builds the shipped model's kind of training set (stego.Embed
	// at 0.1, 0.2, 0.4 bpc mixed) from the crops keep accepts.
	pairs := func(keep func(crop) bool) (trC, trS [][]float32) {
		for i, c := range crops {
			if !keep(c) {
				continue
			}
			for _, p := range mixed {
				if st, ok := fs[i].Codec[p]; ok {
					trC, trS = append(trC, fs[i].Cover), append(trS, st)
				}
			}
		}
		return trC, trS
	}

	// Threshold: out-of-fold by photo over the shipped model's training
	// photos (-folds folds), each crop's cover and stego images scored by
	// an ensemble that never saw its photo. -maxfa > 0 sets the shipped
	// threshold to the lowest vote fraction ≥ 0.5 whose out-of-fold
	// false-alarm rate is at most -maxfa.
	var trainPhotos []string
	for _, name := range order {
		if !held[name] {
			trainPhotos = append(trainPhotos, name)
		}
	}
	fold := map[string]int{}
	for k, j := range rng.Perm(len(trainPhotos)) {
		fold[trainPhotos[j]] = k % *folds
	}
	var oofC []float64
	oofByVariant := map[string][]float64{}
	oofS := map[float64][]float64{}
	for k := 0; k < *folds; k++ {
		trC, trS := pairs(func(c crop) bool { return !held[c.photo] && fold[c.photo] != k })
		en, err := steganalysis.Train(trC, trS, withSeed(cfg, *seed+1000+uint64(k)))
		if err != nil {
			log.Fatal(err)
		}
		for i, c := range crops {
			if held[c.photo] || fold[c.photo] != k {
				continue
			}
			v, _ := en.Votes(fs[i].Cover)
			oofC = append(oofC, v)
			oofByVariant[c.variant] = append(oofByVariant[c.variant], v)
			for _, p := range payloads {
				v, _ := en.Votes(fs[i].Codec[p])
				oofS[p] = append(oofS[p], v)
			}
		}
	}
	L := cfg.L
	if L == 0 {
		L = 51
	}
	threshold := 0.5
	reached := false
	if *maxFA > 0 {
		for k := L / 2; k < L; k++ {
			t := (float64(k) + 0.5) / float64(L)
			if rate(oofC, t, true) <= *maxFA {
				threshold, reached = t, true
				break
			}
		}
	}
	fmt.Printf("\nout-of-fold by photo (%d folds, %d photos, %d cover crops; stego.Embed 0.1/0.2/0.4 mixed training):\n", *folds, len(trainPhotos), len(oofC))
	fmt.Printf("| threshold | false alarms |")
	for _, p := range payloads {
		fmt.Printf(" missed at %g bpc |", p)
	}
	fmt.Printf("\n| --- | --- |%s\n", strings.Repeat(" --- |", len(payloads)))
	for _, t := range thresholds(threshold) {
		fmt.Printf("| %.3f | %.3f |", t, rate(oofC, t, true))
		for _, p := range payloads {
			fmt.Printf(" %.3f |", rate(oofS[p], t, false))
		}
		fmt.Println()
	}
	var pv []string
	for _, v := range vs {
		if sc := oofByVariant[v.name]; len(sc) > 0 {
			pv = append(pv, fmt.Sprintf("%s %.2f (%d)", v.name, rate(sc, 0.5, true), len(sc)))
		}
	}
	fmt.Printf("out-of-fold false alarms at 0.5 by variant (crops): %s\n", strings.Join(pv, ", "))
	switch {
	case *maxFA > 0 && reached:
		fmt.Printf("threshold: %.3f (lowest with out-of-fold false alarms ≤ %g)\n", threshold, *maxFA)
	case *maxFA > 0:
		fmt.Printf("threshold: 0.500 (no vote fraction brings out-of-fold false alarms to ≤ %g)\n", *maxFA)
	}

	// false alarms and misses of the evaluation's test halves at the
	// shipped threshold (and at 0.5)
	fmt.Printf("\nevaluation test halves (mean ± sd over %d splits):\n", *splits)
	fmt.Printf("| embedder | payload | threshold | false alarms (test covers) | missed detections |\n| --- | --- | --- | --- | --- |\n")
	for _, kind := range []string{"codec", "adaptive"} {
		for _, p := range payloads {
			for _, t := range uniq(0.5, threshold) {
				var fa, md []float64
				for _, sp := range evalScores[kind][p] {
					fa = append(fa, rate(sp.covers, t, true))
					md = append(md, rate(sp.stegos, t, false))
				}
				fm, fsd := meanSD(fa)
				mm, msd := meanSD(md)
				fmt.Printf("| %s | %g | %.3f | %.3f ± %.3f | %.3f ± %.3f |\n", heading[kind], p, t, fm, fsd, mm, msd)
			}
		}
	}

	if *out != "" {
		trC, trS := pairs(func(c crop) bool { return !held[c.photo] })
		en, err := steganalysis.Train(trC, trS, withSeed(cfg, *seed))
		if err != nil {
			log.Fatal(err)
		}
		info := fmt.Sprintf("trained %s on %d cover/stego pairs (%d photos less holdout %s; covers by box, Catmull-Rom and approx. bilinear downscaling; stego.Embed keyed at 0.1, 0.2, 0.4 bpc); L=%d, d_sub=%d, OOB error %.3f, threshold %.3f",
			start.UTC().Format("2006-01-02"), len(trC), nPhotos, *holdout, len(en.Learners), en.DSub, en.OOBError, threshold)
		d, err := steganalysis.NewDetector(en, threshold, info)
		if err != nil {
			log.Fatal(err)
		}
		f, err := os.Create(*out)
		if err != nil {
			log.Fatal(err)
		}
		if err := d.Save(f); err != nil {
			log.Fatal(err)
		}
		if err := f.Close(); err != nil {
			log.Fatal(err)
		}
		st, _ := os.Stat(*out)
		fmt.Printf("\nmodel: %s (%d bytes): %s\n", *out, st.Size(), info)

		fmt.Printf("\nheld-out crops (shipped model, stego.Embed at 0.4 bpc):\n| photo | variant | cover score | verdict | stego score | verdict |\n| --- | --- | --- | --- | --- | --- |\n")
		for i, c := range crops {
			if !held[c.photo] {
				continue
			}
			sc, _ := d.Score(fs[i].Cover)
			ss, _ := d.Score(fs[i].Codec[0.4])
			fmt.Printf("| %s | %s | %.2f | %s | %.2f | %s |\n", c.photo, c.variant, sc, verdict(sc, threshold), ss, verdict(ss, threshold))
		}
		if *check != "" {
			fmt.Printf("\nclean images (shipped model):\n| image | score | verdict |\n| --- | --- | --- |\n")
			for _, path := range strings.Split(*check, ",") {
				img, err := corpus.Load(path)
				if err != nil {
					log.Fatal(err)
				}
				r, err := d.Detect(img)
				if err != nil {
					log.Fatal(err)
				}
				fmt.Printf("| %s (%d×%d) | %.2f | %s |\n", path, img.Bounds().Dx(), img.Bounds().Dy(), r.Score, r.Verdict)
			}
		}
	}
	fmt.Printf("run time: %v\n", time.Since(start).Round(time.Second))
}

// extractAll computes every crop's features with the given number of
// goroutines.
func extractAll(crops []crop, payloads []float64, workers int, seed uint64, ablation bool) []feats {
	fs := make([]feats, len(crops))
	var wg sync.WaitGroup
	next := make(chan int)
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f, err := cropFeatures(crops[i], payloads, seed+uint64(i), ablation)
				if err != nil {
					mu.Lock()
					firstErr = fmt.Errorf("crop %d of %s: %w", i, crops[i].photo, err)
					mu.Unlock()
					continue
				}
				fs[i] = f
			}
		}()
	}
	t0 := time.Now()
	for i := range crops {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		log.Fatal(firstErr)
	}
	perPayload := 3
	if ablation {
		perPayload = 4
	}
	nExtract := len(crops) * (1 + perPayload*len(payloads))
	fmt.Printf("features: %d extractions in %v (%v each per worker, embedding included)\n", nExtract, time.Since(t0).Round(time.Second),
		(time.Since(t0) * time.Duration(workers) / time.Duration(nExtract)).Round(time.Millisecond))
	hideMu.Lock()
	for _, k := range []string{"codec", "adaptive"} {
		if n := hideCount[k]; n > 0 {
			fmt.Printf("hide time (stego.Embed, %d×%d crops, with password): %s %v per image over %d images\n", crops[0].img.Bounds().Dx(), crops[0].img.Bounds().Dy(), k, (hideTime[k] / time.Duration(n)).Round(time.Millisecond), n)
		}
	}
	hideMu.Unlock()

	return fs
}

type cacheFile struct {
	Key   string
	Feats []feats
}

func loadCache(path, key string) ([]feats, bool) {
	if path == "" {
		return nil, false
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	var c cacheFile
	if err := gob.NewDecoder(f).Decode(&c); err != nil || c.Key != key {
		return nil, false
	}
	fmt.Printf("features: read from cache %s\n", path)
	return c.Feats, true
}

func saveCache(path, key string, fs []feats) {
	if path == "" {
		return
	}
	f, err := os.Create(path)
	if err != nil {
		log.Printf("cache: %v", err)
		return
	}
	defer f.Close()
	if err := gob.NewEncoder(f).Encode(cacheFile{key, fs}); err != nil {
		log.Printf("cache: %v", err)
	}
}

func meanSD(x []float64) (float64, float64) {
	var m float64
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	var s float64
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return m, math.Sqrt(s / float64(len(x)))
}

// loadCrops reads every photo and cuts its crops, for every variant.
func loadCrops(dir string, size int, vs []variant) ([]crop, int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("read photos: %w", err)
	}
	var files []string
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if ext == ".jpg" || ext == ".jpeg" || ext == ".png" {
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	var out []crop
	n := 0
	for _, name := range files {
		img, err := corpus.Load(filepath.Join(dir, name))
		if err != nil {
			return nil, 0, err
		}
		src := toRGBA(img)
		base := strings.TrimSuffix(name, filepath.Ext(name))
		// files named *-half are stored already halved (a box filter)
		stored := 1.0
		if strings.HasSuffix(base, "-half") {
			stored = 2
		}
		got := 0
		for _, v := range vs {
			var scaled *image.RGBA
			f := v.factor / stored // factor relative to the stored file
			switch {
			case v.scaler == nil && stored == 2:
				scaled = src
			case v.scaler == nil:
				scaled = corpus.Halve(src)
			case f <= 1.001:
				continue // the stored half is the nearest this variant gets
			default:
				b := src.Bounds()
				w, h := int(math.Round(float64(b.Dx())/f)), int(math.Round(float64(b.Dy())/f))
				scaled = image.NewRGBA(image.Rect(0, 0, w, h))
				v.scaler.Scale(scaled, scaled.Bounds(), src, b, xdraw.Src, nil)
			}
			for _, c := range corpus.Crops(scaled, size, v.crops) {
				out = append(out, crop{photo: base, variant: v.name, img: c})
				got++
			}
		}
		if got == 0 {
			log.Printf("%s: too small for a %d crop after downscaling, skipped", name, size)
			continue
		}
		n++
	}
	return out, n, nil
}

func toRGBA(img image.Image) *image.RGBA {
	if m, ok := img.(*image.RGBA); ok {
		return m
	}
	b := img.Bounds()
	m := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	xdraw.Draw(m, m.Bounds(), img, b.Min, xdraw.Src)
	return m
}

// hide times per mode, summed over crops (wall time of stego.Embed on a
// shared machine: indicative only).
var (
	hideMu    sync.Mutex
	hideTime  = map[string]time.Duration{}
	hideCount = map[string]int{}
)

// embed hides data in cover under mode and checks the payload.
func embed(ctx context.Context, cover *stego.Image, data []byte, mode stego.Mode, p float64, label string) (image.Image, error) {
	t0 := time.Now()
	st, stats, err := stego.Embed(ctx, cover, stego.Secret{Data: data}, stego.Options{Password: "steganalysis-train", DisableCompression: true, Mode: mode})
	if err != nil {
		return nil, fmt.Errorf("embed %s %.2f bpc: %w", label, p, err)
	}
	hideMu.Lock()
	hideTime[label] += time.Since(t0)
	hideCount[label]++
	hideMu.Unlock()
	if math.Abs(stats.BitsPerChannel-p) > 0.001 {
		return nil, fmt.Errorf("embed %s: %.4f bpc, wanted %.4f", label, stats.BitsPerChannel, p)
	}
	return st.Image(), nil
}

// cropFeatures extracts the cover's features and, per payload, those of
// a stego.Embed image in keyed mode, in adaptive mode (and, with
// ablation, adaptive without synchronised directions), and of a
// simulated ±1 image.
func cropFeatures(c crop, payloads []float64, seed uint64, ablation bool) (feats, error) {
	f := feats{Codec: map[float64][]float32{}, Sim: map[float64][]float32{}, Adapt: map[float64][]float32{}, AdaptNoSync: map[float64][]float32{}}
	var err error
	if f.Cover, err = features(c.img); err != nil {
		return f, err
	}
	cover, err := stego.FromImage(c.img)
	if err != nil {
		return f, err
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	samples := c.img.Bounds().Dx() * c.img.Bounds().Dy() * 3
	for _, p := range payloads {
		data := make([]byte, PayloadBytes(p, samples))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		ctx := context.Background()
		st, err := embed(ctx, cover, data, stego.ModeKeyed, p, "codec")
		if err != nil {
			return f, err
		}
		if f.Codec[p], err = features(st); err != nil {
			return f, err
		}
		if st, err = embed(ctx, cover, data, stego.ModeAdaptive, p, "adaptive"); err != nil {
			return f, err
		}
		if f.Adapt[p], err = features(st); err != nil {
			return f, err
		}
		if ablation {
			if st, err = embed(adaptivetune.WithSyncFactor(ctx, 1), cover, data, stego.ModeAdaptive, p, "adaptive-nosync"); err != nil {
				return f, err
			}
			if f.AdaptNoSync[p], err = features(st); err != nil {
				return f, err
			}
		}
		if f.Sim[p], err = features(simulatePM1(c.img, p/2, rng)); err != nil {
			return f, err
		}
	}
	return f, nil
}

// PayloadBytes is the secret size that makes stego.Embed carry exactly
// bpc bits per channel in a cover of that many samples.
func PayloadBytes(bpc float64, samples int) int {
	return int(math.Round(bpc*float64(samples)/8)) - overhead
}

// simulatePM1 changes each sample with probability rate by ±1 (at 0 and
// 255 towards the inside): LSB matching of random bits without coding,
// where half the samples already hold the right bit, so rate = bpc/2.
func simulatePM1(img *image.RGBA, rate float64, rng *rand.Rand) *image.RGBA {
	out := image.NewRGBA(img.Rect)
	copy(out.Pix, img.Pix)
	for i := range out.Pix {
		if i%4 == 3 || rng.Float64() >= rate {
			continue
		}
		v := out.Pix[i]
		switch {
		case v == 0:
			v = 1
		case v == 255:
			v = 254
		case rng.IntN(2) == 0:
			v--
		default:
			v++
		}
		out.Pix[i] = v
	}
	return out
}

func features(img image.Image) ([]float32, error) {
	s, err := steganalysis.FromImage(img)
	if err != nil {
		return nil, err
	}
	return steganalysis.Features(s)
}

func withSeed(c steganalysis.TrainConfig, seed uint64) steganalysis.TrainConfig {
	c.Seed = seed
	return c
}

// rate is the fraction of scores called stego (score > t) when
// stegoSide, else the fraction called cover.
func rate(scores []float64, t float64, stegoSide bool) float64 {
	n := 0
	for _, v := range scores {
		if (v > t) == stegoSide {
			n++
		}
	}
	return float64(n) / float64(max(len(scores), 1))
}

func verdict(score, t float64) string {
	if score > t {
		return "stego"
	}
	return "cover"
}

// thresholds lists the vote fractions the out-of-fold table shows.
func thresholds(chosen float64) []float64 {
	ts := []float64{0.5, 0.6, 0.7, 0.8, 0.9, 0.99}
	for i, t := range ts {
		if chosen == t {
			return ts
		}
		if chosen < t {
			return append(ts[:i:i], append([]float64{chosen}, ts[i:]...)...)
		}
	}
	return append(ts, chosen)
}

func uniq(a, b float64) []float64 {
	if a == b {
		return []float64{a}
	}
	return []float64{a, b}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
