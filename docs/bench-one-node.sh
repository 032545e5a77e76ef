# Sourced by the single-node bench scripts (bench-node.sh,
# bench-hide-cpu.sh): hey installed, stegod built into a temporary
# directory that becomes the working directory and is removed at exit,
# and start_node to run it on loopback.
#
#   start_node HTTP_PORT PEER_PORT CLIENT_PORT READY_PATH
#
# sets pid (stegod's) and base (its URL), and returns once READY_PATH
# answers; after 10 s without an answer it prints stegod's log and exits.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v hey >/dev/null || { apt-get update -qq && apt-get install -y -qq hey >/dev/null; }

work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/stegod" ./cmd/stegod)

start_node() {
	HTTP_ADDR=127.0.0.1:$1 DATA_DIR="$work/data" PEER_URL=http://127.0.0.1:$2 CLIENT_URL=http://127.0.0.1:$3 \
		ADMIN_TOKEN=bench-admin-token-not-secret ./stegod >"$work/stegod.log" 2>&1 &
	pid=$!
	base=http://127.0.0.1:$1
	for _ in $(seq 100); do curl -fs --max-time 1 "$base$4" >/dev/null 2>&1 && return 0; sleep 0.1; done
	# Not ready (a port taken, say): say why before the EXIT trap removes the log.
	echo "stegod did not answer $base$4 within 10 s; its log:" >&2
	cat "$work/stegod.log" >&2
	exit 1
}
