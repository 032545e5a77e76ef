#!/usr/bin/env bash
# Builds, without pulling anything, the images the compose e2e test runs:
#   stegocluster:latest       the binaries built here, on scratch (Dockerfile.ci)
#   stegocluster-nginx:ci     Debian's nginx in a debootstrap root filesystem
# This machine's Docker engine cannot pull images, so the conventional
# Dockerfile (FROM golang) and nginx:stable cannot be used in CI; the
# override file docker-compose.ci.yml swaps these in. The nginx image is
# built once and reused (a few minutes the first time).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

mkdir -p "$here/bin"
# etcdctl as the Dockerfile builds it: go.mod's tool, the etcd version stegod embeds.
(cd "$repo" && for b in stegod stegoctl; do CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$here/bin/$b" ./cmd/$b; done \
	&& CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$here/bin/etcdctl" go.etcd.io/etcd/etcdctl/v3)
docker build -q -f "$here/Dockerfile.ci" -t stegocluster:latest "$here" >/dev/null

if ! docker image inspect stegocluster-nginx:ci >/dev/null 2>&1; then
	command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
	root=$(mktemp -d)
	trap 'rm -rf "$root" "$root.log"' EXIT
	debootstrap --variant=minbase --include=nginx-light bookworm "$root" http://deb.debian.org/debian >"$root.log" 2>&1 \
		|| { tail -20 "$root.log" >&2; exit 1; }
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
	tar -C "$root" -c . | docker import -c 'CMD ["nginx", "-g", "daemon off;"]' -c 'EXPOSE 80' - stegocluster-nginx:ci >/dev/null
	rm -f "$root.log"
fi
echo "images: stegocluster:latest ($(docker image inspect -f '{{.Size}}' stegocluster:latest | awk '{printf "%.1f MB", $1/1e6}')), stegocluster-nginx:ci"
