package webui

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// start runs a UI on a free loopback port against a frontend that need not exist: the
// pages and settings are served without asking Temporal.
func start(t *testing.T, ctx context.Context, codec http.Handler) *Server {
	t.Helper()
	s, err := Start(ctx, Options{Addr: "127.0.0.1:0", FrontendAddress: "127.0.0.1:7233", Namespace: "collabflow", Codec: codec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func fetch(t *testing.T, req *http.Request) (int, http.Header, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fetch(t, req)
}

// TestServesIndexAndSettings: the embedded UI's page, and settings that point its codec at
// CodecPath with the news feed off and the namespace given.
func TestServesIndexAndSettings(t *testing.T) {
	s := start(t, context.Background(), http.NotFoundHandler())
	status, h, body := get(t, s.URL()+"/")
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, "<html") {
		t.Fatalf("index: %d %s %.200s", status, h.Get("Content-Type"), body)
	}
	// A deep link is the same page; the UI routes it in the browser.
	if status, _, _ := get(t, WorkflowURL(s.URL(), "collabflow", "collab-1")); status != 200 {
		t.Fatalf("workflow page: %d", status)
	}
	status, _, body = get(t, s.URL()+"/api/v1/settings")
	var settings struct {
		DefaultNamespace string
		DisableNewsFetch bool
		Codec            struct{ Endpoint string }
	}
	if err := json.Unmarshal([]byte(body), &settings); err != nil || status != 200 {
		t.Fatalf("settings: %d %v %s", status, err, body)
	}
	if settings.DefaultNamespace != "collabflow" || !settings.DisableNewsFetch || settings.Codec.Endpoint != CodecPath {
		t.Fatalf("settings %+v", settings)
	}
}

// TestBusyPortIsAnError: a port already taken is an error from Start naming the address,
// and this process goes on (ui-server's own Start would have exited it).
func TestBusyPortIsAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Start(context.Background(), Options{Addr: ln.Addr().String(), FrontendAddress: "127.0.0.1:7233"})
	if err == nil || !strings.Contains(err.Error(), "Temporal Web UI on "+ln.Addr().String()) || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Start on a busy port: %v", err)
	}
}

// TestStopsOnCancel: ending the context closes the listener.
func TestStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := start(t, ctx, nil)
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		conn, err := net.Dial("tcp", s.Addr())
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("still listening five seconds after cancel")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCodecOnlyForOwnPages: the codec answers the UI's pages (same origin) and clients
// without a browser, but not a page elsewhere nor a DNS name that could be rebound.
func TestCodecOnlyForOwnPages(t *testing.T) {
	var gotOrigin []string
	codec := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotOrigin = append(gotOrigin, r.Header.Get("Origin"))
		if r.URL.Path != "/decode" {
			t.Errorf("codec got path %q", r.URL.Path)
		}
		_, _ = io.WriteString(w, `{"payloads":[]}`)
	})
	s := start(t, context.Background(), codec)
	_, port, _ := net.SplitHostPort(s.Addr())
	for _, tc := range []struct {
		name, host, origin string
		want               int
	}{
		{"own page", "", s.URL(), 200},
		{"own page by localhost", "localhost:" + port, "http://localhost:" + port, 200},
		{"no browser", "", "", 200},
		{"other site", "", "https://evil.example", 403},
		{"other port", "", "http://127.0.0.1:1", 403},
		{"rebound name", "evil.example:" + port, "http://evil.example:" + port, 403},
	} {
		req, err := http.NewRequest(http.MethodPost, s.URL()+CodecPath+"/decode?preserveStorageRefs=true", strings.NewReader(`{"payloads":[]}`))
		if err != nil {
			t.Fatal(err)
		}
		if tc.host != "" {
			req.Host = tc.host
		}
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		if status, _, body := fetch(t, req); status != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, status, body, tc.want)
		}
	}
	for _, o := range gotOrigin {
		if o != "" {
			t.Errorf("the codec saw Origin %q; same-origin requests reach it without one", o)
		}
	}
}

// TestWholeListenerRefusesForeignHost (M-N2): a DNS-rebinding page reaches the listener
// under its own name; every path, not only the codec, refuses that Host.
func TestWholeListenerRefusesForeignHost(t *testing.T) {
	s := start(t, context.Background(), http.NotFoundHandler())
	_, port, _ := net.SplitHostPort(s.Addr())
	for _, path := range []string{"/", "/api/v1/settings", "/api/v1/namespaces/default/workflows", CodecPath + "/decode"} {
		for _, tc := range []struct {
			host string
			want int
		}{
			{"rebind.evil.test:" + port, 403},
			{"127.0.0.1", 403},          // no port: not this listener's address
			{"127.0.0.1:1", 403},        // another port
			{"localhost:" + port, -403}, // anything but 403
			{"[::1]:" + port, -403},
		} {
			req, err := http.NewRequest(http.MethodGet, s.URL()+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tc.host
			status, _, body := fetch(t, req)
			if tc.want > 0 && status != tc.want || tc.want < 0 && status == -tc.want {
				t.Errorf("GET %s with Host %s: %d %.100s", path, tc.host, status, body)
			}
		}
	}
}

// TestWriteActionsOffByDefault (M-N2): the UI refuses a signal (with its CSRF token, as
// its own page would send it) unless WriteActions is on; a query is still answered.
func TestWriteActionsOffByDefault(t *testing.T) {
	for _, write := range []bool{false, true} {
		s, err := Start(context.Background(), Options{Addr: "127.0.0.1:0", FrontendAddress: "127.0.0.1:1", WriteActions: write})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Stop() })
		resp, err := http.Get(s.URL() + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var token string
		for _, c := range resp.Cookies() {
			if c.Name == "_csrf" {
				token = c.Value
			}
		}
		if token == "" {
			t.Fatal("no _csrf cookie")
		}
		post := func(path string) int {
			req, err := http.NewRequest(http.MethodPost, s.URL()+path, strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-CSRF-Token", token)
			req.AddCookie(&http.Cookie{Name: "_csrf", Value: token})
			status, _, _ := fetch(t, req)
			return status
		}
		signal := post("/api/v1/namespaces/default/workflows/collab-1/signal/outreach_event")
		if refused := signal == http.StatusMethodNotAllowed; refused == write {
			t.Errorf("write actions %v: a signal got %d", write, signal)
		}
		if query := post("/api/v1/namespaces/default/workflows/collab-1/query/state"); query == http.StatusMethodNotAllowed {
			t.Errorf("write actions %v: a query got %d", write, query)
		}
	}
}

func TestWorkflowURL(t *testing.T) {
	for _, tc := range []struct{ base, ns, id, want string }{
		{"http://127.0.0.1:8233", "default", "collab-0b7c", "http://127.0.0.1:8233/namespaces/default/workflows/collab-0b7c"},
		{"http://127.0.0.1:8233/", "default", "a/b c", "http://127.0.0.1:8233/namespaces/default/workflows/a%2Fb%20c"},
	} {
		if got := WorkflowURL(tc.base, tc.ns, tc.id); got != tc.want {
			t.Errorf("WorkflowURL(%q, %q, %q) = %q, want %q", tc.base, tc.ns, tc.id, got, tc.want)
		}
	}
}
