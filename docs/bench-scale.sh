#!/usr/bin/env bash
# Scale figures for docs/scaling.md and docs/performance.md, on one machine
# with compose/cluster.sh (three members and nginx on 127.0.0.1, workers
# added with add-worker) and `hey` (Debian's package):
#
#   docs/bench-scale.sh [SECONDS] [ROUNDS]     (default 20 and 4)
#
# 1. nginx's share: the same running cluster (no workers), `hey -c 4`
#    hiding 4 KB with the raw PNG answer, alternating ROUNDS rounds of
#    SECONDS through nginx and straight to one node; prints each pair's
#    ratio of hides/s and their mean, and each round's CPU per hide of
#    the nodes and of nginx (a steadier figure than the ratio when other
#    load on the machine comes and goes).
# 2. For 0, 2, 4 and 8 workers: the idle CPU of each worker (% of one
#    core over SECONDS with no load), then the same hide load through
#    nginx for SECONDS: hides/s, and CPU per request (user + system time
#    of every stegod and nginx process, divided by the requests answered),
#    beside one node's CPU per hide measured straight just before (the
#    same load on member 1 alone): their ratio, and how much it rose over
#    the 0-worker row's, compare rows even when the machine's speed
#    drifts between them.
#    Workers start with WORKER_ENV (default "GOMAXPROCS=1 WORKERS=1":
#    eleven processes on two CPUs must not each run two threads of Go
#    and two stego jobs; WORKER_ENV= starts them with the defaults).
# Everything runs in a temporary cluster directory removed at exit.
set -euo pipefail

secs=${1:-20}
rounds=${2:-4}
worker_env=${WORKER_ENV-GOMAXPROCS=1 WORKERS=1}
repo=$(cd "$(dirname "$0")/.." && pwd)
command -v hey >/dev/null || { apt-get update -qq && apt-get install -y -qq hey >/dev/null; }
work=$(mktemp -d)
free_base() {
	python3 - <<'EOF'
import socket
for base in range(20000, 60000, 97):
    try:
        socks = []
        for p in range(base, base + 30):
            s = socket.socket(); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
EOF
}
base=$(free_base)
export CLUSTER_DIR=$work/cluster NGINX_PORT=$base HTTP_BASE=$((base + 1)) PEER_BASE=$((base + 4)) WORKER_BASE=$((base + 10))
cluster() { "$repo/compose/cluster.sh" "$@"; }
cleanup() { cluster down >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
cluster up >/dev/null

python3 - "$work/body" <<'EOF'
import os, sys
secret = os.urandom(4096)
open(sys.argv[1], "wb").write(b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.bin\"\r\n"
    b"Content-Type: application/octet-stream\r\n\r\n" + secret + b"\r\n--b--\r\n")
EOF
nginx_url=http://127.0.0.1:$NGINX_PORT
node_url=http://127.0.0.1:$HTTP_BASE

# hides URL SECONDS: hides per second answered 200.
hides() {
	hey -z "${2}s" -c 4 -m POST -T "multipart/form-data; boundary=b" -D "$work/body" \
		"$1/api/embed?format=png" | awk '/Requests\/sec/ {rps=$2} /\[200\]/ {ok=$2} END {printf "%s %s\n", rps, ok}'
}
# pids of every stegod and nginx process of this cluster.
pids() {
	local master
	cat "$CLUSTER_DIR"/node*.pid
	cat "$CLUSTER_DIR"/worker*.pid 2>/dev/null || true # none yet: set -e must not end the list here
	master=$(cat "$CLUSTER_DIR/nginx.pid")
	echo "$master"
	pgrep -P "$master" || true
}
# ticks PID…: user + system clock ticks of those processes.
ticks() {
	local total=0 p
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] || continue
		total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$total"
}
hz=$(getconf CLK_TCK)

echo "## nginx's share: hides/s through nginx / straight to one node (hey -c 4, 4 KB, raw PNG, ${secs} s rounds)"
mapfile -t node_pids < <(cat "$CLUSTER_DIR"/node*.pid)
mapfile -t nginx_pids < <(pids | grep -vxF -f <(printf '%s\n' "${node_pids[@]}"))
# measured URL: "hides/s, CPU per hide of the nodes and of nginx (ms)".
measured() {
	local n0 x0 n1 x1 rps ok
	n0=$(ticks "${node_pids[@]}") x0=$(ticks "${nginx_pids[@]}")
	read -r rps ok <<<"$(hides "$1" "$secs")"
	n1=$(ticks "${node_pids[@]}") x1=$(ticks "${nginx_pids[@]}")
	python3 -c "ok = max(${ok:-0}, 1); print(f'$rps {1000 * ($n1 - $n0) / $hz / ok:.1f} {1000 * ($x1 - $x0) / $hz / ok:.1f}')"
}
# Warm both paths up first: the first seconds after start grow every
# heap, and the first round ran 0.79 where later ones ran 0.89-0.96.
hides "$nginx_url" 5 >/dev/null
hides "$node_url" 5 >/dev/null
sum=0
for r in $(seq "$rounds"); do
	read -r via via_nodes via_nginx <<<"$(measured "$nginx_url")"
	read -r direct direct_node _ <<<"$(measured "$node_url")"
	ratio=$(python3 -c "print(f'{$via / $direct:.3f}')")
	sum=$(python3 -c "print($sum + $ratio)")
	echo "round $r: nginx $via/s (CPU per hide: nodes $via_nodes ms, nginx $via_nginx ms), one node $direct/s ($direct_node ms), ratio $ratio"
done
echo "mean ratio $(python3 -c "print(f'{$sum / $rounds:.3f}')")"
echo

echo "workers started with: ${worker_env:-the defaults}"
echo "| workers | idle CPU per worker (% of a core) | hides/s through nginx | CPU per hide (ms) | one node alone, just before (ms) | ratio | ratio against 0 workers |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
have=0
for n in 0 2 4 8; do
	# shellcheck disable=SC2086 # worker_env is a list of VAR=value words
	while [ $have -lt $n ]; do env $worker_env "$repo/compose/cluster.sh" add-worker >/dev/null; have=$((have + 1)); done
	sleep 3 # the newest worker registered and settled
	idle="—"
	if [ $n -gt 0 ]; then
		mapfile -t wp < <(cat "$CLUSTER_DIR"/worker*.pid)
		t0=$(ticks "${wp[@]}")
		sleep "$secs"
		t1=$(ticks "${wp[@]}")
		idle=$(python3 -c "print(f'{100 * ($t1 - $t0) / $hz / $secs / $n:.2f}')")
	fi
	# The machine's speed drifts over the minutes this takes: one node's
	# CPU per hide, measured just before, is each row's yardstick.
	read -r _ alone _ <<<"$(measured "$node_url")"
	mapfile -t all < <(pids)
	t0=$(ticks "${all[@]}")
	read -r rps ok <<<"$(hides "$nginx_url" "$secs")"
	t1=$(ticks "${all[@]}")
	per=$(python3 -c "print(f'{1000 * ($t1 - $t0) / $hz / max(${ok:-0}, 1):.1f}')")
	rel=$(python3 -c "print(f'{$per / $alone:.3f}')")
	[ "$n" = 0 ] && rel0=$rel
	echo "| $n | $idle | $rps | $per | $alone | $rel | $(python3 -c "print(f'{100 * ($rel / $rel0 - 1):+.1f}%')") |"
done
