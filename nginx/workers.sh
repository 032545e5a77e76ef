#!/bin/sh
# Runs nginx in the compose stack and keeps its upstream of stateless
# workers in step with Docker's DNS, so that
#   docker compose -f compose/docker-compose.yml up -d --scale stego-worker=N
# takes effect without editing a file or restarting anything.
#
# nginx 1.22 (Debian bookworm) resolves upstream names once, at start,
# and has no `resolve` parameter on upstream servers. So once a second
# this resolves the service name stego-worker (Docker answers with every
# running replica), writes one `server` line per address into the file
# nginx.conf includes in its upstream, and reloads nginx when the set
# changed. A reload is graceful: requests in flight finish on the old
# configuration. A worker being stopped drains first (its new requests
# get 503, which nginx retries on another node), and leaves the DNS,
# and then the upstream, when it exits.
#
# STEGO_MEMBERS (Swarm): the members' names as nginx.conf gives them.
# Their tasks' addresses change when a task is replaced, and Docker's DNS
# has no name for a task that is down, which nginx refuses to start or
# reload with. So this keeps each member's last known address (from
# tasks.NAME, which /etc/hosts cannot shadow) in /etc/hosts, where nginx
# finds it, and reloads nginx when one changes. The compose file gives
# its static addresses instead (extra_hosts).
set -eu
include=/tmp/stego-workers.conf
hosts=/tmp/stego-members.hosts
service=${STEGO_WORKER_SERVICE:-stego-worker}
members=${STEGO_MEMBERS:-}

render() {
	getent ahostsv4 "$service" 2>/dev/null | awk '{print $1}' | sort -u |
		while read -r ip; do
			echo "server $ip:8080 max_fails=1 fail_timeout=2s;"
		done >"$include.new" || true
	for m in $members; do
		ip=$(getent ahostsv4 "tasks.$m" 2>/dev/null | awk '{print $1}' | sort -u | head -n 1) || true
		[ -n "$ip" ] || ip=$(awk -v m="$m" '$2 == m {print $1; exit}' "$hosts" 2>/dev/null) || true
		if [ -n "$ip" ]; then echo "$ip $m"; fi
	done >"$hosts.new"
}

# write_hosts puts the members' lines in /etc/hosts (rewritten in place:
# Docker bind-mounts it).
write_hosts() {
	[ -n "$members" ] || return 0
	{
		grep -v ' # stego-member$' /etc/hosts || true
		sed 's/$/ # stego-member/' "$hosts"
	} >/tmp/hosts.tmp
	cat /tmp/hosts.tmp >/etc/hosts || echo "stego workers: cannot write /etc/hosts: nginx keeps the members' addresses it has" >&2
}

render
mv "$include.new" "$include"
mv "$hosts.new" "$hosts"
write_hosts
cp "$include" "$include.applied"
cp "$hosts" "$hosts.applied"
(
	# The .applied files are what nginx runs with. A change nginx refuses
	# (nginx -t: a name in its config that does not resolve just now)
	# is tried again every second until it takes, not forgotten.
	refused=""
	while sleep 1; do
		render
		if cmp -s "$include.new" "$include.applied" && cmp -s "$hosts.new" "$hosts.applied"; then
			# Back to what nginx runs with: undo a change it refused, so
			# that no other reload picks that up.
			if ! cmp -s "$include" "$include.applied" || ! cmp -s "$hosts" "$hosts.applied"; then
				cp "$include.applied" "$include"
				cp "$hosts.applied" "$hosts"
				write_hosts
				refused=""
			fi
			continue
		fi
		cp "$include.new" "$include"
		cp "$hosts.new" "$hosts"
		write_hosts
		if nginx -t -q 2>/dev/null; then
			echo "stego workers: $(grep -c . "$include") in the upstream${members:+, members at $(awk '{print $1}' "$hosts" | tr '\n' ' ')}; reloading nginx" >&2
			nginx -s reload && cp "$include" "$include.applied" && cp "$hosts" "$hosts.applied"
			refused=""
		elif [ -z "$refused" ]; then
			refused=1
			echo "stego workers: nginx refuses the new upstream; trying again every second:" >&2
			nginx -t 2>&1 | sed 's/^/  /' >&2 || true
		fi
	done
) &
# glibc hands memory nginx frees back to the kernel (its 128 KB answer
# buffers are mmapped, or trimmed off the heap's top), so every answer
# faulted its 1.3 MB in again: 2.8 ms of nginx's CPU per hide instead of
# 0.7, and nginx's share of one node's hides/s fell to 0.77. Keeping
# allocations up to 8 MB on the heap and 64 MB of free heap for reuse
# gave shares of 0.89-0.92 (docs/scaling.md). musl ignores this.
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=8388608:glibc.malloc.trim_threshold=67108864}"
exec nginx -g 'daemon off;'
