package coordinator

// Key layout. The prefixes end in "/" so that a prefix read of one never
// matches another.
const (
	KeyPrefix      = "/stegocluster/"
	ElectionPrefix = KeyPrefix + "election/"
	NodesPrefix    = KeyPrefix + "nodes/"
	StateKey       = KeyPrefix + "state"
)

// NodeKey is the registry key of a node.
func NodeKey(id string) string { return NodesPrefix + id }
