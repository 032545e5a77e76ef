package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/stegocluster/stegocluster/stego"
	"github.com/stegocluster/stegocluster/worker"
)

// Error codes, the machine-readable half of every error response.
const (
	codeBadRequest   = "bad_request"
	codeUnauthorized = "unauthorized"
	codeTooLarge     = "too_large"
	codeUnsupported  = "unsupported_image"
	codeNoHiddenData = "no_hidden_data"
	codeCorrupt      = "corrupt_hidden_data"
	codeBusy         = "busy"
	codePaused       = "paused"
	codeDraining     = "draining"
	codeNotFound     = "not_found"
	codeInternal     = "internal"
	codeTimeout      = "timeout"

	codeMethodNotAllowed = "method_not_allowed"
	codeClientClosed     = "client_closed"
	codeNoState          = "no_state"
	codeNotReady         = "not_ready"
	codeNodeUnreachable  = "node_unreachable"
	codeMisdirected      = "misdirected"
	codeNotMember        = "not_member"
	codeTooManyRequests  = "too_many_requests"
	codeTooManyStreams   = "too_many_streams"
)

// Errors of the node's own state, answered with 503 and Retry-After.
var (
	errDraining = &apiError{http.StatusServiceUnavailable, codeDraining, "node shutting down", nil}
	errPaused   = &apiError{http.StatusServiceUnavailable, codePaused, "node paused by fault injection", nil}
	errNoState  = &apiError{http.StatusServiceUnavailable, codeNoState, "no cluster state published yet (electing a leader?)", nil}
	// errTooManyStreams: MaxEventStreams are open; behind nginx the
	// client is sent to another node.
	errTooManyStreams = &apiError{http.StatusServiceUnavailable, codeTooManyStreams, "too many event streams open on this node", nil}
)

// apiError is an error with its HTTP status and code.
type apiError struct {
	status int
	code   string
	msg    string
	extra  gin.H
}

func (e *apiError) Error() string { return e.msg }

func badRequest(msg string) *apiError {
	return &apiError{http.StatusBadRequest, codeBadRequest, msg, nil}
}

// classify maps any error to its response.
func classify(err error) *apiError {
	var ae *apiError
	var ce *stego.CapacityError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &ce):
		return &apiError{http.StatusRequestEntityTooLarge, codeTooLarge, ce.Error(), gin.H{"needed_bytes": ce.Needed, "available_bytes": ce.Available}}
	case errors.As(err, &mbe):
		return &apiError{http.StatusRequestEntityTooLarge, codeTooLarge, "upload larger than the limit", gin.H{"limit_bytes": mbe.Limit}}
	case errors.Is(err, stego.ErrCoverTooLarge):
		return &apiError{http.StatusRequestEntityTooLarge, codeTooLarge, err.Error(), nil}
	case errors.Is(err, stego.ErrUnsupportedFormat):
		return &apiError{http.StatusUnsupportedMediaType, codeUnsupported, err.Error(), nil}
	case errors.Is(err, stego.ErrNoHiddenData):
		return &apiError{http.StatusUnprocessableEntity, codeNoHiddenData, "no hidden data found, or wrong password", nil}
	case errors.Is(err, stego.ErrCorrupt):
		return &apiError{http.StatusUnprocessableEntity, codeCorrupt, err.Error(), nil}
	case errors.Is(err, stego.ErrInvalidOptions):
		return badRequest(err.Error())
	case errors.Is(err, stego.ErrSecretTooLarge):
		return &apiError{http.StatusRequestEntityTooLarge, codeTooLarge, "the hidden secret is larger than this node accepts", nil}
	case errors.Is(err, worker.ErrExceedsBudget):
		return &apiError{http.StatusRequestEntityTooLarge, codeTooLarge, "the request needs more memory than this node's whole budget (MEMORY_BUDGET_MB)", nil}
	case errors.Is(err, worker.ErrOverBudget):
		return &apiError{http.StatusServiceUnavailable, codeBusy, "node memory budget in use, retry", nil}
	case errors.Is(err, worker.ErrBusy):
		return &apiError{http.StatusServiceUnavailable, codeBusy, "node busy, retry", nil}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{http.StatusServiceUnavailable, codeTimeout, "request took too long", nil}
	case errors.Is(err, context.Canceled):
		return &apiError{499, codeClientClosed, "client went away", nil}
	}
	return &apiError{http.StatusInternalServerError, codeInternal, "internal error", nil}
}

// fail writes err as a JSON error response and stops the handler chain.
func fail(c *gin.Context, err error) {
	e := classify(err)
	body := gin.H{"error": e.msg, "code": e.code}
	for k, v := range e.extra {
		body[k] = v
	}
	// A 503 says when to retry; a handler may have said it already.
	if e.status == http.StatusServiceUnavailable && c.Writer.Header().Get("Retry-After") == "" {
		c.Header("Retry-After", "1")
	}
	if id, ok := c.Get(requestIDKey); ok {
		body["request_id"] = id
	}
	c.AbortWithStatusJSON(e.status, body)
}
