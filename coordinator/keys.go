package coordinator

// Key layout. The prefixes end in "/" so that a prefix read of one never
// matches another.
const (
	KeyPrefix      = "/stegocluster/"
	ElectionPrefix = KeyPrefix + "election/"
	NodesPrefix    = KeyPrefix + "nodes/"   // members' registry entries
	WorkersPrefix  = KeyPrefix + "workers/" // workers' registry entries
	StateKey       = KeyPrefix + "state"
)

// NodeKey is the registry key of a member.
func NodeKey(id string) string { return NodesPrefix + id }

// WorkerKey is the registry key of a worker.
func WorkerKey(id string) string { return WorkersPrefix + id }
