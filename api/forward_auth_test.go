package api

import (
	"testing"
	"time"
)

func TestForwardCredential(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	good := forwardCredential(testToken, "n2", "fail", now)
	tests := []struct {
		name   string
		token  string
		self   string
		action string
		auth   string
		at     time.Time
		want   bool
	}{
		{"valid", testToken, "n2", "fail", good, now, true},
		{"valid a little later", testToken, "n2", "fail", good, now.Add(20 * time.Second), true},
		{"too old: replay window over", testToken, "n2", "fail", good, now.Add(31 * time.Second), false},
		{"from the future", testToken, "n2", "fail", good, now.Add(-31 * time.Second), false},
		{"for another node", testToken, "n3", "fail", good, now, false},
		{"for another action", testToken, "n2", "restore", good, now, false},
		{"another cluster's token", "another-cluster-token", "n2", "fail", good, now, false},
		{"the bearer token itself", testToken, "n2", "fail", "Bearer " + testToken, now, false},
		{"garbage", testToken, "n2", "fail", forwardAuthScheme + "x.y", now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validForwardCredential(tt.token, tt.self, tt.action, tt.auth, tt.at); got != tt.want {
				t.Fatalf("valid = %v, want %v", got, tt.want)
			}
		})
	}
}
