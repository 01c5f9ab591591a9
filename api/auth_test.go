package api_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/collabflow/collabflow/api"
)

func TestParseKeys(t *testing.T) {
	tests := []struct {
		spec    string
		want    int
		wantErr string
	}{
		{"", 0, ""},
		{"a:ops:0123456789abcdef", 1, ""},
		{" a:ops:0123456789abcdef , b:auditor:fedcba9876543210:with:colons ", 2, ""},
		{"a:ops", 0, "name:role:secret"},
		{":ops:0123456789abcdef", 0, "empty name"},
		{"a:admin:0123456789abcdef", 0, "role"},
		{"a:ops:short", 0, "shorter"},
		{"a:ops:0123456789abcdef,a:finance:0123456789abcdeX", 0, "name used twice"},
		{"a:ops:0123456789abcdef,b:finance:0123456789abcdef", 0, "another key"},
	}
	for _, tt := range tests {
		keys, err := api.ParseKeys(tt.spec)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ParseKeys(%q) error %v, want %q", tt.spec, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || len(keys) != tt.want):
			t.Errorf("ParseKeys(%q) = %d keys, %v", tt.spec, len(keys), err)
		}
	}
}

func TestEveryV1CallNeedsAKeyAndTheRightRole(t *testing.T) {
	tests := []struct {
		name, method, path, key string
		status                  int
	}{
		{"no key", "GET", "/v1/creators", "", 401},
		{"unknown key", "GET", "/v1/creators", "not-a-key-at-all-000", 401},
		{"reviewer reads", "GET", "/v1/creators", reviewerKey, 200},
		{"auditor reads", "GET", "/v1/collaborations", auditorKey, 200},
		{"reviewer cannot add creators", "POST", "/v1/creators", reviewerKey, 403},
		{"auditor cannot add campaigns", "POST", "/v1/campaigns", auditorKey, 403},
		{"auditor cannot start collaborations", "POST", "/v1/collaborations", auditorKey, 403},
		{"health needs no key", "GET", "/healthz", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, tt.method, tt.path, tt.key, `{}`)
			if r.Status != tt.status {
				t.Fatalf("got %d %s, want %d", r.Status, r.Raw, tt.status)
			}
			if r.Status >= 400 && r.str("error") == "" {
				t.Fatalf("error without a JSON body: %s", r.Raw)
			}
		})
	}
	r := call(t, "GET", "/v1/creators", "", nil, "Authorization", "Basic b3BzOnNlY3JldA==")
	if r.Status != 401 || r.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("basic auth: %d %v", r.Status, r.Header)
	}
}

func TestMetricsCountRequestsByRoute(t *testing.T) {
	id := newCreator(t)
	must(t, 200, call(t, "GET", "/v1/creators/"+id, opsKey, nil))
	must(t, 404, call(t, "GET", "/v1/creators/01a21e0c-0000-7000-8000-000000000000", opsKey, nil))
	families, err := registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range families {
		if f.GetName() != "collabflow_http_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == "/v1/creators/:id" && m.GetCounter().GetValue() > 0 {
				seen[labels["status"]] = true
			}
		}
	}
	if !seen["200"] || !seen["404"] {
		t.Fatalf("route counters by status: %v", seen)
	}
}

// TestRateLimitAnswerSaysWhenToRetry: a 429 carries Retry-After, so clients back off by
// the server's word rather than guessing.
func TestRateLimitAnswerSaysWhenToRetry(t *testing.T) {
	slow := newAPI(t, func(cfg *api.Config) { cfg.RateLimit = 1 })
	for range 50 {
		r := callAt(t, slow, "GET", "/v1/campaigns", opsKey, nil)
		if r.Status != http.StatusTooManyRequests {
			continue
		}
		if r.Header.Get("Retry-After") != "1" || r.str("error") != "rate limit exceeded; retry shortly" {
			t.Fatalf("429 answer %s, Retry-After %q", r.Raw, r.Header.Get("Retry-After"))
		}
		return
	}
	t.Fatal("50 quick calls at a rate limit of 1 a second were never refused")
}

// TestMadeUpMethodsAddNoSeries (M-N1): a method outside the standard set is answered 501
// before the metrics and the request log, so made-up methods (up to a megabyte each) add
// no series; the method label only takes values from a fixed set.
func TestMadeUpMethodsAddNoSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	// Without the OpenAPI check: no documented operation has these methods.
	e, err := api.New(apiConfig(func(cfg *api.Config) { cfg.Metrics = reg }))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	base := srv.URL
	series := func() (n int, methods map[string]bool) {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		methods = map[string]bool{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				n++
				for _, l := range m.GetLabel() {
					if l.GetName() == "method" {
						methods[l.GetValue()] = true
					}
				}
			}
		}
		return n, methods
	}
	must(t, 401, callAt(t, base, "GET", "/v1/creators", "", nil))
	before, _ := series()
	for i, method := range []string{"ZQ1", "ZQ2", "PROPFIND", "get", strings.Repeat("Q", 60000)} {
		for _, path := range []string{"/x", "/v1/creators"} {
			req, err := http.NewRequest(method, base+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r := send(t, req); r.Status != http.StatusNotImplemented {
				t.Fatalf("method %d on %s: %d %s, want 501", i, path, r.Status, r.Raw)
			}
		}
	}
	after, methods := series()
	if after != before {
		t.Errorf("made-up methods changed the series from %d to %d", before, after)
	}
	for m := range methods {
		if !slices.Contains([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}, m) {
			t.Errorf("method label %.20q", m)
		}
	}
}
