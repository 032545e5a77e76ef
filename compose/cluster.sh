#!/usr/bin/env bash
# Three stegod nodes and nginx on 127.0.0.1, without Docker: the same
# topology as docker-compose.yml, for machines without a Docker engine.
#
#   compose/cluster.sh up            build, start three nodes and nginx, wait until healthy
#   compose/cluster.sh status        the cluster as nginx sees it
#   compose/cluster.sh stop N        SIGTERM node N (1-3);  kill N: SIGKILL it
#   compose/cluster.sh start N       start node N again with its data
#   compose/cluster.sh down          stop everything and delete the cluster directory
#   compose/cluster.sh etcdctl ARGS  etcdctl on the cluster's members (built from our go.mod),
#                                    with the operators' certificate
#   compose/cluster.sh token         print the admin token (for curl or the web app)
#   compose/cluster.sh certs-renew   give every node (and etcdctl) a new key and
#                                    certificate; running nodes need no restart
#   compose/cluster.sh add-worker    start a stateless worker (no etcd member) and, once
#                                    it is ready, send it requests (nginx reload)
#   compose/cluster.sh remove-worker [N]  stop sending worker N (default: the newest)
#                                    requests, then stop it (SIGTERM: it drains)
#
# Settings (environment): CLUSTER_DIR (default /tmp/stegocluster), NGINX_PORT
# (8000), HTTP_BASE (8081: nodes on 8081-8083), WORKER_BASE (HTTP_BASE+100:
# worker N on WORKER_BASE+N-1), PEER_BASE (12380: raft on
# 12380/12382/12384, etcd clients one above each), ADMIN_TOKEN (at least 16
# characters; unset, `up` generates one). `up` saves them in
# CLUSTER_DIR/cluster.env and the token, readable by you only, in
# CLUSTER_DIR/admin-token; later commands need only CLUSTER_DIR.
# etcd's peer and client traffic is mutual TLS: `up` makes a CA and the
# nodes' certificates in CLUSTER_DIR/certs (stegoctl certs init), and
# etcd refuses clients without one (`etcdctl` here passes the operators').
# Needs Go, nginx and curl (Debian: apt-get install nginx curl).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${CLUSTER_DIR:-/tmp/stegocluster}
nginx_port=${NGINX_PORT:-8000}
http_base=${HTTP_BASE:-8081}
peer_base=${PEER_BASE:-12380}
worker_base=${WORKER_BASE:-$((http_base + 100))}
# The admin token lives in this file only (mode 0600), never in
# cluster.env or the script's output: those are read by more people.
token_file=$dir/admin-token
certs=$dir/certs
# A running cluster remembers its settings (written by up), so later
# commands need only CLUSTER_DIR.
if [ "${1:-}" != up ] && [ -f "$dir/cluster.env" ]; then
	# shellcheck source=/dev/null
	. "$dir/cluster.env"
fi

http_port() { echo $((http_base + $1 - 1)); }
worker_port() { echo $((worker_base + $1 - 1)); }
# The workers running now, by number (their pid files).
workers() {
	local f
	for f in "$dir"/worker*.pid; do
		if [ -e "$f" ]; then basename "$f" .pid | sed 's/^worker//'; fi
	done | sort -n
}
endpoints() {
	local i out=""
	for i in 1 2 3; do out+="${out:+,}https://127.0.0.1:$(client_port "$i")"; done
	echo "$out"
}
peer_port() { echo $((peer_base + 2 * ($1 - 1))); }
client_port() { echo $(($(peer_port "$1") + 1)); }
initial_cluster() {
	local i out=""
	for i in 1 2 3; do out+="${out:+,}stego-node$i=https://127.0.0.1:$(peer_port "$i")"; done
	echo "$out"
}

