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

	"github.com/collabflow/collabflow/devenv/pgserver"
	"github.com/collabflow/collabflow/store"
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

// startProcess runs a production subcommand with env until the test ends, when it must
// stop cleanly (even while still connecting), and returns a channel that reports its exit.
func startProcess(t *testing.T, cmd string, env map[string]string) <-chan error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{cmd}, func(k string) string { return env[k] }, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s stopped with %v, want a clean stop", cmd, err)
			}
		case <-time.After(time.Minute):
			t.Errorf("%s did not stop when told", cmd)
		}
	})
	return done
}

// getBody is a GET's answer and body; a nil answer when nothing answered.
func getBody(url, key string) (*http.Response, string) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, ""
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// awaitAnswer polls url until it answers status with a body containing want, failing the
// test if the process exits first or a minute passes.
func awaitAnswer(t *testing.T, done <-chan error, cmd, url string, status int, want string) *http.Response {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		resp, body := getBody(url, "Zk3pQ8vLr2Nw7Xb5Tq9M")
		if resp != nil && resp.StatusCode == status && strings.Contains(body, want) {
			return resp
		}
		select {
		case err := <-done:
			t.Fatalf("%s exited: %v", cmd, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: %v %s, want %d with %s", cmd, url, resp, body, status, want)
		}
	}
}

// productionEnv is the settings of an api or worker process on loopback, with real-looking
// secrets; the test sets DATABASE_URL and TEMPORAL_ADDRESS.
func productionEnv(t *testing.T) map[string]string {
	return map[string]string{
		"COLLABFLOW_ADDR":           closedAddr(t),
		"COLLABFLOW_METRICS_ADDR":   closedAddr(t),
		"COLLABFLOW_API_KEYS":       "ops:ops:Zk3pQ8vLr2Nw7Xb5Tq9M",
		"COLLABFLOW_LINK_SECRET":    "b7Q2mX9pL4vR8nT1kW6zY3cF5hJ0dG2s",
		"INBOUND_REPLY_DOMAIN":      "reply.example.com",
		"SENDGRID_API_KEY":          "SG.test-key-for-the-retry-test",
		"COLLABFLOW_POSTAL_ADDRESS": "1 Main Street",
		"COLLABFLOW_LOG_LEVEL":      "error",
	}
}

// TestProductionWithoutTemporal (issue 18 item 12): with PostgreSQL up and Temporal
// unreachable at start, the API serves what needs only PostgreSQL and is ready with
// temporal degraded, while the worker keeps dialling, alive but not ready.
func TestProductionWithoutTemporal(t *testing.T) {
	pg, err := pgserver.Start(context.Background(), pgserver.Options{Dir: t.TempDir(), Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.Stop() })
	st, err := store.Open(context.Background(), pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	err = st.Migrate(context.Background(), slog.New(slog.DiscardHandler))
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cmd, port, path string
		status          int
		body            string
	}{
		{"api", "COLLABFLOW_ADDR", "/readyz", http.StatusOK, `"degraded":["temporal"]`},
		{"api", "COLLABFLOW_ADDR", "/v1/campaigns", http.StatusOK, `"items":[]`},
		{"worker", "COLLABFLOW_METRICS_ADDR", "/readyz", http.StatusServiceUnavailable, `"failed":["temporal"]`},
		{"worker", "COLLABFLOW_METRICS_ADDR", "/healthz", http.StatusOK, `"OK"`},
	} {
		t.Run(tc.cmd+tc.path, func(t *testing.T) {
			env := productionEnv(t)
			env["DATABASE_URL"], env["TEMPORAL_ADDRESS"] = pg.URL(), closedAddr(t)
			done := startProcess(t, tc.cmd, env)
			awaitAnswer(t, done, tc.cmd, "http://"+env[tc.port]+tc.path, tc.status, tc.body)
		})
	}
}

// TestProductionWaitsForDatabase (issue 18 item 12): an api or worker whose PostgreSQL
// does not answer at start keeps retrying instead of exiting (a crash loop under
// Kubernetes): its probes answer at once, /healthz 200 and /readyz 503 naming the
// database, and the API's other routes 503 with Retry-After.
func TestProductionWaitsForDatabase(t *testing.T) {
	for _, tc := range []struct {
		cmd, port, path string
		status          int
		body            string
	}{
		{"api", "COLLABFLOW_ADDR", "/healthz", http.StatusOK, `"OK"`},
		{"api", "COLLABFLOW_ADDR", "/readyz", http.StatusServiceUnavailable, `"database":"unavailable"`},
		{"api", "COLLABFLOW_ADDR", "/v1/campaigns", http.StatusServiceUnavailable, "retry shortly"},
		{"worker", "COLLABFLOW_METRICS_ADDR", "/healthz", http.StatusOK, `"OK"`},
		{"worker", "COLLABFLOW_METRICS_ADDR", "/readyz", http.StatusServiceUnavailable, `"database":"unavailable"`},
	} {
		t.Run(tc.cmd+tc.path, func(t *testing.T) {
			env := productionEnv(t)
			env["DATABASE_URL"] = "postgres://collabflow@" + closedAddr(t) + "/collabflow?sslmode=disable"
			env["TEMPORAL_ADDRESS"] = closedAddr(t)
			done := startProcess(t, tc.cmd, env)
			resp := awaitAnswer(t, done, tc.cmd, "http://"+env[tc.port]+tc.path, tc.status, tc.body)
			if tc.status == http.StatusServiceUnavailable && tc.path != "/readyz" && resp.Header.Get("Retry-After") == "" {
				t.Fatalf("%s: 503 without Retry-After", tc.path)
			}
			// Answering is not enough: it is still there, retrying.
			select {
			case err := <-done:
				t.Fatalf("%s exited while the database was unreachable: %v", tc.cmd, err)
			default:
			}
		})
	}
}
