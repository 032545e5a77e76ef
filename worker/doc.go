// Package worker bounds what a node's stego requests may use at once:
// Pool runs jobs with bounded parallelism and a bounded queue (when both
// are full a job is refused at once with ErrBusy: the API answers 503
// with Retry-After, and nginx tries another node) instead of piling up,
// and Budget bounds the bytes they hold, reserved before they are
// allocated.
package worker