# alive PID: the process exists and is not a zombie waiting to be reaped
# (nodes are started in the background, so their parent may be gone).
alive() { [ -n "$1" ] && [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat" 2>/dev/null; }

# ours PID: alive, and running this cluster's stegod or nginx — not a
# process that took the pid of one that died on its own since.
ours() {
	alive "$1" || return 1
	local exe
	exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 0 # not ours to read (nginx's master as root): trust the file
	case ${exe##*/} in stegod* | nginx*) return 0 ;; *) return 1 ;; esac # "stegod (deleted)" after a rebuild
}

start_node() {
	local i=$1 pid
	# A second stegod would exit at once (its ports are taken) but leave
	# its pid in the file, and `down` would then miss the running one.
	pid=$(cat "$dir/node$i.pid" 2>/dev/null) && ours "$pid" && {
		echo "node $i is already running (pid $pid)" >&2
		exit 1
	}
	mkdir -p "$dir/node$i" "$dir/log"
	NODE_ID=stego-node$i HTTP_ADDR=127.0.0.1:$(http_port "$i") ADVERTISE_IP=127.0.0.1 \
		DATA_DIR="$dir/node$i" PEER_URL=https://127.0.0.1:$(peer_port "$i") \
		CLIENT_URL=https://127.0.0.1:$(client_port "$i") INITIAL_CLUSTER=$(initial_cluster) \
		ETCD_TLS_DIR="$certs/stego-node$i" \
		CLUSTER_TOKEN=stegocluster-local ADMIN_TOKEN="$(cat "$token_file")" \
		nohup "$dir/bin/stegod" >>"$dir/log/node$i.log" 2>&1 &
	echo $! >"$dir/node$i.pid"
}

start_worker() {
	local n=$1
	mkdir -p "$dir/worker$n" "$dir/log"
	ROLE=worker NODE_ID=stego-worker$n HTTP_ADDR=127.0.0.1:$(worker_port "$n") ADVERTISE_IP=127.0.0.1 \
		DATA_DIR="$dir/worker$n" ETCD_ENDPOINTS=$(endpoints) ETCD_TLS_DIR="$certs/stego-worker" \
		ADMIN_TOKEN="$(cat "$token_file")" \
		nohup "$dir/bin/stegod" >>"$dir/log/worker$n.log" 2>&1 &
	echo $! >"$dir/worker$n.pid"
}

# reload_nginx sends nginx the upstream for the nodes and workers
# running now; a reload is graceful (requests in flight finish).
reload_nginx() {
	nginx_conf >"$dir/nginx.conf"
	nginx -t -q -p "$dir" -c "$dir/nginx.conf" 2>/dev/null || nginx -t -p "$dir" -c "$dir/nginx.conf"
	nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/log/nginx-error.log" -s reload
}

# node_number N: N if it names a node (1-3), else a usage error.
node_number() {
	case ${1:-} in
	1 | 2 | 3) echo "$1" ;;
	*)
		echo "a node number (1-3) is needed, not '${1:-}'" >&2
		exit 2
		;;
	esac
}

# signal_pidfile SIG FILE: signal the process FILE names, wait (up to
# 10 s) for it to end, SIGKILL it if it has not, and remove FILE.
signal_pidfile() {
	local sig=$1 file=$2 pid
	pid=$(cat "$file" 2>/dev/null) || return 0
	if ! ours "$pid"; then # ended on its own; the pid may be another's now
		rm -f "$file"
		return 0
	fi
	kill "-$sig" "$pid" 2>/dev/null || true
	for _ in $(seq 200); do alive "$pid" || break; sleep 0.05; done
	if alive "$pid"; then
		echo "$(basename "$file" .pid) (pid $pid) still running 10 s after SIG$sig: killing it" >&2
		kill -KILL "$pid" 2>/dev/null || true
		for _ in $(seq 40); do alive "$pid" || break; sleep 0.05; done
	fi
	rm -f "$file"
}
signal_node() { signal_pidfile "$1" "$dir/node$2.pid"; }

signal_worker() { signal_pidfile "$1" "$dir/worker$2.pid"; }

# write_token puts ADMIN_TOKEN, or a new random token, in $token_file,
# created readable by the owner only. An existing file (an `up` on a
# directory already used) is kept unless ADMIN_TOKEN says otherwise.
write_token() {
	if [ -n "${ADMIN_TOKEN:-}" ]; then
		if [ ${#ADMIN_TOKEN} -lt 16 ]; then
			echo "ADMIN_TOKEN has ${#ADMIN_TOKEN} characters; at least 16 are needed (or unset it to have one generated)" >&2
			exit 2
		fi
		(umask 077 && printf '%s\n' "$ADMIN_TOKEN" >"$token_file.tmp") && mv "$token_file.tmp" "$token_file"
	elif [ ! -s "$token_file" ]; then
		(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$token_file.tmp" && echo >>"$token_file.tmp") &&
			mv "$token_file.tmp" "$token_file"
		echo "ADMIN_TOKEN not set: generated one into $token_file (compose/cluster.sh token prints it)"
	fi
}

nginx_conf() {
	# The shared config with the lines marked "# local:" pointed here.
	# Workers run as the invoking user so they can use $dir wherever it
	# is (as root nginx would otherwise drop to nobody).
	if [ "$(id -u)" = 0 ]; then echo "user root;"; fi
	# Paths quoted: CLUSTER_DIR may hold spaces.
	sed -e "s|^pid .*# local: pid|pid \"$dir/nginx.pid\";|" \
		-e "s|^error_log .*# local: error_log|error_log \"$dir/log/nginx-error.log\" warn;|" \
		-e "s|access_log .*# local: access_log|access_log \"$dir/log/nginx-access.log\" combined buffer=64k flush=1s;|" \
		-e "s|client_body_temp_path .*# local: temp|client_body_temp_path \"$dir/nginx/body\";|" \
		-e "s|proxy_temp_path .*# local: temp|proxy_temp_path \"$dir/nginx/proxy\";|" \
		-e "s|server stego-node\([123]\):8080\(.*\)# local: node.|server 127.0.0.1:NODEPORT\1\2|" \
		-e "s|listen 80;.*# local: listen|listen 127.0.0.1:$nginx_port;|" \
		"$repo/nginx/nginx.conf" |
		sed -e "s|NODEPORT1|$(http_port 1)|" -e "s|NODEPORT2|$(http_port 2)|" -e "s|NODEPORT3|$(http_port 3)|" |
		while IFS= read -r line; do
			case $line in
			*"# local: workers")
				for n in $(workers); do
					echo "        server 127.0.0.1:$(worker_port "$n") max_fails=1 fail_timeout=2s;    # stego-worker$n"
				done
				;;
			*) printf '%s\n' "$line" ;;
			esac
		done
}

# etcdctl runs the etcdctl of this module's go.mod (the etcd version
# stegod embeds; a distribution's is often older), built on first use.
etcdctl() {
	local endpoints="" i
	if [ ! -x "$dir/bin/etcdctl" ]; then
		mkdir -p "$dir/bin"
		(cd "$repo" && go build -o "$dir/bin/etcdctl" go.etcd.io/etcd/etcdctl/v3)
	fi
	for i in 1 2 3; do endpoints+="${endpoints:+,}https://127.0.0.1:$(client_port "$i")"; done
	"$dir/bin/etcdctl" --endpoints="$endpoints" --cacert="$certs/etcdctl/ca.crt" \
		--cert="$certs/etcdctl/tls.crt" --key="$certs/etcdctl/tls.key" "$@"
}

wait_healthy() {
	local deadline=$((SECONDS + ${1:-60})) i ok
	while [ $SECONDS -lt $deadline ]; do
		ok=0
		# Bounded: a node that accepts and never answers (stopped) must not
		# hold this loop past its deadline.
		for i in 1 2 3; do curl -fs --max-time 2 "http://127.0.0.1:$(http_port "$i")/readyz" >/dev/null 2>&1 && ok=$((ok + 1)); done
		if [ $ok = 3 ] && curl -fs --max-time 2 "http://127.0.0.1:$nginx_port/cluster/status" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	echo "cluster not healthy after ${1:-60}s; logs in $dir/log" >&2
	return 1
}

case ${1:-} in
up)
	command -v nginx >/dev/null || { echo "nginx is not installed (apt-get install nginx)" >&2; exit 1; }
	for f in "$dir"/node*.pid "$dir"/worker*.pid "$dir/nginx.pid"; do
		if [ -e "$f" ] && ours "$(cat "$f")"; then
			echo "a cluster is already running in $dir ($(basename "$f" .pid) is running); compose/cluster.sh down first, or set CLUSTER_DIR and the ports for another" >&2
			exit 1
		fi
	done
	mkdir -p "$dir/bin" "$dir/log" "$dir/nginx"
	write_token
	(cd "$repo" && go build -o "$dir/bin/stegod" ./cmd/stegod && go build -o "$dir/bin/stegoctl" ./cmd/stegoctl)
	# What later commands (and `stegoctl bench failover --cluster-dir`) need.
	printf 'nginx_port=%s\nhttp_base=%s\npeer_base=%s\nworker_base=%s\nHTTP_BASE=%s\n' \
		"$nginx_port" "$http_base" "$peer_base" "$worker_base" "$http_base" >"$dir/cluster.env"
	cp "$0" "$dir/bin/cluster.sh"
	"$dir/bin/stegoctl" certs init "$certs" stego-node1 stego-node2 stego-node3 stego-worker >/dev/null
	for i in 1 2 3; do start_node "$i"; done
	nginx_conf >"$dir/nginx.conf"
	nginx -t -q -p "$dir" -c "$dir/nginx.conf" 2>/dev/null || nginx -t -p "$dir" -c "$dir/nginx.conf"
	# Memory kept for reuse, as nginx/workers.sh says why.
	GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=8388608:glibc.malloc.trim_threshold=67108864}" \
		nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/log/nginx-error.log"
	wait_healthy 90
	echo "stegocluster up: http://127.0.0.1:$nginx_port/ (nodes on $(http_port 1)-$(http_port 3); etcd at https://127.0.0.1:$(client_port 1), certificates in $certs; admin token in $token_file)"
	;;
