// Package steganalysis is a modern, trained steganalysis detector for
// spatial-domain (PNG, BMP) images: rich-model features and an ensemble
// classifier, the instrument against which the codec's stealth is
// measured. It imports nothing of this module, so package stego (and the
// CLI and API) can call it.
//
// # Features
//
// Features returns a vector of Dim = 3347 numbers for an 8-bit gray or
// RGB image, in three blocks:
//
//   - SPAM, 686: second-order SPAM (Pevný, Bas & Fridrich, "Steganalysis
//     by subtractive pixel adjacency matrix", IEEE TIFS 2010): transition
//     probabilities of neighbouring-pixel differences truncated to ±3,
//     along 8 directions, averaged over the 4 straight and the 4 diagonal
//     ones, computed per colour channel and averaged over the channels.
//   - SRM, 2145: nine submodels of the spatial rich model (Fridrich &
//     Kodovský, "Rich models for steganalysis of digital images", IEEE
//     TIFS 2012): 1st-, 2nd- and 3rd-order, SQUARE 3×3 and SQUARE 5×5
//     residuals (169 each) and the min/max of the 1st-, 2nd-, 3rd-order
//     and EDGE 3×3 residuals (325 each); residuals are quantised (steps
//     1, 2, 3, 4, 12 and 3), truncated to ±2, counted as 4-sample
//     co-occurrences along rows and columns and merged under SRM's sign
//     and direction symmetries. Counts are summed over the channels, as
//     the colour rich model does, then normalised to sum to 1 per
//     submodel.
//   - Colour, 516: co-occurrences of the R, G and B residuals at the same
//     pixel (the idea of Goljan, Fridrich & Cogranne, "Rich model for
//     steganalysis of color images", WIFS 2014): 3-D histograms (T = 3,
//     sign-symmetrised, 172 bins) of the 1st-order, 2nd-order and SQUARE
//     3×3 residuals. Embedding changes the three channels independently
//     and breaks their strong correlation, which these bins see. For a
//     gray image this block is all zeros.
//
// Extraction costs about 0.3 s of CPU for a 960×640 RGB image on one
// core (BenchmarkFeatures960x640 with GOMAXPROCS=1; the figure and how it
// was measured are in docs/stealth.md) and about 100 bytes of memory per
// pixel (98 for RGB, 67 for gray: WorkingBytes, checked against the
// allocator by TestWorkingBytesBound); Detect analyses at most the
// central 2048×2048 region of an image.
//
// # Classifier
//
// Train fits the ensemble of Kodovský, Fridrich & Holub ("Ensemble
// classifiers for steganalysis of digital media", IEEE TIFS 2012): L
// Fisher linear discriminants, each on a random subspace of DSub
// features and a bootstrap sample of cover/stego pairs, with the
// within-class scatter regularised by a ridge (Lambda times its mean
// diagonal; Lambda = 1, the best of 0.01, 0.1, 0.3, 1 and 10 on the
// corpus, though all but the extremes were within noise) because there
// are fewer training images than features. Each learner's threshold
// minimises its training error; the ensemble's score
// is the fraction of learners voting stego, and the verdict is stego
// above the model's threshold (0.5, a majority vote). DSub is chosen from
// {32, 64, 128, 256} by out-of-bag error; L = 51. Train is deterministic
// given TrainConfig.Seed. The training command is not bit for bit
// reproducible all the same: stego.Embed draws a fresh random salt for
// every image, so the stego images, and the figures, vary a little from
// run to run (about ±0.01 in P_E).
//
// # Model
//
// The shipped model (model.gob, float32 weights with the
// standardisation folded in) is embedded in the binary; Default decodes
// it once. It is written by the training command in ./train, which also
// prints the P_E table (P_E = min over thresholds of (P_FA + P_MD)/2 on
// photos not used for training) — docs and the issue tracker quote that
// table with its command.
//
// # State
//
// The package has no mutable global state: the symmetry tables and
// kernels are computed at initialisation and only read afterwards, and
// Default decodes the embedded model once through sync.OnceValues.
// A Detector is immutable and safe for concurrent use.
//
// # Limits
//
// The corpus is small: 38 photographs (testdata/photos/README.md), 210
// crops of 512×512 after downscaling each photo several ways (box
// halving, Catmull-Rom and approximate bilinear at several factors, so
// that the model does not take one resampler's texture for "cover"), so
// P_E figures carry a standard deviation of several points, printed
// beside them. False alarms are common: about a quarter of clean crops
// of photos outside the training set score above 0.5 (docs/stealth.md). The model knows
// only the codec's keyed ±1 mode and simulated ±1 embedding; other
// embedders (adaptive ones especially) need their own training. It was
// trained on downscaled colour photographs: on gray images (no colour
// features), on images that were JPEG-compressed at their current size,
// on screenshots or synthetic images the score is outside its training
// conditions and should be read with care — Result.Gray flags the first
// case. 16-bit images are analysed through their high byte only.
package steganalysis
