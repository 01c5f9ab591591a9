package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestAPIServerTimeouts (L7): the API server bounds reading the headers, the whole body,
// the answer and idle connections, and the write timeout leaves room for a body read in
// full and the API's 30-second request timeout.
func TestAPIServerTimeouts(t *testing.T) {
	srv := newAPIServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler), defaultAPITimeouts)
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("timeouts not all set: header %v read %v write %v idle %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	if srv.ReadHeaderTimeout > srv.ReadTimeout || srv.ReadTimeout > 2*time.Minute {
		t.Errorf("read header %v, read %v: want header ≤ read ≤ 2m", srv.ReadHeaderTimeout, srv.ReadTimeout)
	}
	if srv.WriteTimeout < srv.ReadTimeout+30*time.Second {
		t.Errorf("write %v < read %v + the 30 s request timeout", srv.WriteTimeout, srv.ReadTimeout)
	}
}

// TestAPIServerDropsSlowBody (L7, review B10): a client that sends its headers and then
// trickles its body is disconnected when the read timeout runs out, here shortened.
func TestAPIServerDropsSlowBody(t *testing.T) {
	read := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		read <- err
	})
	timeouts := defaultAPITimeouts
	timeouts.Read = 300 * time.Millisecond
	srv := newAPIServer(h, slog.New(slog.DiscardHandler), timeouts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /webhooks/sendgrid/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\nabcdef"); err != nil {
		t.Fatal(err)
	}
	// Trickle a byte every 100 ms, as the review's slow client did every 5 s.
	stop := time.After(5 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-read:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("body read ended with %v, want a timeout", err)
				}
			}
			return
		case <-tick.C:
			_, _ = conn.Write([]byte("a"))
		case <-stop:
			_ = conn.SetReadDeadline(time.Now().Add(time.Second))
			line, _ := bufio.NewReader(conn).ReadString('\n')
			t.Fatalf("slow body still being read after 5 s (read timeout 300 ms); server said %q", line)
		}
	}
}

// closedAddr is a loopback address nothing listens on: a port the kernel handed out and
// took back.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestProductionWaitsForDatabase (issue 18 item 12): an api or worker whose PostgreSQL
// does not answer at start keeps retrying instead of exiting (a crash loop under
// Kubernetes): its probes answer at once, /healthz 200 and /readyz 503 naming the
// database, the API's other routes 503 with Retry-After, and it stops cleanly when told.
func TestProductionWaitsForDatabase(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		port string // the listener whose probes are checked
	}{
		{"api", "COLLABFLOW_ADDR"},
		{"worker", "COLLABFLOW_METRICS_ADDR"},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			env := map[string]string{
				"DATABASE_URL":              "postgres://collabflow@" + closedAddr(t) + "/collabflow?sslmode=disable",
				"TEMPORAL_ADDRESS":          closedAddr(t),
				"COLLABFLOW_ADDR":           closedAddr(t),
				"COLLABFLOW_METRICS_ADDR":   closedAddr(t),
				"COLLABFLOW_API_KEYS":       "ops:ops:Zk3pQ8vLr2Nw7Xb5Tq9M",
				"COLLABFLOW_LINK_SECRET":    "b7Q2mX9pL4vR8nT1kW6zY3cF5hJ0dG2s",
				"INBOUND_REPLY_DOMAIN":      "reply.example.com",
				"SENDGRID_API_KEY":          "SG.test-key-for-the-retry-test",
				"COLLABFLOW_POSTAL_ADDRESS": "1 Main Street",
				"COLLABFLOW_LOG_LEVEL":      "error",
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- run(ctx, []string{tc.cmd}, func(k string) string { return env[k] }, io.Discard) }()
			base := "http://" + env[tc.port]
			get := func(path string) (*http.Response, string) {
				resp, err := http.Get(base + path)
				if err != nil {
					return nil, ""
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp, string(b)
			}
			deadline := time.Now().Add(time.Minute)
			for {
				if resp, _ := get("/healthz"); resp != nil && resp.StatusCode == http.StatusOK {
					break
				}
				select {
				case err := <-done:
					t.Fatalf("%s exited while the database was unreachable: %v", tc.cmd, err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatal("/healthz never answered")
				}
				time.Sleep(50 * time.Millisecond)
			}
			if resp, body := get("/readyz"); resp == nil || resp.StatusCode != http.StatusServiceUnavailable ||
				!strings.Contains(body, `"database":"unavailable"`) {
				t.Fatalf("readyz while the database is unreachable: %v %s", resp, body)
			}
			if tc.cmd == "api" {
				if resp, body := get("/v1/campaigns"); resp == nil || resp.StatusCode != http.StatusServiceUnavailable ||
					resp.Header.Get("Retry-After") == "" {
					t.Fatalf("a route while starting: %v %s", resp, body)
				}
			}
			select {
			case err := <-done:
				t.Fatalf("%s exited while the database was unreachable: %v", tc.cmd, err)
			default:
			}
			cancel()
			select {
			case <-done:
			case <-time.After(time.Minute):
				t.Fatalf("%s did not stop when told", tc.cmd)
			}
		})
	}
}
