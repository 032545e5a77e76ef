package api

import (
	"testing"
	"time"
)

func TestForwardCredential(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	pause := []byte(`{"action":"pause"}`)
	good := forwardCredential(testToken, "n2", "fail", pause, now)
	tests := []struct {
		name   string
		token  string
		self   string
		action string
		body   string
		auth   string
		at     time.Time
		want   bool
	}{
		{"valid", testToken, "n2", "fail", string(pause), good, now, true},
		{"valid a little later", testToken, "n2", "fail", string(pause), good, now.Add(20 * time.Second), true},
		{"too old: replay window over", testToken, "n2", "fail", string(pause), good, now.Add(31 * time.Second), false},
		{"from the future", testToken, "n2", "fail", string(pause), good, now.Add(-31 * time.Second), false},
		{"for another node", testToken, "n3", "fail", string(pause), good, now, false},
		{"for another action", testToken, "n2", "restore", string(pause), good, now, false},
		{"a pause's credential on a crash", testToken, "n2", "fail", `{"action":"crash"}`, good, now, false},
		{"another cluster's token", "another-cluster-token", "n2", "fail", string(pause), good, now, false},
		{"the bearer token itself", testToken, "n2", "fail", string(pause), "Bearer " + testToken, now, false},
		{"garbage", testToken, "n2", "fail", string(pause), forwardAuthScheme + "x.y", now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validForwardCredential(tt.token, tt.self, tt.action, []byte(tt.body), tt.auth, tt.at); got != tt.want {
				t.Fatalf("valid = %v, want %v", got, tt.want)
			}
		})
	}
}
