#!/usr/bin/env bash
# Throughput through nginx in front of three nodes vs. directly against one
# node of the same cluster, for docs/performance.md (issue 5: the cluster
# path must keep >= 90% of the single-node throughput).
#
#   docs/bench-throughput.sh [ROUNDS] [SECONDS] [CLIENTS] [OP] [SIZE]
#       defaults: 6 rounds of 15 s per path, 2 x CPUs clients, embed, 4096 bytes
#
# Starts compose/cluster.sh in a temporary directory (nginx on 8400, nodes
# on 8401-8403, raft from 12600: clear of the tests' ports), warms both
# paths up, then runs `stegoctl load` alternately against node 1 alone and
# through nginx, the order swapped every round so that drift on a noisy
# machine falls on both. Both paths run on the same machine, against the
# same three running nodes (same etcd, same background work); only the
# route differs. The cluster is torn down on exit.
set -euo pipefail

rounds=${1:-6}
secs=${2:-15}
clients=${3:-$((2 * $(nproc)))}
op=${4:-embed}
size=${5:-4096}
repo=$(cd "$(dirname "$0")/.." && pwd)
command -v nginx >/dev/null || { echo "needs nginx (apt-get install nginx)" >&2; exit 1; }

export CLUSTER_DIR NGINX_PORT=8400 HTTP_BASE=8401 PEER_BASE=12600
CLUSTER_DIR=$(mktemp -d)
trap '"$repo/compose/cluster.sh" down >/dev/null 2>&1 || true' EXIT
"$repo/compose/cluster.sh" up >/dev/null
ctl=$CLUSTER_DIR/bin/stegoctl
node=http://127.0.0.1:$HTTP_BASE
nginx=http://127.0.0.1:$NGINX_PORT

# cpu_ticks: user+system clock ticks used so far by the three nodes and by
# nginx's workers. The machine may be shared: the CPU each request costs is
# what decides throughput on a quiet machine, and other processes do not
# change it much, whereas they do change req/s.
cpu_ticks() {
	local pids p t=0
	pids="$(cat "$CLUSTER_DIR"/node[123].pid) $(pgrep -P "$(cat "$CLUSTER_DIR/nginx.pid")" | tr '\n' ' ')"
	for p in $pids; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
	echo "$t"
}
hz=$(getconf CLK_TCK)

# load TARGET SECONDS -> prints "rps failed p50 p99 per_node"
load() {
	local out
	out=$("$ctl" load --targets "$1" --clients "$clients" --duration "${2}s" --op "$op" --size "$size" --json --quiet) || true
	[ -n "$out" ] || { echo "stegoctl load against $1 printed no report" >&2; exit 1; }
	jq -r '"\(.throughput_rps) \(.failed) \(.latency_ms.p50) \(.latency_ms.p99) \(.per_node | to_entries | map("\(.key)=\(.value)") | join(","))"' <<<"$out"
}

echo "$(date -u +%FT%TZ) $(nproc) CPUs, $(go version | cut -d' ' -f3), nginx $(nginx -v 2>&1 | sed 's|.*/||')"
echo "op $op, $size-byte secrets, $clients clients, $rounds rounds x ${secs}s per path"
load "$node" 5 >/dev/null
load "$nginx" 5 >/dev/null

sum_node=0 sum_nginx=0 cpu_node=0 cpu_nginx=0
for r in $(seq "$rounds"); do
	order="node nginx"
	[ $((r % 2)) = 0 ] && order="nginx node"
	for path in $order; do
		target=$node
		[ "$path" = nginx ] && target=$nginx
		t0=$(cpu_ticks)
		read -r rps failed p50 p99 split < <(load "$target" "$secs")
		cpu=$(echo "($(cpu_ticks) - $t0) * 1000 / $hz / ($rps * $secs)" | bc -l) # server CPU ms per request
		# the load average shows when something else was using the CPUs
		printf 'round %d %-5s %7.1f req/s  p50 %6.1f ms  p99 %6.1f ms  server CPU %5.1f ms/req  failed %d  load %s  %s\n' \
			"$r" "$path" "$rps" "$p50" "$p99" "$cpu" "$failed" "$(cut -d' ' -f1 /proc/loadavg)" "$split"
		if [ "$path" = node ]; then
			sum_node=$(echo "$sum_node + $rps" | bc -l) cpu_node=$(echo "$cpu_node + $cpu" | bc -l)
		else
			sum_nginx=$(echo "$sum_nginx + $rps" | bc -l) cpu_nginx=$(echo "$cpu_nginx + $cpu" | bc -l)
		fi
	done
done
printf 'server CPU per request: one node directly %.1f ms, through nginx %.1f ms (nodes and nginx; %.1f%% of the direct cost)\n' \
	"$(echo "$cpu_node / $rounds" | bc -l)" "$(echo "$cpu_nginx / $rounds" | bc -l)" "$(echo "100 * $cpu_nginx / $cpu_node" | bc -l)"
printf 'mean: one node directly %.1f req/s, three nodes through nginx %.1f req/s, ratio %.1f%%\n' \
	"$(echo "$sum_node / $rounds" | bc -l)" "$(echo "$sum_nginx / $rounds" | bc -l)" "$(echo "100 * $sum_nginx / $sum_node" | bc -l)"
