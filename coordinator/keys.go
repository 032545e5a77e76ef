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

// ValidNodeID reports whether id can name a node: 1–253 letters, digits,
// dots, hyphens and underscores, and not "." or "..". A node's ID ends up
// in keys, in URL paths (/admin/nodes/<id>/fail) and on screen, and
// registry entries are written by whoever holds the cluster's etcd
// certificates: an entry named ".." made the web app's Crash button send
// /admin/nodes/../fail, which a browser turns into /admin/fail on
// whichever node answers. Entries with any other ID are skipped, and a
// node refuses to start with one.
func ValidNodeID(id string) bool {
	if id == "" || id == "." || id == ".." || len(id) > 253 {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}
