package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// runHealth is the container health check: scratch images have no curl.
func runHealth(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("health", "[--url URL]", `  stegoctl health                                  # the local node's /readyz
  stegoctl health --url http://stego-node2:8080/healthz
`, stderr)
	url := fs.String("url", "http://127.0.0.1:8080/readyz", "URL that must answer 200")
	timeout := fs.Duration("timeout", 2*time.Second, "give up after this long")
	if err := parseFlagsOnly(fs, args); err != nil {
		return err
	}
	if *timeout <= 0 {
		return fmt.Errorf("%w: --timeout must be positive", errUsage)
	}
	if _, err := getOK(*url, *timeout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: 200 OK\n", *url)
	return nil
}

// getOK GETs url and returns the body (at most 1 MiB) if the answer is
// 200, else an error carrying the status and body.
func getOK(url string, timeout time.Duration) ([]byte, error) {
	if !strings.Contains(url, "://") { // "127.0.0.1:8080/…", as one types it
		url = "http://" + url
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s %s", url, resp.Status, body)
	}
	return body, nil
}
