//go:build faults

package faults

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collabflow/collabflow/workflows"
)

// harness is one run: the stack, the drivers and the faults injected so far.
type harness struct {
	stack      *stack
	api        *apiClient
	t0         time.Time
	campaignID string
	drivers    []*driver

	mu     sync.Mutex
	faults []*fault
	over   atomic.Bool
}

// fault is one injected fault as the summary reports it.
type fault struct {
	name string
	// at is when it began, from the start of driving.
	at time.Duration
	// down is how long the thing was broken; recovery how long it took to be usable again
	// once restored (process polling or answering /healthz), when measured.
	down, recovery time.Duration
	measured       bool
	// hit is where the collaborations stood when it began.
	hit  string
	note string
	err  error
}

// faultsOver reports that every fault has been injected and lifted.
func (h *harness) faultsOver() bool { return h.over.Load() }

// TestFaults drives a batch of collaborations through real processes while faults are
// injected in turn, then checks that nothing was lost or doubled. See the package doc.
func TestFaults(t *testing.T) {
	began := time.Now()
	n := envInt(t, "FAULTS_COLLABORATIONS", 24)
	driveFor := envDuration(t, "FAULTS_DEADLINE", 280*time.Second)

	dir, err := os.MkdirTemp("", "collabflow-faults-")
	if err != nil {
		t.Fatal(err)
	}
	// World-traversable, so that the postgres user reaches its cluster inside.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() || os.Getenv("FAULTS_KEEP") != "" {
			fmt.Printf("logs kept in %s (api.log, worker.log, postgres/postgres.log)\n", dir)
			return
		}
		_ = os.RemoveAll(dir)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), driveFor+4*time.Minute)
	defer cancel()

	s, err := startStack(ctx, dir)
	defer s.close()
	if err != nil {
		t.Fatalf("start: %v\n--- api.log ---\n%s\n--- worker.log ---\n%s", err, tail(dir+"/api.log", 3000), tail(dir+"/worker.log", 3000))
	}
	h := &harness{stack: s, api: newAPIClient(s.apiURL)}
	if err := s.measure("roster", func() error { return h.roster(ctx, n) }); err != nil {
		t.Fatal(err)
	}

	h.t0 = time.Now()
	driveCtx, stopDriving := context.WithDeadline(ctx, h.t0.Add(driveFor))
	var wg sync.WaitGroup
	// Ops start collaborations one after another: the first wave over half a minute, so
	// that each of the first faults finds some early in their lifecycle and some late.
	launch := func(wave int, gap time.Duration) {
		began, i := time.Now(), 0
		for _, d := range h.drivers {
			if d.wave != wave {
				continue
			}
			at := began.Add(time.Duration(i) * gap)
			i++
			wg.Add(1)
			go func() {
				defer wg.Done()
				if sleepUntil(driveCtx, at) == nil {
					d.run(driveCtx)
				}
			}()
		}
	}
	launch(1, 2*time.Second)
	injected := make(chan struct{})
	go func() {
		defer close(injected)
		h.inject(driveCtx, func() { launch(2, time.Second) })
	}()
	<-injected
	wg.Wait()
	stopDriving()
	drove := time.Since(h.t0)
	s.timings = append(s.timings, timing{"drive (faults included)", drove})

	var r report
	_ = s.measure("checks", func() error {
		r = h.check(ctx)
		return nil
	})
	_ = s.measure("forged signal", func() error { h.forgedSignal(ctx, t); return nil })
	s.timings = append(s.timings, timing{"total", time.Since(began)})
	fmt.Print(h.summary(r))
	r.assert(t)
	h.wedgedPhase(t)
}

