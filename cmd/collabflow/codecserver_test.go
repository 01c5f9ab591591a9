package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

const (
	// testCodecKeys is one key of 32 bytes 0x01.
	testCodecKeys = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
	testAPIKeys   = "alice:ops:ops-secret-0123456789,bob:auditor:auditor-secret-0123,carol:finance:finance-secret-0123"
)

func TestCodecServerRefusesToStartWithoutKeys(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no codec keys", map[string]string{"COLLABFLOW_API_KEYS": testAPIKeys}, "COLLABFLOW_CODEC_KEYS is required"},
		{"no API keys", map[string]string{"COLLABFLOW_CODEC_KEYS": testCodecKeys}, "COLLABFLOW_API_KEYS is required"},
		{"bad origin", map[string]string{"COLLABFLOW_CODEC_KEYS": testCodecKeys, "COLLABFLOW_API_KEYS": testAPIKeys,
			"COLLABFLOW_CODEC_CORS_ORIGINS": "https://ui.example.com/"}, "COLLABFLOW_CODEC_CORS_ORIGINS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), []string{"codec-server"}, func(k string) string { return tt.env[k] }, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// TestCodecServerDecodes starts the subcommand on a free port, decodes a payload the
// workers encrypted with an auditor's key through the SDK's client, checks the roles a
// finance key lacks, and stops it as Ctrl-C would.
func TestCodecServerDecodes(t *testing.T) {
	env := map[string]string{
		"COLLABFLOW_CODEC_KEYS": testCodecKeys, "COLLABFLOW_API_KEYS": testAPIKeys,
		"COLLABFLOW_CODEC_ADDR": "127.0.0.1:0", "TEMPORAL_NAMESPACE": "collabflow", "COLLABFLOW_LOG_LEVEL": "error",
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- runCodecServer(ctx, cfg, func(addr string) { ready <- addr }) }()
	var base string
	select {
	case addr := <-ready:
		base = "http://" + addr
	case err := <-done:
		t.Fatalf("codec server stopped before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("codec server not ready within 10 s")
	}

	encrypted, err := cfg.dataConverter().ToPayloads("Ada Lovelace")
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := sdkCodec(base, "auditor-secret-0123", "collabflow").Decode(encrypted.GetPayloads())
	if err != nil {
		t.Fatalf("auditor decode: %v", err)
	}
	var name string
	if err := converter.GetDefaultDataConverter().FromPayloads(&commonpb.Payloads{Payloads: decoded}, &name); err != nil || name != "Ada Lovelace" {
		t.Fatalf("decoded %q, %v", name, err)
	}
	if _, err := sdkCodec(base, "finance-secret-0123", "collabflow").Decode(encrypted.GetPayloads()); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("finance decode: %v, want Forbidden", err)
	}
	if _, err := sdkCodec(base, "auditor-secret-0123", "collabflow").Encode(decoded); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Fatalf("auditor encode: %v, want Forbidden", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("codec server did not stop cleanly: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("codec server did not stop within 15 s")
	}
}

// sdkCodec is the SDK's client side of the codec protocol, as the temporal CLI uses it.
func sdkCodec(endpoint, secret, namespace string) converter.PayloadCodec {
	return converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
		Endpoint: endpoint,
		ModifyRequest: func(r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+secret)
			r.Header.Set("X-Namespace", namespace)
			return nil
		},
	})
}

// TestWithCodec: in dev the codec endpoint lives under /codec and every other path,
// /codecs included, still reaches the API.
func TestWithCodec(t *testing.T) {
	apiH := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api "+r.URL.Path) })
	codecH := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "codec "+r.URL.Path) })
	h := withCodec(apiH, codecH)
	for path, want := range map[string]string{
		"/codec/decode":   "codec /decode",
		"/codec/encode":   "codec /encode",
		"/codecs":         "api /codecs",
		"/v1/creators":    "api /v1/creators",
		"/healthz":        "api /healthz",
		"/codec":          "api /codec",
		"/codec-x/decode": "api /codec-x/decode",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", path, bytes.NewReader(nil)))
		if got := rec.Body.String(); got != want {
			t.Errorf("%s reached %q, want %q", path, got, want)
		}
	}
}

// TestCodecBruteForceIsRateLimited (L-N1): the codec endpoint sits behind the API's
// limits, so a burst of wrong keys from one address meets 429s (with Retry-After) as
// /v1 does, and the refusals are logged at a bounded rate, not once each.
func TestCodecBruteForceIsRateLimited(t *testing.T) {
	env := map[string]string{
		"COLLABFLOW_CODEC_KEYS": testCodecKeys, "COLLABFLOW_API_KEYS": testAPIKeys,
		"TEMPORAL_NAMESPACE": "collabflow", "COLLABFLOW_RATE_LIMIT": "5",
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	srv := httptest.NewServer(codecHandler(cfg, slog.New(slog.NewTextHandler(&logs, nil))))
	t.Cleanup(srv.Close)
	statuses := map[int]int{}
	for i := range 300 {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/decode", strings.NewReader(`{"payloads":[]}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", fmt.Sprintf("Bearer guess-%016d", i))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	// 50 a second per IP with a burst of 100: far fewer than 300 get through a quick burst.
	if statuses[http.StatusTooManyRequests] == 0 || statuses[http.StatusUnauthorized] > 200 {
		t.Fatalf("300 wrong keys: %v, want most refused with 429", statuses)
	}
	if n := strings.Count(logs.String(), "codec request refused"); n > 3 {
		t.Fatalf("%d refusal log lines for %d refusals: the log must be sampled", n, statuses[http.StatusUnauthorized])
	}
}

// syncBuffer is a bytes.Buffer that goroutines write (a handler's log, a process's output
// copier) while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
