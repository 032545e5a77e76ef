package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodToken = "0123456789abcdef-test"

// adminToken with ADMIN_TOKEN set, or a token file in place: what it
// returns, what it refuses, and that the token never reaches the log.
func TestAdminTokenResolution(t *testing.T) {
	cases := []struct {
		name      string
		env       string      // ADMIN_TOKEN
		file      string      // content of an existing admin-token file; "" none
		fileMode  os.FileMode // its mode
		want      string      // the token, unless wantErr
		wantErr   string      // a part of the error
		wantLog   string      // a part of the log
		wantNoDir bool        // DATA_DIR must stay untouched
	}{
		{name: "ADMIN_TOKEN set", env: goodToken, want: goodToken, wantNoDir: true},
		{name: "ADMIN_TOKEN short", env: "change-me", wantErr: "at least 16", wantNoDir: true},
		{name: "ADMIN_TOKEN wins over the file", env: goodToken, file: "f123456789abcdef\n", fileMode: 0o600, want: goodToken},
		{name: "file reused", file: "f123456789abcdef\n", fileMode: 0o600, want: "f123456789abcdef", wantLog: "using the admin token"},
		{name: "file others may read", file: "f123456789abcdef\n", fileMode: 0o644, wantErr: "others may read"},
		{name: "file too short", file: "admin\n", fileMode: 0o600, wantErr: "at least 16"},
		{name: "file empty", file: "\n", fileMode: 0o600, wantErr: "at least 16"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			if tc.file != "" {
				path := filepath.Join(dir, adminTokenFile)
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tc.file), tc.fileMode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.fileMode); err != nil { // past the umask
					t.Fatal(err)
				}
			}
			s := defaultSettings()
			s.DataDir, s.AdminToken = dir, tc.env
			var logs bytes.Buffer
			got, err := s.adminToken(slog.New(slog.NewTextHandler(&logs, nil)))
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
			case tc.wantErr == "" && err != nil:
				t.Fatal(err)
			case tc.wantErr == "" && got != tc.want:
				t.Fatalf("token %q, want %q", got, tc.want)
			}
			if err != nil && tc.env != "" && strings.Contains(err.Error(), tc.env) {
				t.Errorf("the error quotes the token: %v", err)
			}
			if tc.wantErr == "" && strings.Contains(logs.String(), got) {
				t.Errorf("the token is in the log: %s", logs.String())
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log lacks %q: %s", tc.wantLog, logs.String())
			}
			if _, err := os.Stat(dir); tc.wantNoDir && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("DATA_DIR was created or touched: %v", err)
			}
		})
	}
}

// With no ADMIN_TOKEN the first start generates a token into a file
// only the owner can read, logs the file's path but not the token, and
// later starts reuse it.
func TestAdminTokenGeneratedOnceAndReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "node1") // not there yet
	s := defaultSettings()
	s.DataDir, s.AdminToken = dir, ""
	path := filepath.Join(dir, adminTokenFile)

	var logs bytes.Buffer
	first, err := s.adminToken(slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if len(first) < minAdminTokenLen {
		t.Fatalf("generated a %d-character token", len(first))
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", path, perm)
	}
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != first {
		t.Errorf("the file holds %q, the node uses %q", b, first)
	}
	if strings.Contains(logs.String(), first) {
		t.Errorf("the token is in the log: %s", logs.String())
	}
	if !strings.Contains(logs.String(), path) {
		t.Errorf("the log does not say where the token is: %s", logs.String())
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".admin-token-*")); len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	logs.Reset()
	again, err := s.adminToken(slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatal("a restart generated a new token instead of reusing the file's")
	}
	if strings.Contains(logs.String(), first) {
		t.Errorf("the token is in the log on restart: %s", logs.String())
	}
}

// A short ADMIN_TOKEN stops stegod at start with exit status 2 and a
// message that names the setting, not the token.
func TestShortAdminTokenExitsWith2(t *testing.T) {
	if os.Getenv("STEGOD_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	const short = "change-me"
	// Bounded: were the token accepted, the child would start a node.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestShortAdminTokenExitsWith2$")
	cmd.Env = append(os.Environ(), "STEGOD_TEST_RUN_MAIN=1", "ADMIN_TOKEN="+short, "DATA_DIR="+t.TempDir(), "HTTP_ADDR=127.0.0.1:0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit %v, want status 2; stderr: %s", err, stderr.String())
	}
	if msg := stderr.String(); !strings.Contains(msg, "ADMIN_TOKEN") || strings.Contains(msg, short) {
		t.Fatalf("stderr should name ADMIN_TOKEN without quoting it: %s", msg)
	}
}
