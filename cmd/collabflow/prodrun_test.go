//go:build dev

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/collabflow/collabflow/devenv/sendgridsink"
	"github.com/collabflow/collabflow/workflows"
)

// TestProductionBinaryAgainstDev is issue 13: the production binary (built without the
// dev tag, as `make build` does) runs its `api` and `worker` as separate processes against
// the Temporal server and PostgreSQL of a running `collabflow dev`, with dev's link secret
// and payload keys, and an ops person works through the production API's console: signs
// in, starts a collaboration from a campaign's board, sees its page and its card. The
// outreach email it sends reaches dev's SendGrid sink.
//
// Dev runs a worker of its own on the same task queues, so either worker may run any
// task: the email proves that a worker did the work, not which one (the test logs which).
// That the production worker is a working one is shown apart: its /readyz, and its
// metrics counting its polls for workflow and activity tasks.
func TestProductionBinaryAgainstDev(t *testing.T) {
	dir := t.TempDir()
	// Built before dev starts, so dev does not wait idle through the build. The test runs
	// in cmd/collabflow, the command's package; no tags, so no `dev` and no embedded server.
	bin := filepath.Join(dir, "collabflow")
	buildStart := time.Now()
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the production binary: %v\n%s", err, out)
	}
	t.Logf("built the production binary in %s", time.Since(buildStart).Round(time.Millisecond))
	// What the binary is (GOFLAGS=-tags=dev would make it the dev one): the production
	// build only says where dev is (prodbuild.go).
	whatIs := exec.Command(bin, "dev")
	whatIs.Env = []string{"PATH=" + os.Getenv("PATH")}
	if out, err := whatIs.CombinedOutput(); err == nil || !strings.Contains(string(out), "this is the production build") {
		t.Fatalf("%s dev: %v %s; want the production binary, without dev", bin, err, out)
	}

	dataDir := filepath.Join(dir, ".data")
	sinkAddr := freeAddr(t)
	env := map[string]string{
		"COLLABFLOW_DATA_DIR":           dataDir,
		"TEMPORAL_ADDRESS":              freeAddr(t),
		"COLLABFLOW_ADDR":               freeAddr(t),
		"COLLABFLOW_LOG_LEVEL":          "warn",
		"COLLABFLOW_SENDGRID_SINK_ADDR": sinkAddr,
		"COLLABFLOW_UI_ADDR":            freeAddr(t),
	}
	runDevPrinting(t, env, func(devBase, _, printed string) {
		m := regexp.MustCompile(`(?m)^PostgreSQL: (\S+)$`).FindStringSubmatch(printed)
		if m == nil {
			t.Fatalf("dev printed no PostgreSQL URL:\n%s", printed)
		}
		apiAddr := freeAddr(t)
		base := "http://" + apiAddr
		const (
			opsKey     = "prodrun-ops-secret-0123456789"
			prodPostal = "collabflow prodrun test, 2 Example Street, Springfield"
		)
		shared := []string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + dir,
			"TEMPORAL_ADDRESS=" + env["TEMPORAL_ADDRESS"],
			"DATABASE_URL=" + m[1],
			"COLLABFLOW_ADDR=" + apiAddr,
			// The worker puts links to the API in emails.
			"COLLABFLOW_PUBLIC_URL=" + base,
			"COLLABFLOW_API_KEYS=ops:ops:" + opsKey,
			// Dev's secrets, from its data directory: links either side signs verify on
			// the other, and payloads either side encrypts the other decrypts.
			"COLLABFLOW_LINK_SECRET=" + readDevFile(t, dataDir, "link-secret"),
			"COLLABFLOW_CODEC_KEYS=" + readDevFile(t, dataDir, "codec-keys"),
			"SENDGRID_INBOUND_SECRET=" + readDevFile(t, dataDir, "inbound-secret"),
			"INBOUND_REPLY_DOMAIN=inbound.collabflow.localhost",
			"SENDGRID_API_KEY=SG.test",
			"SENDGRID_BASE_URL=http://" + sinkAddr,
			"COLLABFLOW_POSTAL_ADDRESS=" + prodPostal,
			"COLLABFLOW_VERIFY_ALLOW_PRIVATE=true",
			"COLLABFLOW_LOG_FORMAT=json",
		}
		workerMetrics, apiMetrics := freeAddr(t), freeAddr(t)
		started := time.Now()
		worker := startChild(t, "worker", bin, append(shared, "COLLABFLOW_METRICS_ADDR="+workerMetrics))
		api := startChild(t, "api", bin, append(shared, "COLLABFLOW_METRICS_ADDR="+apiMetrics))
		children := []*child{worker, api}
		// Stopped before dev is, so that they do not outlive its Temporal and PostgreSQL;
		// the cleanup is for a Fatal in between (stop is once only).
		stopAll := func() {
			for _, c := range children {
				c.stop()
			}
		}
		t.Cleanup(stopAll)
		defer func() {
			stopAll()
			if t.Failed() {
				for _, c := range children {
					t.Logf("%s output (last 32 KB):\n%s", c.name, c.output(32<<10))
				}
			}
		}()

		// Ready: PostgreSQL with every migration, and Temporal, reachable from each.
		waitChildren(t, children, "the API's /readyz", func() bool { return httpStatus(base+"/readyz") == 200 })
		waitChildren(t, children, "the worker's /readyz", func() bool { return httpStatus("http://"+workerMetrics+"/readyz") == 200 })
		// And the worker's pollers out for workflow and activity tasks, by its own metrics.
		// Not by Temporal's DescribeTaskQueue: it lists the pollers of a queue's root
		// partition only, and with dev's worker forwarding polls there the production
		// worker's can wait on another partition for up to a minute.
		waitChildren(t, children, "the worker polling Temporal", func() bool {
			m := getText(t, "http://"+workerMetrics+"/metrics", 200)
			return polling(m, "PollWorkflowTaskQueue") && polling(m, "PollActivityTaskQueue")
		})
		t.Logf("production api and worker ready in %s", time.Since(started).Round(time.Millisecond))
		tc, err := client.Dial(client.Options{HostPort: env["TEMPORAL_ADDRESS"], Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
		if err != nil {
			t.Fatal(err)
		}
		defer tc.Close()

		// The JSON API of the production process: a creator, a campaign that may email at
		// any hour (waits of an hour: nothing follows the first email during the test), and
		// the creator on its roster, whom the board's start form then offers.
		creator := post(t, base, opsKey, "/v1/creators", `{"name":"Ada Lovelace","email":"ada@example.com","timezone":"Europe/London","handles":{"instagram":"ada.codes"},"followers":48000}`, 201)["id"].(string)
		campaign := post(t, base, opsKey, "/v1/campaigns", `{"name":"Production run","brand":"Acme","sender_email":"collabs@acme.test",
			"timings":{"reply_wait":"1h","follow_up_delays":["1h","1h"]},
			"send_window":{"start":"00:00","end":"24:00","days":["sun","mon","tue","wed","thu","fri","sat"]}}`, 201)["id"].(string)
		post(t, base, opsKey, "/v1/campaigns/"+campaign+"/roster", fmt.Sprintf(`{"creators":[{"creator_id":%q,"tier":"micro"}]}`, creator), 200)

		// The console, as a browser: sign in with the ops key, start from the board.
		b := newBrowser(t, base)
		if p := b.post("/console/sign-in", url.Values{"key": {opsKey}}); p.status != http.StatusSeeOther || p.location != "/console" {
			t.Fatalf("console sign-in: %d %q %s", p.status, p.location, p.body)
		}
		board := "/console/campaigns/" + campaign
		p := b.get(board)
		form := between(p.body, `id="form-start"`, "</form>")
		if p.status != 200 || !strings.Contains(form, `<option value="`+creator+`">Ada Lovelace`) {
			t.Fatalf("board %s: %d, start form %q", board, p.status, form)
		}
		csrf, idem := csrfValue.FindStringSubmatch(form), idemValue.FindStringSubmatch(form)
		if csrf == nil || idem == nil {
			t.Fatalf("start form without its tokens: %s", form)
		}
		p = b.post(board+"/start", url.Values{"_csrf": {html.UnescapeString(csrf[1])}, "_idem": {html.UnescapeString(idem[1])}, "creator_id": {creator}})
		id := workflows.CollaborationID(campaign, creator)
		if p.status != http.StatusSeeOther || p.location != "/console/collaborations/"+id+"?done=start" {
			t.Fatalf("start from the board: %d %q %s", p.status, p.location, p.body)
		}
		// The collaboration's page reads the workflow's state through a query, which a
		// worker answers.
		p = b.get(p.location)
		if p.status != 200 || !strings.Contains(p.body, "Collaboration started") || !strings.Contains(p.body, `<dd id="stage">outreach</dd>`) ||
			!strings.Contains(p.body, "Ada Lovelace") || !strings.Contains(p.body, id) {
			t.Fatalf("page of the started collaboration: %d %s", p.status, p.body)
		}
		// The board's card comes from the read model, which the workflow writes through
		// a worker's activity.
		card := `href="/console/collaborations/` + id + `"`
		waitChildren(t, children, "the card on the board", func() bool {
			p := b.get(board)
			return p.status == 200 && strings.Contains(between(p.body, `data-stage="outreach"`, "</section>"), card)
		})

		// The work: the outreach email, sent by a worker to dev's sink.
		var sent sendgridsink.Received
		waitChildren(t, children, "the outreach email in dev's sink", func() bool {
			var msgs []sendgridsink.Received
			if err := getJSON("http://"+sinkAddr+"/messages", &msgs); err != nil {
				return false
			}
			for _, m := range msgs {
				if m.CustomArgs["collaboration_id"] == id {
					sent = m
					return true
				}
			}
			return false
		})
		if len(sent.To) != 1 || sent.To[0] != "ada@example.com" || sent.Subject == "" {
			t.Fatalf("outreach email: %+v", sent)
		}
		// The worker that sent it put its own public URL (the unsubscribe link) and postal
		// address in it.
		switch {
		case strings.Contains(sent.Text, base+"/u/") && strings.Contains(sent.Text, prodPostal):
			t.Logf("outreach email %s to %v, %q: sent by the production worker", sent.MessageID, sent.To, sent.Subject)
		case strings.Contains(sent.Text, devBase+"/u/"):
			t.Logf("outreach email %s to %v, %q: sent by dev's worker", sent.MessageID, sent.To, sent.Subject)
		default:
			t.Fatalf("outreach email from neither worker: %+v", sent)
		}
		var collab map[string]any
		waitChildren(t, children, "the sent email in /v1/collaborations/"+id, func() bool {
			collab = get(t, base, opsKey, "/v1/collaborations/"+id)
			o, _ := collab["outreach"].(map[string]any)
			return o != nil && o["emails_sent"] == 1.0
		})
		if collab["stage"] != "outreach" || collab["creator_id"] != creator || collab["campaign_id"] != campaign {
			t.Fatalf("/v1/collaborations/%s: %v", id, collab)
		}
		logWorkers(t, tc, id, fmt.Sprintf("%d@", worker.cmd.Process.Pid))

		// Both exit cleanly on SIGTERM, as under Kubernetes or compose, having logged
		// nothing a JSON log pipeline could not parse.
		stopAll()
		for _, c := range children {
			if c.err != nil {
				t.Errorf("%s did not stop cleanly: %v", c.name, c.err)
			}
			for _, line := range strings.Split(strings.TrimSpace(c.out.String()), "\n") {
				if !json.Valid([]byte(line)) {
					t.Errorf("%s logged a line that is not JSON: %s", c.name, line)
				}
			}
		}
	})
}

