package api_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/api"
	"github.com/collabflow/collabflow/collabstart"
	"github.com/collabflow/collabflow/devenv/sendgridsink"
	"github.com/collabflow/collabflow/devenv/temporalserver"
	"github.com/collabflow/collabflow/links"
	"github.com/collabflow/collabflow/mailer"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
	"github.com/collabflow/collabflow/verify"
	"github.com/collabflow/collabflow/worker"
	"github.com/collabflow/collabflow/workflows"
)

// The whole package shares one real stack: PostgreSQL, an in-process Temporal server, a
// worker and the API over HTTP. Tests use their own creators and campaigns.
var (
	registry       = prometheus.NewRegistry()
	temporalClient client.Client
	payouts        = &flakyPayouts{}
	baseURL        string
	st             *store.Store
	sink           *sendgridsink.Sink
	// webhookKey signs Event Webhook posts as SendGrid would.
	webhookKey *ecdsa.PrivateKey
	signer     *links.Signer
	// temporalDB is the embedded Temporal server's SQLite file.
	temporalDB string
)

const (
	inboundSecret = "inbound-secret-0123456789"
	replyDomain   = "in.collabflow.test"
)

// Keys of every role, as COLLABFLOW_API_KEYS would give them.
const (
	opsKey      = "ops-secret-0123456789"
	reviewerKey = "reviewer-secret-0123456789"
	auditorKey  = "auditor-secret-0123456789"
	financeKey  = "finance-secret-0123456789"
)

