package main

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
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