// roster adds the campaign (timings in seconds) and one creator per collaboration.
func (h *harness) roster(ctx context.Context, n int) error {
	a, err := h.api.send(ctx, jsonRequest(http.MethodPost, "/v1/campaigns", opsKey, map[string]any{
		"name": "Fault injection", "brand": "Acme", "sender_email": "collabs@acme.test", "landing_url": "https://acme.test/faults",
		"compensation": map[string]any{"currency": "USD", "fixed_fee": 150000,
			"bonus_tiers": []map[string]any{{"metric": "conversions", "threshold": 10, "amount": 20000}}, "revenue_share_percent": 5},
		"brief": map[string]any{"deliverables": []map[string]any{{"platform": "instagram", "format": "reel", "count": 1}}},
		// Seconds where production has days, long enough that a driver slowed by a fault
		// still acts in time, short enough that reminders and deadlines fire in the run.
		"timings": map[string]any{
			"follow_up_delays": []string{"3s", "3s"}, "reply_wait": "6s",
			"contract_expiry": "150s", "draft_deadline": "30s", "review_sla": "20s", "post_deadline": "30s",
			"verification_interval": "3s", "live_window": "20s", "live_checks": []string{"4s", "8s"}, "live_check_every": "4s",
		},
		"send_window": map[string]any{"start": "00:00", "end": "24:00", "days": []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
	}))
	if err != nil {
		return err
	}
	var campaign struct{ ID string }
	if a.Status != http.StatusCreated {
		return fmt.Errorf("campaign: %s", a)
	}
	if err := a.decode(&campaign); err != nil {
		return err
	}
	h.campaignID = campaign.ID
	zones := []string{"UTC", "Europe/London", "America/New_York", "Asia/Tokyo", "Australia/Sydney"}
	for _, p := range plans(n) {
		a, err := h.api.send(ctx, jsonRequest(http.MethodPost, "/v1/creators", opsKey, map[string]any{
			"name": fmt.Sprintf("Creator Number %d", p.n), "email": fmt.Sprintf("creator%d@example.com", p.n),
			"timezone": zones[p.n%len(zones)], "handles": map[string]string{"instagram": handle(p.n)},
			"followers": 20000 + 1000*p.n,
		}))
		if err != nil {
			return err
		}
		var creator struct{ ID string }
		if a.Status != http.StatusCreated {
			return fmt.Errorf("creator: %s", a)
		}
		if err := a.decode(&creator); err != nil {
			return err
		}
		h.drivers = append(h.drivers, &driver{plan: p, h: h, creatorID: creator.ID})
	}
	return nil
}

// plannedFaults is how many faults inject injects when the run lasts long enough.
const plannedFaults = 5

// inject runs the faults one after another, each starting no earlier than its slot and
// a few seconds after the previous one was lifted. startWave2 starts the second wave of
// collaborations as SendGrid's outage begins.
func (h *harness) inject(ctx context.Context, startWave2 func()) {
	defer h.over.Store(true)
	s := h.stack
	slot := func(offset time.Duration) bool {
		at := h.t0.Add(offset)
		if soon := time.Now().Add(3 * time.Second); soon.After(at) {
			at = soon
		}
		return sleepUntil(ctx, at) == nil
	}
	// hold keeps a fault on for its planned time.
	hold := func(d time.Duration) { _ = sleepUntil(ctx, time.Now().Add(d)) }

	// Worker first, while the earliest collaborations are in outreach and negotiation.
	if !slot(8 * time.Second) {
		return
	}
	f := h.begin("worker killed with SIGKILL, restarted after 2 s")
	s.worker.kill()
	hold(2 * time.Second)
	f.down = time.Since(h.t0) - f.at
	if f.err = s.worker.start(); f.err == nil {
		f.recovery, f.err = s.workerReady(ctx)
		f.measured = true
	}

	// PostgreSQL while the first wave spreads from outreach to live.
	if !slot(20 * time.Second) {
		return
	}
	f = h.begin("PostgreSQL stopped for 10 s")
	if f.err = s.stopPostgres(); f.err != nil {
		return
	}
	hold(10 * time.Second)
	f.down = time.Since(h.t0) - f.at
	if f.err = s.startPostgres(ctx); f.err == nil {
		// /readyz answers 200 once the API reaches PostgreSQL again.
		f.recovery, f.err = s.apiReady(ctx)
		f.measured = true
	}

	// The API when the last of the first wave negotiate and produce: many changes.
	if !slot(36 * time.Second) {
		return
	}
	// Wait for a change request under way, so that the kill cuts updates in flight.
	var inflight int64
	_, _ = pollFast(ctx, 15*time.Second, func() bool { inflight = h.api.inflight.Load(); return inflight > 0 })
	f = h.begin("API killed with SIGKILL while updates were in flight, restarted after 1 s")
	s.api.kill()
	f.note = fmt.Sprintf("%d update request(s) in flight at the kill", inflight)
	if inflight == 0 {
		// Still killed and restarted, but not the fault the issue names.
		f.err = errors.New("no update was in flight within 15 s")
	}
	hold(time.Second)
	f.down = time.Since(h.t0) - f.at
	if err := s.api.start(); err != nil {
		f.err = err
	} else if f.recovery, err = s.apiReady(ctx); err != nil {
		f.err = err
	} else {
		f.measured = true
	}

	if !slot(60 * time.Second) {
		return
	}
	f = h.begin("SendGrid answering 429 and 503 in turn for 60 s (second wave starts)")
	s.mail.outage.Store(true)
	startWave2()
	hold(60 * time.Second)
	s.mail.outage.Store(false)
	f.down = time.Since(h.t0) - f.at
	f.note = s.mail.refusals()

	if !slot(0) {
		return
	}
	// The post host matters to collaborations whose posts are being checked.
	_, _ = pollFast(ctx, 45*time.Second, func() bool {
		for _, d := range h.drivers {
			if st := d.lastStage(); st == workflows.StageVerifying || st == workflows.StageLive {
				return true
			}
		}
		return false
	})
	f = h.begin("post host timing out for 30 s")
	s.posts.timeout.Store(true)
	hold(30 * time.Second)
	s.posts.timeout.Store(false)
	f.down = time.Since(h.t0) - f.at
	f.note = fmt.Sprintf("%d request(s) left unanswered", s.posts.hung.Load())
}

// begin records a fault starting now, with where the collaborations stand.
func (h *harness) begin(name string) *fault {
	f := &fault{name: name, at: time.Since(h.t0), hit: h.census()}
	h.mu.Lock()
	h.faults = append(h.faults, f)
	h.mu.Unlock()
	return f
}

// census counts the running drivers' collaborations by the stage they last saw.
func (h *harness) census() string {
	counts := map[string]int{}
	for _, d := range h.drivers {
		if st := d.lastStage(); st != "" {
			counts[string(st)]++
		}
	}
	var parts []string
	for _, st := range workflows.Stages {
		if c := counts[string(st)]; c > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, c))
		}
	}
	if len(parts) == 0 {
		return "none started"
	}
	return strings.Join(parts, ", ")
}

// pollFast polls cond every millisecond until it holds or limit passes.
func pollFast(ctx context.Context, limit time.Duration, cond func() bool) (bool, error) {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return true, nil
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 5 || n > 500 {
		t.Fatalf("%s=%q: a number of collaborations from 5 to 500", name, v)
	}
	return n
}

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < time.Minute {
		t.Fatalf("%s=%q: a duration of at least 1m", name, v)
	}
	return d
}

// sortedKeys returns a map's keys in order, for stable output.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