var (
	csrfValue = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)
	idemValue = regexp.MustCompile(`name="_idem" value="([^"]+)"`)
)

// readDevFile is one of the secrets dev keeps in its data directory.
func readDevFile(t *testing.T, dataDir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// child is a process of the production binary; its output is kept for failure reports.
type child struct {
	name   string
	cmd    *exec.Cmd
	out    *syncBuffer
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
	// stopping is set by stop; an exit before it is the process's own doing.
	stopping atomic.Bool
	err      error // why it did not exit with status 0 when stopped, once done
}

// startChild runs `bin name` with env (and nothing of this process's environment).
func startChild(t *testing.T, name, bin string, env []string) *child {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &child{name: name, out: &syncBuffer{}, cancel: cancel, done: make(chan struct{})}
	c.cmd = exec.CommandContext(ctx, bin, name)
	c.cmd.Env = env
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	// Stopped as an orchestrator stops it: SIGTERM, then SIGKILL 15 s later.
	c.cmd.Cancel = func() error { return c.cmd.Process.Signal(syscall.SIGTERM) }
	c.cmd.WaitDelay = 15 * time.Second
	if err := c.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		// After the test's SIGTERM, Wait reports the context's end even for a clean exit:
		// the exit status is what tells.
		err := c.cmd.Wait()
		switch {
		case !c.stopping.Load():
			c.err = fmt.Errorf("exited by itself: %v", err)
		case c.cmd.ProcessState == nil || !c.cmd.ProcessState.Success():
			c.err = fmt.Errorf("%v (%v)", err, c.cmd.ProcessState)
		}
		close(c.done)
	}()
	return c
}

