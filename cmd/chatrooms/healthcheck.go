package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// defaultHealthURL is what `chatrooms healthcheck` asks when given no
// --url: the readiness probe of a node listening on :8080, as the
// container image starts it.
const defaultHealthURL = "http://127.0.0.1:8080/readyz"

// healthcheck runs `chatrooms healthcheck [--url URL] [--timeout D]`: one
// GET of URL, nil when it answers 200, otherwise an error of one line
// that says why (main prints it and exits 1). It exists for container
// health checks: the distroless image has no shell, curl or wget.
func healthcheck(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("chatrooms healthcheck", flag.ContinueOnError)
	fs.SetOutput(stdout)
	target := fs.String("url", defaultHealthURL, "URL to GET; ready when it answers 200")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("healthcheck: unexpected argument %q", fs.Arg(0))
	}
	u, err := url.Parse(*target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("healthcheck: --url %q is not an http(s) URL", *target)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("healthcheck: %s: no answer within %s", u, *timeout)
		}
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	// The probes answer one line of text ("not ready: NATS unavailable").
	line, _ := bufio.NewReader(io.LimitReader(resp.Body, 200)).ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "" {
		return fmt.Errorf("healthcheck: %s: %s", u, resp.Status)
	}
	return fmt.Errorf("healthcheck: %s: %s: %s", u, resp.Status, line)
}
