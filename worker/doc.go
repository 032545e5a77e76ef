// Package worker runs a node's stego jobs with bounded parallelism and a
// bounded queue: when both are full a job is refused at once with
// ErrBusy (the API answers 503 with Retry-After, and nginx tries another
// node) instead of piling up.
package worker