func TestMain(m *testing.M) {
	// Fuzzing (make fuzz) runs only the package's pure fuzz targets, in a coordinator and
	// one worker per core, each a run of this binary: none needs the stack.
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	code, err := runTests(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func runTests(m *testing.M) (int, error) {
	ctx := context.Background()
	var err error
	if contract, err = loadOpenAPI(ctx); err != nil {
		return 0, err
	}
	stopPG, err := storetest.Start()
	if err != nil {
		return 0, err
	}
	defer stopPG()
	url, drop, err := storetest.CreateDatabase(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { _ = drop() }()
	if st, err = store.Open(ctx, url); err != nil {
		return 0, err
	}
	defer st.Close()

	// A database file, as `collabflow dev` keeps, so that a test can read what Temporal
	// stores byte for byte (TestTemporalDatabaseHoldsNoPersonalData).
	dir, err := os.MkdirTemp("", "collabflow-api-temporal-")
	if err != nil {
		return 0, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	temporalDB = filepath.Join(dir, "temporal.db")
	ts, err := temporalserver.Start(ctx, temporalserver.Options{SearchAttributes: workflows.SearchAttributeTypes(), DatabaseFile: temporalDB})
	if err != nil {
		return 0, err
	}
	defer func() { _ = ts.Stop() }()
	quiet := slog.New(slog.DiscardHandler)
	tc, err := client.Dial(client.Options{HostPort: ts.Address(), Namespace: ts.Namespace(), Logger: sdklog.NewStructuredLogger(quiet)})
	if err != nil {
		return 0, err
	}
	defer tc.Close()
	temporalClient = tc
	sink = sendgridsink.New()
	sinkSrv := httptest.NewServer(sink)
	defer sinkSrv.Close()
	sg, err := mailer.NewSendGrid("SG.test", sinkSrv.URL, 5*time.Second)
	if err != nil {
		return 0, err
	}
	if signer, err = links.NewSigner([]byte("test-link-secret-0123456789abcdef")); err != nil {
		return 0, err
	}
	if webhookKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return 0, err
	}
	// The API's public URL is only known once httptest has started; links in emails use a
	// fixed one and tests rewrite it.
	platformHosts, err := verify.ParsePlatformHosts("instagram=127.0.0.1")
	if err != nil {
		return 0, err
	}
	w := worker.New(tc, &activities.Activities{
		Store: st, Mailer: sg, Links: signer, PublicURL: "http://collabflow.test",
		PostalAddress: "Acme Inc., 1 Main Street, Springfield", ReplyDomain: replyDomain,
		// Test posts are on loopback at any port: httptest servers stand in for instagram.
		Verifier: verify.NewFetcher(true, 5*time.Second), PlatformHosts: platformHosts, Payouts: payouts,
		Collaborations:  activities.TemporalCollaborations{Client: tc},
		Starter:         collabstart.Starter{Client: tc, Store: st},
		Steerer:         collabstart.Starter{Client: tc, Store: st},
		BulkItemTimeout: bulkItemTimeout,
	}, worker.Options{EmailsPerSecond: 100})
	if err := w.Start(); err != nil {
		return 0, err
	}
	defer w.Stop()

	e, err := api.New(apiConfig(func(cfg *api.Config) { cfg.Metrics = registry }))
	if err != nil {
		return 0, err
	}
	srv := httptest.NewServer(contract.validated(e))
	defer srv.Close()
	baseURL = srv.URL
	code := m.Run()
	// Close waits for the handlers still checking their last exchanges; then one list names
	// every exchange the document got wrong.
	srv.Close()
	if err := contract.failures(); err != nil {
		return 1, err
	}
	return code, nil
}

// bulkItemTimeout is the worker's per-item bound of bulk actions: short, so that a test
// with a collaboration that never accepts its update does not wait the default, and long
// enough for a healthy one on a busy machine.
const bulkItemTimeout = 8 * time.Second

// errorsToStderr logs the API's errors where go test shows them when the package fails: a
// 500 in a test is otherwise only "internal error".
var errorsToStderr = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

// apiConfig is the configuration of the package's API, changed by tweaks.
func apiConfig(tweaks ...func(*api.Config)) api.Config {
	keys, err := api.ParseKeys("ops-team:ops:" + opsKey + ",rev:reviewer:" + reviewerKey + ",audit:auditor:" + auditorKey + ",fin:finance:" + financeKey)
	if err != nil {
		panic(err) // constant input
	}
	cfg := api.Config{Store: st, Temporal: temporalClient, Keys: keys, Logger: errorsToStderr, RateLimit: 1000, Links: signer,
		WebhookKey: &webhookKey.PublicKey, InboundSecret: inboundSecret, ReplyDomain: replyDomain}
	for _, tweak := range tweaks {
		tweak(&cfg)
	}
	return cfg
}

// newAPI starts another API instance over the same PostgreSQL and Temporal, as a second
// replica or a restarted process would be, and returns its base URL.
func newAPI(t *testing.T, tweaks ...func(*api.Config)) string {
	t.Helper()
	e, err := api.New(apiConfig(tweaks...))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(contract.validated(e))
	t.Cleanup(srv.Close)
	return srv.URL
}

// response is a decoded reply.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// field reads a JSON error's fields entry.
func (r response) field(name string) string {
	fields, _ := r.Body["fields"].(map[string]any)
	s, _ := fields[name].(string)
	return s
}

func (r response) str(name string) string {
	s, _ := r.Body[name].(string)
	return s
}

// call sends a request with a bearer key (none when empty) and a body: a string is sent
// as is, anything else as JSON.
func call(t testing.TB, method, path, key string, body any, headers ...string) response {
	t.Helper()
	return callAt(t, baseURL, method, path, key, body, headers...)
}

// callAt is call against another API instance (see newAPI).
func callAt(t testing.TB, base, method, path, key string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return send(t, req)
}

// send does a request and decodes a JSON object answer.
func send(t testing.TB, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
	}
	return r
}

// must checks the status and returns the response.
func must(t testing.TB, want int, r response) response {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d: %s", r.Status, want, r.Raw)
	}
	return r
}

var seq int

// newCreator adds a creator with a unique email and returns its id.
func newCreator(t *testing.T) string {
	t.Helper()
	seq++
	r := must(t, 201, call(t, "POST", "/v1/creators", opsKey, map[string]any{
		"name": fmt.Sprintf("Creator %d", seq), "email": fmt.Sprintf("c%d-%s@example.com", seq, t.Name()),
		"timezone": "America/New_York", "followers": 20_000,
	}))
	return r.str("id")
}

// newCreatorWithHandle adds a creator with a handle on instagram, which their test
// posts show in the address (post verification checks it).
func newCreatorWithHandle(t *testing.T) string {
	t.Helper()
	seq++
	r := must(t, 201, call(t, "POST", "/v1/creators", opsKey, map[string]any{
		"name": fmt.Sprintf("Creator %d", seq), "email": fmt.Sprintf("c%d-%s@example.com", seq, t.Name()),
		"timezone": "America/New_York", "followers": 20_000, "handles": map[string]string{"instagram": fmt.Sprintf("creator.%d", seq)},
	}))
	return r.str("id")
}

// newCampaign adds a campaign whose emails may go out at any hour; timings override the
// defaults of an hour per wait, long enough that nothing happens unless a test waits.
func newCampaign(t testing.TB, timings ...map[string]any) string {
	t.Helper()
	tm := map[string]any{"reply_wait": "1h", "follow_up_delays": []string{"1h", "1h"}}
	for _, extra := range timings {
		for k, v := range extra {
			tm[k] = v
		}
	}
	r := must(t, 201, call(t, "POST", "/v1/campaigns", opsKey, map[string]any{
		"name": "Campaign " + t.Name(), "brand": "Acme", "sender_email": "collabs@acme.test",
		"timings":     tm,
		"send_window": map[string]any{"start": "00:00", "end": "24:00", "days": []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
	}))
	return r.str("id")
}

// eventually polls cond until it holds or a minute passes: a deadline for a busy CI
// machine, not a speed requirement.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventuallyWithin(t, time.Minute, what, cond)
}

// eventuallyWithin polls cond until it holds or d passes: for states that come after a
// retry's backoff.
func eventuallyWithin(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// flakyPayouts is the manual provider that can be told to fail its next submissions, as a
// payment API timing out would: the ledger row is written, then the activity fails and
// Temporal retries it.
// It can also be told to refuse its next submissions for good, as a provider does for a
// closed account: the collaboration then waits for ops.
type flakyPayouts struct {
	activities.ManualPayouts
	// target is the collaboration whose payouts fail or are refused: other tests'
	// collaborations, still running in the background, must not take its failures.
	target   atomic.Value
	failures atomic.Int32
	refusals atomic.Int32
}

// aim makes the payouts of collaboration id the ones that fail or are refused, until the
// test ends.
func (f *flakyPayouts) aim(t *testing.T, id string) {
	f.target.Store(id)
	t.Cleanup(func() { f.target.Store(""); f.failures.Store(0); f.refusals.Store(0) })
}

func (f *flakyPayouts) Submit(ctx context.Context, p store.Payout) (string, error) {
	if target, _ := f.target.Load().(string); target != p.CollaborationID {
		return f.ManualPayouts.Submit(ctx, p)
	}
	if f.refusals.Add(-1) >= 0 {
		return "", &activities.PayoutRefused{Reason: "payee account closed"}
	}
	if f.failures.Add(-1) >= 0 {
		return "", errors.New("payment provider timed out")
	}
	return f.ManualPayouts.Submit(ctx, p)
}
