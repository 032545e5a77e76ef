// Package worker bounds what a node's stego requests may use at once:
// Pool runs jobs with bounded parallelism and a bounded queue (when both
// are full a job is refused at once with ErrBusy: the API answers 503
// with Retry-After, and nginx tries another node) instead of piling up,
// with one express slot that only small jobs may take, so that they never
// wait behind big ones; and Budget bounds the bytes the requests hold,
// reserved before they are allocated.
package worker
