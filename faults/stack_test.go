//go:build faults

package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/collabflow/collabflow/devenv/pgserver"
	"github.com/collabflow/collabflow/devenv/temporalserver"
	"github.com/collabflow/collabflow/workflows"
)

// Keys and secrets the child processes get through their environment.
const (
	opsKey        = "faults-ops-secret-0123456789"
	reviewerKey   = "faults-reviewer-secret-0123456789"
	financeKey    = "faults-finance-secret-0123456789"
	auditorKey    = "faults-auditor-secret-0123456789"
	inboundSecret = "faults-inbound-secret-0123456789"
	linkSecret    = "faults-link-secret-0123456789abcdefghij"
	replyDomain   = "in.faults.test"
	opsEmail      = "ops@brand.test"
)

// stack is everything a run needs: PostgreSQL, Temporal, the fakes, the built binary and
// its two long-running processes.
type stack struct {
	dir      string
	bin      string
	pgDir    string
	pg       *pgserver.Server
	pgPort   string
	db       *pgxpool.Pool
	temporal *temporalserver.Server
	tc       client.Client
	apiURL   string
	env      []string
	api      *process
	worker   *process
	mail     *sendgridFake
	posts    *postHost
	servers  []*http.Server
	timings  []timing
	// stopEvents ends the Event Webhook deliveries.
	stopEvents context.CancelFunc
}

// timing is one measured phase, printed in the summary.
type timing struct {
	what string
	took time.Duration
}

