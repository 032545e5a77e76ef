# stegocluster node image: static stegod, stegoctl and etcdctl on scratch.
#   docker build -t stegocluster .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# etcdctl is go.mod's tool (`go tool etcdctl`): the etcd version stegod
# embeds, not a distribution's older one.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/stegod ./cmd/stegod \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/stegoctl ./cmd/stegoctl \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/etcdctl go.etcd.io/etcd/etcdctl/v3 \
 && mkdir -p /out/data /out/certs/stego-node1 /out/certs/stego-node2 /out/certs/stego-node3 /out/certs/stego-worker

FROM scratch
LABEL org.opencontainers.image.title="stegocluster" \
      org.opencontainers.image.description="Highly available steganography service node: REST API, embedded etcd member, leader election"
COPY --from=build /out/stegod /out/stegoctl /out/etcdctl /usr/local/bin/
COPY --from=build --chown=65532:65532 /out/data /data
# Owned by the node's user, so that compose's `certs` volume mounted here
# is too, and so are the per-node volumes mounted on its subdirectories
# (Docker gives a new volume the owner of the directory it covers).
COPY --from=build --chown=65532:65532 /out/certs /certs
USER 65532:65532
ENV DATA_DIR=/data HTTP_ADDR=:8080
EXPOSE 8080 2379 2380
VOLUME /data
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 CMD ["/usr/local/bin/stegoctl", "health"]
ENTRYPOINT ["/usr/local/bin/stegod"]
