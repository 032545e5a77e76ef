#!/usr/bin/env bash
# Side-by-side, process-level comparison of `stegoctl embed/extract` with
# github.com/auyer/steganography v1.0.3 (the best-known Go library), on a
# 1920x1080 PNG cut from testdata/covers/street-1920x1280.png and a 100 KB
# random secret.
#
#   docs/bench-peers.sh [RUNS]        (default 10 runs each; prints medians)
#
# It builds both tools from source (the peer through the Go module proxy,
# in a temporary module that is deleted afterwards), runs them alternately
# so background load hits both alike, and prints seconds, peak RSS and the
# ratios the targets in docs/performance.md are stated in.
set -euo pipefail

runs=${1:-10}
repo=$(cd "$(dirname "$0")/.." && pwd)
photo="$repo/testdata/covers/street-1920x1280.png"
[ -f "$photo" ] || { echo "missing $photo" >&2; exit 1; }
if [ ! -x /usr/bin/time ] || ! command -v bc >/dev/null; then
	apt-get update -qq && apt-get install -y -qq time bc >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

echo "building stegoctl and the peer..." >&2
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/stegoctl" ./cmd/stegoctl)
mkdir peer && cd peer
cat > main.go <<'EOF'
// peer wraps github.com/auyer/steganography in a CLI shaped like ours,
// reading and writing files the way its README shows.
package main

import (
	"bufio"
	"bytes"
	"image"
	"image/draw"
	"image/png"
	"os"

	"github.com/auyer/steganography"
)

func decode(path string) image.Image {
	f, err := os.Open(path)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	img, _, err := image.Decode(bufio.NewReader(f))
	if err != nil {
		panic(err)
	}
	return img
}

func main() {
	switch os.Args[1] {
	case "crop": // crop IN W H OUT: the benchmark cover, not timed
		src := decode(os.Args[2])
		dst := image.NewNRGBA(image.Rect(0, 0, 1920, 1080))
		draw.Draw(dst, dst.Bounds(), src, image.Point{0, 100}, draw.Src)
		out, _ := os.Create(os.Args[3])
		defer out.Close()
		if err := png.Encode(out, dst); err != nil {
			panic(err)
		}
	case "embed": // embed COVER SECRET OUT
		msg, err := os.ReadFile(os.Args[3])
		if err != nil {
			panic(err)
		}
		var buf bytes.Buffer
		if err := steganography.Encode(&buf, decode(os.Args[2]), msg); err != nil {
			panic(err)
		}
		if err := os.WriteFile(os.Args[4], buf.Bytes(), 0o644); err != nil {
			panic(err)
		}
	case "extract": // extract IMAGE OUT
		img := decode(os.Args[2])
		msg := steganography.Decode(steganography.GetMessageSizeFromImage(img), img)
		if err := os.WriteFile(os.Args[3], msg, 0o644); err != nil {
			panic(err)
		}
	}
}
EOF
go mod init peer >/dev/null 2>&1
go get github.com/auyer/steganography@v1.0.3 >/dev/null 2>&1 ||
	{ echo "cannot fetch github.com/auyer/steganography v1.0.3 (no module proxy?)" >&2; exit 1; }
CGO_ENABLED=0 go build -o "$work/peer-bin" .
cd "$work"

./peer-bin crop "$photo" cover.png
head -c 102400 /dev/urandom > secret.bin

# measure NAME CMD...: one run, appends "seconds rss_kb" to NAME.txt
# (wall time from the shell's clock in ns; /usr/bin/time only for peak RSS).
measure() {
	local name=$1; shift
	local start end
	start=$(date +%s%N)
	/usr/bin/time -f "%M" -o t.out "$@" >/dev/null 2>"$name.err" ||
		{ echo "$name failed: $*" >&2; cat "$name.err" >&2; exit 1; }
	end=$(date +%s%N)
	echo "$(( (end - start) / 1000 )) $(cat t.out)" | awk '{printf "%.4f %s\n", $1/1e6, $2}' >> "$name.txt"
}
for _ in $(seq "$runs"); do
	measure ours-embed ./stegoctl embed --cover cover.png --secret secret.bin -o ours.png --force
	measure peer-embed ./peer-bin embed cover.png secret.bin peer.png
	measure ours-extract ./stegoctl extract -i ours.png -o ours.out --force
	measure peer-extract ./peer-bin extract peer.png peer.out
done
cmp -s secret.bin ours.out || { echo "stegoctl did not round-trip the secret" >&2; exit 1; }
cmp -s secret.bin peer.out || { echo "peer did not round-trip the secret" >&2; exit 1; }

median() { sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
col() { awk -v c="$2" '{print $c}' "$1.txt" | median; }

printf '\n%s runs each, 1920x1080 PNG cover, 100 KB secret, %s cores (%s)\n' "$runs" "$(nproc)" "$(go version | awk '{print $3}')"
printf '%-22s %10s %12s\n' "" "median s" "peak RSS MB"
for n in ours-embed peer-embed ours-extract peer-extract; do
	printf '%-22s %10.3f %12.1f\n' "$n" "$(col "$n" 1)" "$(echo "$(col "$n" 2) / 1024" | bc -l)"
done
printf '\nembed:   stegoctl is %.2fx faster than auyer/steganography (target >= 5x)\n' "$(echo "$(col peer-embed 1) / $(col ours-embed 1)" | bc -l)"
printf 'extract: stegoctl is %.2fx faster than auyer/steganography (target >= 3x)\n' "$(echo "$(col peer-extract 1) / $(col ours-extract 1)" | bc -l)"
printf 'peak RSS: stegoctl embed uses %+.1f MB vs the peer (target <= +64 MB)\n' "$(echo "($(col ours-embed 2) - $(col peer-embed 2)) / 1024" | bc -l)"
printf 'output size: stegoctl %d bytes, peer %d bytes\n' "$(stat -c %s ours.png)" "$(stat -c %s peer.png)"