func (s *stack) measure(what string, f func() error) error {
	start := time.Now()
	err := f()
	s.timings = append(s.timings, timing{what, time.Since(start)})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// startStack brings everything up in dir. The caller closes it.
func startStack(ctx context.Context, dir string) (*stack, error) {
	s := &stack{dir: dir, pgDir: filepath.Join(dir, "postgres"), bin: filepath.Join(dir, "collabflow")}
	err := s.measure("build collabflow", func() error {
		// The package sits one level below the module root.
		cmd := exec.CommandContext(ctx, "go", "build", "-o", s.bin, "./cmd/collabflow")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	})
	if err != nil {
		return s, err
	}
	err = s.measure("start PostgreSQL", func() error {
		var err error
		// Ephemeral (fsync off) only trades crash safety of the OS, which no fault here
		// touches: PostgreSQL itself is stopped cleanly and restarted.
		if s.pg, err = pgserver.Start(ctx, pgserver.Options{Dir: s.pgDir, Ephemeral: true}); err != nil {
			return err
		}
		u, err := url.Parse(s.pg.URL())
		if err != nil {
			return err
		}
		s.pgPort = u.Port()
		s.db, err = pgxpool.New(ctx, s.pg.URL())
		return err
	})
	if err != nil {
		return s, err
	}
	err = s.measure("start Temporal", func() error {
		var err error
		s.temporal, err = temporalserver.Start(ctx, temporalserver.Options{
			DatabaseFile:     filepath.Join(dir, "temporal", "temporal.db"),
			SearchAttributes: workflows.SearchAttributeTypes(),
			// Each process this test kills leaves the server logging cut calls as errors
			// with stack traces; what matters is judged from the outcomes instead.
			LogLevel: "dpanic",
		})
		if err != nil {
			return err
		}
		s.tc, err = client.Dial(client.Options{HostPort: s.temporal.Address(), Namespace: s.temporal.Namespace(),
			Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)), DataConverter: faultsConverter()})
		return err
	})
	if err != nil {
		return s, err
	}

	if s.mail, err = newSendGridFake(); err != nil {
		return s, err
	}
	webhookKey, err := s.mail.publicKey()
	if err != nil {
		return s, err
	}
	s.posts = newPostHost()
	mailURL, err := s.serve(s.mail)
	if err != nil {
		return s, err
	}
	if s.posts.base, err = s.serve(s.posts); err != nil {
		return s, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return s, err
	}
	s.apiURL = "http://" + apiAddr
	s.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"TEMPORAL_ADDRESS=" + s.temporal.Address(),
		"TEMPORAL_NAMESPACE=" + s.temporal.Namespace(),
		"DATABASE_URL=" + s.pg.URL(),
		"COLLABFLOW_ADDR=" + apiAddr,
		"COLLABFLOW_PUBLIC_URL=" + s.apiURL,
		"COLLABFLOW_API_KEYS=ops:ops:" + opsKey + ",rev:reviewer:" + reviewerKey + ",fin:finance:" + financeKey + ",aud:auditor:" + auditorKey,
		"COLLABFLOW_LINK_SECRET=" + linkSecret,
		// Drivers poll each collaboration's state; the default 50/s per key would throttle them.
		"COLLABFLOW_RATE_LIMIT=2000",
		"COLLABFLOW_LOG_LEVEL=info",
		"SENDGRID_API_KEY=SG.faults",
		"SENDGRID_BASE_URL=" + mailURL,
		"SENDGRID_INBOUND_SECRET=" + inboundSecret,
		"SENDGRID_WEBHOOK_PUBLIC_KEY=" + webhookKey,
		"INBOUND_REPLY_DOMAIN=" + replyDomain,
		"COLLABFLOW_POSTAL_ADDRESS=Acme Inc., 1 Fault Street, Springfield",
		"COLLABFLOW_EMAIL_RATE=50",
		"COLLABFLOW_OPS_EMAIL=" + opsEmail,
		// The post host is on loopback, and it is instagram for post verification.
		"COLLABFLOW_VERIFY_ALLOW_PRIVATE=true",
		"COLLABFLOW_PLATFORM_HOSTS=instagram=" + strings.TrimPrefix(s.posts.base, "http://"),
		// Below stop's 15 s before SIGKILL, as a pod's grace period is above it: a
		// restarted worker lets its activities finish, and a hung one (the post host's
		// hang) is cancelled rather than killed.
		"COLLABFLOW_WORKER_STOP_TIMEOUT=10s",
		// Payloads encrypted as in production: a plain one is forged (forgedSignal).
		"COLLABFLOW_CODEC_KEYS=" + faultsCodecKeys,
	}
	err = s.measure("migrate", func() error {
		cmd := exec.CommandContext(ctx, s.bin, "migrate")
		cmd.Env = s.env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	})
	if err != nil {
		return s, err
	}
	s.api = &process{name: "api", bin: s.bin, args: []string{"api"}, env: s.env, logPath: filepath.Join(dir, "api.log")}
	s.worker = &process{name: "worker", bin: s.bin, args: []string{"worker"}, env: s.env, logPath: filepath.Join(dir, "worker.log")}
	// SendGrid's Event Webhook runs for the whole run: the API, its receiver, may be down.
	events, stopEvents := context.WithCancel(context.Background())
	s.stopEvents = stopEvents
	go s.mail.deliverEvents(events, s.apiURL+"/webhooks/sendgrid/events")
	err = s.measure("start worker and API", func() error {
		if err := s.worker.start(); err != nil {
			return err
		}
		if err := s.api.start(); err != nil {
			return err
		}
		if _, err := s.workerReady(ctx); err != nil {
			return err
		}
		_, err := s.apiReady(ctx)
		return err
	})
	return s, err
}

// serve runs h on a free loopback port and returns its base URL.
func (s *stack) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// close stops everything that was started, children first.
func (s *stack) close() {
	if s.stopEvents != nil {
		s.stopEvents()
	}
	for _, p := range []*process{s.api, s.worker} {
		if p != nil {
			p.stop()
		}
	}
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	if s.tc != nil {
		s.tc.Close()
	}
	if s.temporal != nil {
		_ = s.temporal.Stop()
	}
	if s.db != nil {
		s.db.Close()
	}
	if s.pg != nil {
		_ = s.pg.Stop()
	}
}

