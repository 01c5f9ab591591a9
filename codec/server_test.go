package codec

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

const (
	opsSecret      = "ops-secret-0123456789"
	auditorSecret  = "auditor-secret-0123456789"
	reviewerSecret = "reviewer-secret-0123456789"
	webUI          = "http://127.0.0.1:8233"
)

// testServer runs Handler over real HTTP with an ops, an auditor and a reviewer key.
func testServer(t *testing.T, c *Codec, maxBody int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(Handler(c, HandlerOptions{
		Callers: []Caller{
			{Name: "ops", Secret: opsSecret, Decode: true, Encode: true},
			{Name: "audit", Secret: auditorSecret, Decode: true},
			{Name: "review", Secret: reviewerSecret},
		},
		Namespace:      "collabflow",
		AllowedOrigins: []string{webUI},
		MaxBody:        maxBody,
	}))
	t.Cleanup(srv.Close)
	return srv
}

// remote is the SDK's own client side of the protocol, as the CLI uses it.
func remote(endpoint, secret string) converter.PayloadCodec {
	return converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
		Endpoint: endpoint,
		ModifyRequest: func(r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+secret)
			r.Header.Set("X-Namespace", "collabflow")
			return nil
		},
	})
}

// TestHandlerRoundTrip: payloads the workers' codec encrypted decode to the original
// over HTTP, and payloads encoded over HTTP are ones the workers' codec reads.
func TestHandlerRoundTrip(t *testing.T) {
	c, err := Parse("k2:" + key(2) + ",k1:" + key(1))
	if err != nil {
		t.Fatal(err)
	}
	srv := testServer(t, c, 0)
	in := secret{Name: "Ada Lovelace", Email: "ada@example.com"}
	plain, err := converter.GetDefaultDataConverter().ToPayloads(in)
	if err != nil {
		t.Fatal(err)
	}

	// An older history, encrypted with the previous key, still decodes.
	old, _ := Parse("k1:" + key(1))
	encrypted, err := old.Encode(plain.GetPayloads())
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := remote(srv.URL, auditorSecret).Decode(encrypted)
	if err != nil {
		t.Fatalf("decode over HTTP: %v", err)
	}
	var out secret
	if err := converter.GetDefaultDataConverter().FromPayloads(&commonpb.Payloads{Payloads: decoded}, &out); err != nil || out != in {
		t.Fatalf("decoded %+v, %v; want %+v", out, err, in)
	}

	encoded, err := remote(srv.URL, opsSecret).Encode(plain.GetPayloads())
	if err != nil {
		t.Fatalf("encode over HTTP: %v", err)
	}
	p := encoded[0]
	if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding || string(p.GetMetadata()[KeyIDKey]) != "k2" || bytes.Contains(p.GetData(), []byte("Ada")) {
		t.Fatalf("encoded over HTTP is not encrypted with the current key: %v", p)
	}
	out = secret{}
	if err := c.DataConverter().FromPayloads(&commonpb.Payloads{Payloads: encoded}, &out); err != nil || out != in {
		t.Fatalf("workers' codec read %+v, %v; want %+v", out, err, in)
	}
}

func TestHandlerRefusals(t *testing.T) {
	c, _ := Parse("k1:" + key(1))
	srv := testServer(t, c, 1024)
	payloads, _ := c.Encode([]*commonpb.Payload{{Data: []byte(`"x"`)}})
	body, err := json.Marshal(&commonpb.Payloads{Payloads: payloads})
	if err != nil {
		t.Fatal(err)
	}
	big := `{"payloads":[{"data":"` + strings.Repeat("A", 2048) + `"}]}`

	tests := []struct {
		name, method, path, auth, namespace, origin, body string
		want                                              int
	}{
		{name: "no key", path: "/decode", want: 401},
		{name: "wrong key", path: "/decode", auth: "Bearer not-a-configured-key", want: 401},
		{name: "basic auth", path: "/decode", auth: "Basic " + opsSecret, want: 401},
		{name: "reviewer decode", path: "/decode", auth: "Bearer " + reviewerSecret, want: 403},
		{name: "auditor decode", path: "/decode", auth: "Bearer " + auditorSecret, want: 200},
		{name: "auditor encode", path: "/encode", auth: "Bearer " + auditorSecret, want: 403},
		{name: "ops decode", path: "/decode", auth: "Bearer " + opsSecret, want: 200},
		{name: "ops encode", path: "/encode", auth: "Bearer " + opsSecret, want: 200},
		{name: "namespace given", path: "/decode", auth: "Bearer " + opsSecret, namespace: "collabflow", want: 200},
		{name: "other namespace", path: "/decode", auth: "Bearer " + opsSecret, namespace: "payments", want: 403},
		{name: "oversized body", path: "/decode", auth: "Bearer " + opsSecret, body: big, want: 413},
		{name: "unknown path", path: "/admin", auth: "Bearer " + opsSecret, want: 404},
		{name: "GET", method: "GET", path: "/decode", auth: "Bearer " + opsSecret, want: 405},
		{name: "allowed origin", path: "/decode", auth: "Bearer " + opsSecret, origin: webUI, want: 200},
		{name: "other origin", path: "/decode", auth: "Bearer " + opsSecret, origin: "https://evil.example", want: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, reqBody := "POST", string(body)
			if tt.method != "" {
				method = tt.method
			}
			if tt.body != "" {
				reqBody = tt.body
			}
			req, err := http.NewRequest(method, srv.URL+tt.path, strings.NewReader(reqBody))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			for h, v := range map[string]string{"Authorization": tt.auth, "X-Namespace": tt.namespace, "Origin": tt.origin} {
				if v != "" {
					req.Header.Set(h, v)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, raw, tt.want)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", resp.Header.Get("Cache-Control"))
			}
			if tt.want == 200 {
				if bytes.Contains(raw, []byte("error")) {
					t.Errorf("success body %s", raw)
				}
			} else {
				var e struct{ Error string }
				if err := json.Unmarshal(raw, &e); err != nil || e.Error == "" {
					t.Errorf("error body %q is not {\"error\": ...}", raw)
				}
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); (tt.origin == webUI) != (got == webUI) || got != "" && got != webUI {
				t.Errorf("Access-Control-Allow-Origin %q for origin %q", got, tt.origin)
			}
		})
	}
}

func TestHandlerPreflight(t *testing.T) {
	c, _ := Parse("k1:" + key(1))
	srv := testServer(t, c, 0)
	tests := []struct {
		origin string
		want   int
	}{
		{webUI, 204},
		{"http://localhost:8233", 403}, // not in this server's list
		{"https://evil.example", 403},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			req, _ := http.NewRequest("OPTIONS", srv.URL+"/decode", nil)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "content-type,authorization,x-namespace")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.want)
			}
			h := resp.Header
			if tt.want != 204 {
				for _, name := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers"} {
					if v := h.Get(name); v != "" {
						t.Errorf("refused origin got %s: %s", name, v)
					}
				}
				return
			}
			if h.Get("Access-Control-Allow-Origin") != tt.origin || h.Get("Access-Control-Allow-Credentials") != "true" ||
				h.Get("Access-Control-Allow-Methods") != "POST" || h.Get("Access-Control-Allow-Headers") != "Content-Type, Authorization, X-Namespace" {
				t.Fatalf("preflight headers %v", h)
			}
		})
	}
}