status)
	curl -fsS --max-time 10 "http://127.0.0.1:$nginx_port/cluster/status"
	echo
	;;
stop | kill | start)
	n=$(node_number "${2:-}") || exit 2
	case $1 in
	stop) signal_node TERM "$n" ;;
	kill) signal_node KILL "$n" ;;
	start) start_node "$n" ;;
	esac
	;;
wait) wait_healthy "${2:-60}" ;;
etcdctl)
	shift
	etcdctl "$@"
	;;
token) cat "$token_file" ;;
certs-renew) "$dir/bin/stegoctl" certs renew "$certs" stego-node1 stego-node2 stego-node3 stego-worker etcdctl ;;
add-worker)
	n=$(($(workers | tail -1) + 1))
	start_worker "$n"
	deadline=$((SECONDS + 30))
	until curl -fs --max-time 2 "http://127.0.0.1:$(worker_port "$n")/readyz" >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			echo "worker $n not ready after 30s; log in $dir/log/worker$n.log" >&2
			signal_worker TERM "$n"
			exit 1
		fi
		sleep 0.1
	done
	reload_nginx
	echo "stego-worker$n serving on 127.0.0.1:$(worker_port "$n"), in nginx's upstream"
	;;
remove-worker)
	n=${2:-$(workers | tail -1)}
	[ -n "$n" ] && [ -f "$dir/worker$n.pid" ] || { echo "no worker ${n:-to remove}" >&2; exit 1; }
	# Out of the upstream first, so nginx sends it nothing new; then
	# SIGTERM, and it finishes what it has before it exits.
	mv "$dir/worker$n.pid" "$dir/worker$n.stopping"
	reload_nginx
	signal_pidfile TERM "$dir/worker$n.stopping"
	echo "stego-worker$n stopped"
	;;
down)
	[ -f "$dir/nginx.pid" ] && nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/log/nginx-error.log" -s quit 2>/dev/null || true
	for n in $(workers); do signal_worker TERM "$n"; done
	# A worker whose remove-worker stopped half way (its reload failed).
	for f in "$dir"/worker*.stopping; do [ -e "$f" ] && signal_pidfile TERM "$f"; done
	for i in 1 2 3; do signal_node TERM "$i"; done
	for _ in $(seq 100); do [ -f "$dir/nginx.pid" ] || break; sleep 0.05; done
	rm -rf "$dir"
	;;
*)
	sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
