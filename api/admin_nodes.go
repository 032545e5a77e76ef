package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/stegocluster/stegocluster/wire"
)

// forwardedByHeader marks an admin request one node forwarded to
// another; a node that gets one for some other node refuses it instead of
// forwarding again, so a stale address can never make a loop.
const forwardedByHeader = "X-Stego-Forwarded-By"

// adminForwardTimeout bounds a forwarded admin call, connection included.
const adminForwardTimeout = 3 * time.Second

// adminNode handles POST /admin/nodes/:id/fail and /admin/nodes/:id/restore
// (action "fail" or "restore"): any node accepts them (behind nginx the
// caller cannot choose the node), acts itself when :id is its own id, and
// otherwise forwards the request body to the address that node
// advertises in the cluster status — only if that node is an etcd member
// of this cluster at that address, or a worker while the registry is
// trusted (Config.RegistryTrusted; 403 not_member otherwise), and with a
// node-to-node credential instead of the caller's token
// (forward_auth.go). The target's answer is relayed as it is. Errors: 404
// unknown node id; 502 node_unreachable
// when the node has no registered address (it is down) or does not answer
// within adminForwardTimeout; 503 no_state before any cluster state;
// 421 misdirected for a forwarded request that reached the wrong node.
func (s *Server) adminNode(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.Param("id")
		if id == s.cfg.NodeID {
			if action == "fail" {
				s.adminFail(c)
			} else {
				s.adminRestore(c)
			}
			return
		}
		if by := c.GetHeader(forwardedByHeader); by != "" {
			fail(c, &apiError{http.StatusMisdirectedRequest, codeMisdirected,
				fmt.Sprintf("%s forwarded a request for node %s to %s (stale address?)", by, id, s.cfg.NodeID), nil})
			return
		}
		st := s.cfg.Cluster.State()
		if st == nil {
			fail(c, errNoState)
			return
		}
		target := st.Node(id)
		if target == nil {
			fail(c, &apiError{http.StatusNotFound, codeNotFound, fmt.Sprintf("no node %q in the cluster", id), nil})
			return
		}
		if target.IP == "" || target.HTTPPort == 0 {
			fail(c, &apiError{http.StatusBadGateway, codeNodeUnreachable,
				fmt.Sprintf("node %s has no registered address: it is down", id), gin.H{"node_id": id}})
			return
		}
		var err error
		if target.Worker {
			err = s.checkWorker(target)
		} else {
			lctx, cancel := context.WithTimeout(c.Request.Context(), time.Second)
			err = checkMemberAddress(lctx, target)
			cancel()
		}
		if err != nil {
			fail(c, &apiError{http.StatusForbidden, codeNotMember, err.Error(), gin.H{"node_id": id}})
			return
		}
		status, header, body, err := s.forwardAdmin(c, target.NodeInfo, action)
		if err != nil {
			fail(c, &apiError{http.StatusBadGateway, codeNodeUnreachable,
				fmt.Sprintf("node %s did not answer: %v", id, err), gin.H{"node_id": id}})
			return
		}
		c.Header("X-Forwarded-To", id)
		c.Data(status, header.Get("Content-Type"), body)
	}
}

// forwardAdmin sends the request on to target and returns its answer.
// It gives up after adminForwardTimeout or when the caller leaves.
func (s *Server) forwardAdmin(c *gin.Context, target wire.NodeInfo, action string) (int, http.Header, []byte, error) {
	reqBody, err := io.ReadAll(io.LimitReader(c.Request.Body, maxFieldBytes))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("reading the request: %w", err)
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), adminForwardTimeout)
	defer cancel()
	u := url.URL{Scheme: "http", Host: net.JoinHostPort(target.IP, strconv.Itoa(target.HTTPPort)),
		Path: "/admin/nodes/" + target.ID + "/" + action}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(reqBody))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Authorization", forwardCredential(s.cfg.AdminToken, target.ID, action, reqBody, time.Now()))
	if ct := c.GetHeader("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set(forwardedByHeader, s.cfg.NodeID)
	transport := &http.Transport{DisableKeepAlives: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("forwarding to %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("reading the answer from %s: %w", u.Host, err)
	}
	return resp.StatusCode, resp.Header, body, nil
}
