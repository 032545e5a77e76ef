// Package adaptivetune lets the steganalysis training command measure
// variants of the adaptive mode (for instance without its colour
// synchronisation) through a context value, without a public option and
// without global state. Nothing else should use it.
package adaptivetune

import "context"

type syncKey struct{}

// WithSyncFactor returns a context under which stego's adaptive mode
// divides a flip's cost by f (instead of its default) where the flip can
// follow the direction already taken at the pixel's other channels and
// neighbours; f = 1 turns the synchronisation of directions off as well.
func WithSyncFactor(ctx context.Context, f float32) context.Context {
	return context.WithValue(ctx, syncKey{}, f)
}

// SyncFactor returns the factor set by WithSyncFactor, or def.
func SyncFactor(ctx context.Context, def float32) float32 {
	if f, ok := ctx.Value(syncKey{}).(float32); ok && f >= 1 {
		return f
	}
	return def
}