// apiReady waits until /readyz answers 200 (PostgreSQL and Temporal reachable from the
// API) and returns how long that took.
func (s *stack) apiReady(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	return pollUntil(ctx, start, time.Minute, "the API's /readyz", func() bool {
		resp, err := http.Get(s.apiURL + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// workerReady waits until this worker process polls both task queues: Temporal lists
// pollers by identity, which the SDK makes from the process id.
func (s *stack) workerReady(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	prefix := fmt.Sprintf("%d@", s.worker.pid())
	polls := func(queue string, kind enumspb.TaskQueueType) bool {
		d, err := s.tc.DescribeTaskQueue(ctx, queue, kind)
		if err != nil {
			return false
		}
		for _, p := range d.GetPollers() {
			if strings.HasPrefix(p.GetIdentity(), prefix) {
				return true
			}
		}
		return false
	}
	return pollUntil(ctx, start, time.Minute, "the worker polling", func() bool {
		return polls(workflows.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW) &&
			polls(workflows.EmailTaskQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY)
	})
}

// stopPostgres stops the cluster (pg_ctl stop -m fast: connections are cut).
func (s *stack) stopPostgres() error { return s.pg.Stop() }

// startPostgres starts the stopped cluster again on the same port, so that the URLs the
// processes hold stay valid. pgserver.Start would pick a new port, so this runs pg_ctl
// with the options pgserver uses (Ephemeral), as the postgres user when root.
func (s *stack) startPostgres(ctx context.Context) error {
	bin, err := pgserver.FindBinaries()
	if err != nil {
		return err
	}
	args := []string{"start", "-D", filepath.Join(s.pgDir, "data"), "-l", filepath.Join(s.pgDir, "postgres.log"), "-w", "-t", "60", "-o",
		fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %s -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off", s.pgPort, s.pgDir)}
	name := filepath.Join(bin, "pg_ctl")
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "postgres", "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = s.pgDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl start: %w: %s", err, out)
	}
	return nil
}

// process is a child process of the built binary that can be killed and started again.
type process struct {
	name    string
	bin     string
	args    []string
	env     []string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	// expected is set before this test stops or kills the process; an exit without it is
	// a crash of its own.
	expected bool
	crashes  []string
}

func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	log, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "\n===== %s start %s =====\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = log, log
	// The child dies with the test process, even when the test is killed itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.expected = cmd, done, false
	go func() {
		err := cmd.Wait()
		_ = log.Close()
		p.mu.Lock()
		if !p.expected {
			p.crashes = append(p.crashes, fmt.Sprintf("%s exited by itself at %s: %v (log %s)", p.name, time.Now().Format(time.RFC3339), err, p.logPath))
		}
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill() {
	p.signal(syscall.SIGKILL, 0)
}

// stop asks the process to stop (SIGTERM) and kills it after 15 s.
func (p *process) stop() {
	p.signal(syscall.SIGTERM, 15*time.Second)
}

func (p *process) signal(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.expected = true
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-done:
			return
		case <-time.After(grace):
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	<-done
}

// crashed lists exits this test did not cause.
func (p *process) crashed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.crashes...)
}

// pollUntil calls cond until it holds or limit passes, and returns the time since start.
func pollUntil(ctx context.Context, start time.Time, limit time.Duration, what string, cond func() bool) (time.Duration, error) {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return time.Since(start), fmt.Errorf("timed out after %s waiting for %s", limit, what)
		}
		select {
		case <-ctx.Done():
			return time.Since(start), ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return time.Since(start), nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String(), nil
}

// tail returns the last n bytes of a log file, for failure reports.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	if info.Size() > n {
		if _, err := f.Seek(-n, io.SeekEnd); err != nil {
			return err.Error()
		}
	}
	b, err := io.ReadAll(f)
	if err != nil && !errors.Is(err, io.EOF) {
		return err.Error()
	}
	return string(b)
}
