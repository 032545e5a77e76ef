package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stegocluster/stegocluster/wire"
)

// Node-to-node admin calls (POST /admin/nodes/:id/…, forwarded by the
// node that received it) never carry the caller's token. They carry a
// credential only a node of this cluster can make: an HMAC, keyed with
// the cluster's admin token, of the target node, the action and the
// time. A listener that is not a node of the cluster learns nothing it
// could use elsewhere, and a captured credential is good only for the
// same call to the same node within forwardValidity.
const (
	forwardAuthScheme = "Stego-Forward "
	forwardValidity   = 30 * time.Second
)

// forwardCredential is the Authorization value for a forwarded call of
// action on node target with this body: the body is part of what is
// signed, so a credential for a pause cannot be replayed as a crash.
func forwardCredential(token, target, action string, body []byte, now time.Time) string {
	ts := strconv.FormatInt(now.Unix(), 10)
	return forwardAuthScheme + ts + "." + forwardMAC(token, target, action, body, ts)
}

func forwardMAC(token, target, action string, body []byte, ts string) string {
	digest := sha256.Sum256(body)
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("stegocluster admin forward\x00" + target + "\x00" + action + "\x00" + ts + "\x00"))
	m.Write(digest[:])
	return hex.EncodeToString(m.Sum(nil))
}

// validForwardCredential reports whether auth is a credential for
// action on node self with this body, made within forwardValidity of now.
func validForwardCredential(token, self, action string, body []byte, auth string, now time.Time) bool {
	cred, ok := strings.CutPrefix(auth, forwardAuthScheme)
	if !ok {
		return false
	}
	ts, mac, ok := strings.Cut(cred, ".")
	if !ok {
		return false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > forwardValidity || d < -forwardValidity {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(forwardMAC(token, self, action, body, ts)))
}

// errNotMember: a node of the published state that admin calls must not
// be forwarded to.
var errNotMember = errors.New("not an etcd member of this cluster at its advertised address")

// checkMemberAddress accepts target only if it is an etcd member of this
// cluster and the address it advertises is its member's (the host of one
// of its peer URLs, directly or as that name resolves). The registry
// entry that supplies the address is written through etcd's client port;
// etcd's member list is raft's own, so a forged entry cannot pass.
func checkMemberAddress(ctx context.Context, target *wire.NodeStatus) error {
	if target.EtcdMemberID == "" || len(target.PeerURLs) == 0 {
		return fmt.Errorf("node %s: %w", target.ID, errNotMember)
	}
	for _, raw := range target.PeerURLs {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		host := u.Hostname()
		if host == target.IP {
			return nil
		}
		addrs, err := net.DefaultResolver.LookupHost(ctx, host)
		if err == nil && slices.Contains(addrs, target.IP) {
			return nil
		}
	}
	return fmt.Errorf("node %s advertises %s, not its member's address: %w", target.ID, target.IP, errNotMember)
}

// checkWorker accepts a worker as the target of a forwarded admin call
// only while the registry it is known from is trusted: a worker has no
// etcd member whose address could vouch for its entry.
func (s *Server) checkWorker(target *wire.NodeStatus) error {
	if !s.cfg.RegistryTrusted {
		return fmt.Errorf("node %s is a worker, and without etcd's mutual TLS its registry entry could be forged (call the worker itself): %w", target.ID, errNotMember)
	}
	return nil
}
