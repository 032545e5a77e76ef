#!/usr/bin/env bash
# Server CPU per hide (issue 13, item 5): one stegod on loopback, `hey`
# hiding a SIZE-byte random secret in the built-in 960×640 cover with the
# raw PNG answer, ROUNDS rounds of REQUESTS requests at CONCURRENCY
# clients; the node's user + system clock ticks (/proc/PID/stat) over a
# round divided by its requests. Extra form fields (e.g. mode=adaptive)
# go in FIELDS, space-separated name=value pairs.
#
#   docs/bench-hide-cpu.sh [REQUESTS] [CONCURRENCY] [SIZE] [ROUNDS]   (default 400 4 4096 3)
#
# Everything runs on 127.0.0.1 in a temporary directory removed at exit.
set -euo pipefail

requests=${1:-400}
concurrency=${2:-4}
size=${3:-4096}
rounds=${4:-3}
# shellcheck source=bench-one-node.sh
. "$(dirname "$0")/bench-one-node.sh"
port=${PORT:-18090}
start_node "$port" $((port + 2)) $((port + 1)) /readyz

head -c "$size" /dev/urandom >secret.bin
boundary=stegoclusterbench
{
	for kv in ${FIELDS:-}; do
		printf -- '--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' $boundary "${kv%%=*}" "${kv#*=}"
	done
	printf -- '--%s\r\nContent-Disposition: form-data; name="file"; filename="secret.bin"\r\nContent-Type: application/octet-stream\r\n\r\n' $boundary
	cat secret.bin
	printf -- '\r\n--%s--\r\n' $boundary
} >hide.body
curl -sS --fail-with-body -H "Content-Type: multipart/form-data; boundary=$boundary" --data-binary @hide.body "$base/api/embed?format=png" -o stego.png
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# A warm-up round the figures do not count (pools, the heap's size).
hey -n 100 -c "$concurrency" -m POST -T "multipart/form-data; boundary=$boundary" -D hide.body "$base/api/embed?format=png" >/dev/null
echo "hide of $size bytes into the built-in cover, $requests requests x $rounds rounds, $concurrency clients${FIELDS:+, fields: $FIELDS}"
for r in $(seq "$rounds"); do
	before=$(ticks)
	out=$(hey -n "$requests" -c "$concurrency" -m POST -T "multipart/form-data; boundary=$boundary" -D hide.body "$base/api/embed?format=png")
	after=$(ticks)
	ok=$(echo "$out" | awk '/\[200\]/ {print $2}')
	# hey sends REQUESTS/CONCURRENCY per client, rounded down: count what
	# it sent (every status line), not what was asked.
	sent=$(echo "$out" | awk '/^ *\[[0-9]+\]/ {n += $2} END {print n + 0}')
	rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
	awk -v t=$((after - before)) -v hz="$hz" -v n="$sent" -v ok="${ok:-0}" -v rps="$rps" -v r="$r" \
		'BEGIN { printf "round %d: %.2f ms of server CPU per hide, %.1f hides/s, %d of %d answered 200\n", r, 1000 * t / hz / n, rps, ok, n }'
done
