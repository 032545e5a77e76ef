#!/usr/bin/env bash
# Single-node measurements for docs/performance.md: idle RSS, RSS under 8
# concurrent 50 MB uploads (while small requests keep being served), and
# hide/reveal throughput with `hey` (Debian's package).
#
#   docs/bench-node.sh [REQUESTS] [CONCURRENCY]     (default 2000 and 8)
#
# Everything runs on 127.0.0.1 in a temporary directory removed at exit.
set -euo pipefail

requests=${1:-2000}
concurrency=${2:-8}
# shellcheck source=bench-one-node.sh
. "$(dirname "$0")/bench-one-node.sh"
start_node 18080 12380 12379 /cluster/status
rss() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' /proc/$pid/status; }
hwm() { awk '/^VmHWM/ {printf "%.1f", $2/1024}' /proc/$pid/status; }
sleep 2
echo "idle RSS: $(rss) MB"

# 8 concurrent 50 MB uploads (a secret far over the built-in cover's
# capacity: read, refused 413) while a small hide runs every 100 ms.
head -c $((50 << 20)) /dev/urandom >big.bin
echo "a small secret" >small.txt
for i in $(seq 8); do
	curl -s -o /dev/null -w "%{http_code}\n" -F file=@big.bin "$base/api/embed" >"up$i.code" &
done
ok=0 bad=0
for _ in $(seq 30); do
	code=$(curl -s -o /dev/null -w "%{http_code}" -F file=@small.txt "$base/api/embed")
	if [ "$code" = 200 ]; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
	sleep 0.1
done
wait $(jobs -p | grep -v "^$pid$") 2>/dev/null || true
echo "8 x 50 MB uploads: answers $(sort up*.code | uniq -c | tr -s ' \n' ' '); small hides meanwhile: $ok ok, $bad failed; peak RSS $(hwm) MB"

# Throughput: hide 100 KB in the built-in cover; reveal it.
head -c 102400 /dev/urandom >secret.bin
boundary=stegoclusterbench
{
	printf -- '--%s\r\nContent-Disposition: form-data; name="file"; filename="secret.bin"\r\nContent-Type: application/octet-stream\r\n\r\n' $boundary
	cat secret.bin
	printf -- '\r\n--%s--\r\n' $boundary
} >hide.body
curl -sS --fail-with-body -H "Content-Type: multipart/form-data; boundary=$boundary" --data-binary @hide.body "$base/api/embed?format=png" -o stego.png
{
	printf -- '--%s\r\nContent-Disposition: form-data; name="file"; filename="stego.png"\r\nContent-Type: image/png\r\n\r\n' $boundary
	cat stego.png
	printf -- '\r\n--%s--\r\n' $boundary
} >reveal.body
curl -fs -H "Content-Type: multipart/form-data; boundary=$boundary" -H "Accept: application/octet-stream" --data-binary @reveal.body "$base/api/extract" -o revealed.bin
cmp -s secret.bin revealed.bin || { echo "reveal did not return the secret" >&2; exit 1; }

summary() { # hey's output → "N req/s, p50 X ms, p99 Y ms, statuses"
	awk '/Requests\/sec/ {rps=$2} /50% in/ {p50=$3*1000} /99% in/ {p99=$3*1000} /^ *\[[0-9][0-9][0-9]\][ \t]+[0-9]+ responses/ {codes=codes $1 " x" $2 " "}
	     END {printf "%.1f req/s, p50 %.0f ms, p99 %.0f ms, status %s\n", rps, p50, p99, codes}'
}
echo "hide 100 KB ($requests requests, $concurrency clients): $(hey -n "$requests" -c "$concurrency" -m POST -T "multipart/form-data; boundary=$boundary" -D hide.body "$base/api/embed?format=png" | summary)"
echo "reveal     ($requests requests, $concurrency clients): $(hey -n "$requests" -c "$concurrency" -m POST -T "multipart/form-data; boundary=$boundary" -D reveal.body "$base/api/extract?format=raw" | summary)"
echo "RSS after load: $(rss) MB, peak $(hwm) MB"
