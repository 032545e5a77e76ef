package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCertsCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string // lines of stdout, by prefix
	}{
		{"init", []string{"init", dir, "n1=10.0.0.1", "n2"}, exitOK,
			[]string{"created  " + dir + "/ca.crt", "created  " + dir + "/etcdctl/tls.crt", "created  " + dir + "/n1/tls.crt", "created  " + dir + "/n2/tls.crt"}},
		{"init again adds only what is new", []string{"init", dir, "n1", "n3"}, exitOK,
			[]string{"kept     " + dir + "/etcdctl/tls.crt", "kept     " + dir + "/n1/tls.crt", "created  " + dir + "/n3/tls.crt"}},
		{"renew", []string{"renew", dir, "n2"}, exitOK, []string{"renewed  " + dir + "/n2/tls.crt"}},
		{"renew an unknown node", []string{"renew", dir, "n9"}, exitFail, nil},
		{"a name that is a path", []string{"init", dir, "../n1"}, exitUsage, nil},
		{"the operators' name", []string{"init", dir, "etcdctl"}, exitUsage, nil},
		{"no names", []string{"init"}, exitUsage, nil},
		{"unknown verb", []string{"revoke", dir, "n1"}, exitUsage, nil},
	} {
		var out, errOut bytes.Buffer
		code := run(append([]string{"certs"}, tc.args...), nil, &out, &errOut)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d\n%s", tc.name, code, tc.code, errOut.String())
			continue
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if tc.want != nil && len(lines) != len(tc.want) {
			t.Errorf("%s: output\n%s\nwant %d lines", tc.name, out.String(), len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.HasPrefix(lines[i], w+" (expires ") {
				t.Errorf("%s: line %q, want %q (expires …)", tc.name, lines[i], w)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "n1")); err == nil {
		t.Error("a name with .. wrote outside DIR")
	}
}