// stop ends the process, if still running, and waits for it.
func (c *child) stop() {
	c.once.Do(func() {
		c.stopping.Store(true)
		c.cancel()
		<-c.done
	})
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// output is the last n bytes the process wrote.
func (c *child) output(n int) string {
	s := c.out.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// waitChildren polls cond until it holds, failing at once if a child exits and after a
// minute (a deadline for a busy machine, not a speed requirement).
func waitChildren(t *testing.T, children []*child, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		for _, c := range children {
			if c.exited() {
				t.Fatalf("waiting for %s: %s %v", what, c.name, c.err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within a minute", what)
		}
		<-tick.C
	}
}

// httpStatus is the status of a GET, 0 when it got no answer.
func httpStatus(u string) int {
	resp, err := http.Get(u)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func getJSON(u string, v any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// polling is whether Prometheus metrics m count long polls of the operation (the SDK
// counts each as it makes it).
func polling(m, operation string) bool {
	for _, l := range strings.Split(m, "\n") {
		if strings.HasPrefix(l, "temporal_long_request_total{") && strings.Contains(l, `operation="`+operation+`"`) && !strings.HasSuffix(l, " 0") {
			return true
		}
	}
	return false
}

// logWorkers logs which worker ran each activity of the collaboration so far: the
// production one (identity starting with prod) or dev's.
func logWorkers(t *testing.T, tc client.Client, id, prod string) {
	t.Helper()
	types := map[int64]string{}
	it := tc.GetWorkflowHistory(t.Context(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil {
			types[ev.GetEventId()] = a.GetActivityType().GetName()
		}
		if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
			who := "dev's worker"
			if strings.HasPrefix(a.GetIdentity(), prod) {
				who = "the production worker"
			}
			t.Logf("activity %s ran on %s (%s)", types[a.GetScheduledEventId()], who, a.GetIdentity())
		}
	}
}

// browser is a person's browser on the console: it keeps the session cookie and does not
// follow redirects, so that the test sees where each answer sends it.
type browser struct {
	t      *testing.T
	base   string
	client *http.Client
}

type page struct {
	status   int
	location string
	body     string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, client: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest("GET", b.base+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	req, err := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// What a browser sends with a form posted from the console's own page.
	req.Header.Set("Origin", b.base)
	return b.do(req)
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body)}
}

// between is s from the first from to the next to after it, empty when from is missing.
func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i:]
	if j := strings.Index(s, to); j >= 0 {
		s = s[:j]
	}
	return s
}
