package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/collabflow/collabflow/codec"
	"github.com/collabflow/collabflow/devenv/sendgridsink"
)

// stack is a `collabflow dev` process started for the run, with the outside world it
// talks to served from this process: the SendGrid sink and the creators' post host.
type stack struct {
	cmd      *exec.Cmd
	exited   chan error
	dir      string
	api      *apiClient
	temporal client.Client
	keys     keys
	sink     *sendgridsink.Sink
	posts    *postHost
	servers  []*http.Server
}

// keys are the API keys of the run, one per role.
type keys struct{ ops, reviewer, finance, auditor string }

// startStack starts `exe dev` with its state in dir and waits until its API answers.
// Its environment is built here, not inherited, so that a developer's COLLABFLOW_*
// settings cannot change what is measured.
func startStack(ctx context.Context, exe, dir string, emailRate float64, logw *os.File) (*stack, error) {
	s := &stack{dir: dir, sink: sendgridsink.New(), posts: newPostHost(), exited: make(chan error, 1)}
	sinkAddr, err := s.serve(s.sink)
	if err != nil {
		return nil, err
	}
	postAddr, err := s.serve(s.posts)
	if err != nil {
		return nil, s.stopServers(err)
	}
	s.posts.base = "http://" + postAddr
	apiAddr, err1 := freeAddr()
	temporalAddr, err2 := freeAddr()
	if err := errors.Join(err1, err2); err != nil {
		return nil, s.stopServers(err)
	}
	s.keys = keys{ops: secret("ops_"), reviewer: secret("rev_"), finance: secret("fin_"), auditor: secret("aud_")}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, s.stopServers(err)
	}
	codecKeys := "bench1:" + base64.StdEncoding.EncodeToString(raw)
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir(),
		"COLLABFLOW_DATA_DIR=" + dir,
		"COLLABFLOW_ADDR=" + apiAddr,
		"TEMPORAL_ADDRESS=" + temporalAddr,
		"COLLABFLOW_API_KEYS=ops:ops:" + s.keys.ops + ",rev:reviewer:" + s.keys.reviewer + ",fin:finance:" + s.keys.finance + ",aud:auditor:" + s.keys.auditor,
		"COLLABFLOW_CODEC_KEYS=" + codecKeys,
		"SENDGRID_API_KEY=SG.bench",
		"SENDGRID_BASE_URL=http://" + sinkAddr,
		// The driver polls and acts for hundreds of creators from one address.
		"COLLABFLOW_RATE_LIMIT=100000",
		"COLLABFLOW_EMAIL_RATE=" + strconv.FormatFloat(emailRate, 'f', -1, 64),
		"COLLABFLOW_VERIFY_ALLOW_PRIVATE=true",
		"COLLABFLOW_PLATFORM_HOSTS=instagram=" + postAddr,
		"COLLABFLOW_POSTAL_ADDRESS=Acme Inc., 1 Bench Street, Springfield",
		"COLLABFLOW_LOG_LEVEL=warn",
		"COLLABFLOW_UI_ADDR=off",
	}
	s.cmd = exec.Command(exe, "dev")
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = logw, logw
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, s.stopServers(fmt.Errorf("start %s dev: %w", exe, err))
	}
	go func() { s.exited <- s.cmd.Wait() }()
	s.api = newAPIClient("http://" + apiAddr)
	if err := s.waitHealthy(ctx); err != nil {
		return nil, errors.Join(err, s.stop())
	}
	c, err := codec.Parse(codecKeys)
	if err != nil {
		return nil, errors.Join(err, s.stop())
	}
	s.temporal, err = client.DialContext(ctx, client.Options{
		HostPort: temporalAddr, DataConverter: c.DataConverter(),
		Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("connect to Temporal at %s: %w", temporalAddr, err), s.stop())
	}
	return s, nil
}

// waitHealthy polls /readyz until it answers 200, the process exits or three minutes pass.
func (s *stack) waitHealthy(ctx context.Context) error {
	deadline := time.Now().Add(3 * time.Minute)
	hc := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.api.base+"/readyz", nil)
		if resp, err := hc.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-s.exited:
			return fmt.Errorf("collabflow dev exited before it was ready: %v (log in %s)", err, s.dir)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return fmt.Errorf("collabflow dev did not answer /readyz within 3 minutes (log in %s)", s.dir)
}

// stop interrupts the dev process like Ctrl-C, waits for it to shut down, and stops the
// fakes.
func (s *stack) stop() error {
	if s.temporal != nil {
		s.temporal.Close()
	}
	var err error
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
		case <-time.After(90 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			err = errors.New("collabflow dev did not stop within 90 s of an interrupt: killed")
		}
	}
	return s.stopServers(err)
}

func (s *stack) stopServers(err error) error {
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	return err
}

// serve serves h on a free loopback port until stop.
func (s *stack) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), nil
}

// memory reads the dev process's resident set: now and its peak so far, in bytes.
func (s *stack) memory() (rss, peak int64, err error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "status"))
	if err != nil {
		return 0, 0, fmt.Errorf("read the dev process's memory: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %q: %w", name, value, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak, sc.Err()
}

// cpu is the CPU time the dev process has used so far (user and system), from
// /proc/<pid>/stat: what a phase cost the process beside what it cost the clock.
func (s *stack) cpu() (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(s.cmd.Process.Pid), "stat"))
	if err != nil {
		return 0, fmt.Errorf("read the dev process's CPU time: %w", err)
	}
	// The command name in parentheses may hold spaces; the fields after it are fixed.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat: %q", b)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc stat times: %w", err)
	}
	// Clock ticks are 100 a second on Linux (USER_HZ).
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func secret(prefix string) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// postHost serves creators' live posts: the caption with its disclosure, the
// collaboration's discount code and tracking link, on the creator's account
// (/<handle>/p/<id>, as on instagram.com).
type postHost struct {
	mu    sync.Mutex
	pages map[string]string
	base  string
}

func newPostHost() *postHost { return &postHost{pages: map[string]string{}} }

// publish puts a post online and returns its URL.
func (h *postHost) publish(id, handle, caption, code, link string) string {
	path := "/" + handle + "/p/" + id
	page := fmt.Sprintf("<html><body><p>%s</p><p>Use code %s at <a href=%q>%s</a></p></body></html>",
		html.EscapeString(caption), html.EscapeString(code), link, html.EscapeString(link))
	h.mu.Lock()
	h.pages[path] = page
	h.mu.Unlock()
	return h.base + path
}

func (h *postHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	page, ok := h.pages[r.URL.Path]
	h.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(page))
}
