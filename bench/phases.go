package bench

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/collabflow/collabflow/contract"
	"github.com/collabflow/collabflow/workflows"
)

type logFunc func(format string, args ...any)

// launchAlone launches cfg.Creators creators of a campaign of their own with nothing else
// running, and measures the launch: the API's answer, the time until every creator was
// started, and each collaboration's first workflow task and first email. They stay open,
// waiting for replies, and count toward the collaborations open when memory is read.
func launchAlone(ctx context.Context, st *stack, mail *mailboxes, cfg Config, res *Result, logf logFunc) error {
	var camp struct{ ID string }
	if err := st.api.want(ctx, "POST", "/v1/campaigns", st.keys.ops, campaignBody("Bench launch"), &camp, http.StatusCreated); err != nil {
		return fmt.Errorf("create the campaign: %w", err)
	}
	logf("launch: creating %d creators and their roster", cfg.Creators)
	if _, err := roster(ctx, st.api, st.keys.ops, camp.ID, "launch", cfg.Creators); err != nil {
		return err
	}
	l, err := launch(ctx, st.api, st.keys.ops, camp.ID, nil)
	if err != nil {
		return err
	}
	res.LaunchAccepted, res.LaunchAllStarted = l.Accepted.Seconds(), l.AllStarted.Seconds()
	res.LaunchStarted, res.LaunchSkipped, res.LaunchFailed = l.Started, l.Skipped, l.Failed
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for _, id := range l.ids {
		g.Go(func() error {
			_, err := mail.wait(gctx, id, "the first outreach email", isOutreach)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	hs, err := histories(ctx, st.temporal, l.ids)
	if err != nil {
		return err
	}
	res.LaunchFirstTask, res.LaunchFirstEmail = firstLatencies(hs, mail)
	logf("launch: accepted in %.2f s, %d started in %.1f s; first task p99 %.2f s, first email p50 %.2f s",
		res.LaunchAccepted, l.Started, res.LaunchAllStarted, res.LaunchFirstTask.P99, res.LaunchFirstEmail.P50)
	return nil
}

// firstLatencies are how long each workflow waited for its first task, and for its first
// email after its start.
func firstLatencies(hs []lifecycleHistory, mail *mailboxes) (tasks, emails durations) {
	first := mail.first(isOutreach)
	var t, e []time.Duration
	for _, h := range hs {
		t = append(t, h.firstTask)
		if at, ok := first[h.id]; ok {
			e = append(e, at.Sub(h.started))
		}
	}
	return summarise(t), summarise(e)
}

// lifecycles launches cfg.Creators creators and drives each to completed with
// cfg.InFlight drivers at once.
func lifecycles(ctx context.Context, st *stack, mail *mailboxes, cfg Config, res *Result, logf logFunc) error {
	var camp struct{ ID string }
	if err := st.api.want(ctx, "POST", "/v1/campaigns", st.keys.ops, campaignBody("Bench lifecycles"), &camp, http.StatusCreated); err != nil {
		return fmt.Errorf("create the campaign: %w", err)
	}
	logf("creating %d creators and their roster", cfg.Creators)
	creators, err := roster(ctx, st.api, st.keys.ops, camp.ID, "life", cfg.Creators)
	if err != nil {
		return err
	}
	byCreator := map[string]int{}
	for i, id := range creators {
		byCreator[id] = i
	}
	follow, stopFollowing := context.WithCancel(ctx)
	defer stopFollowing()
	stages := newStages()
	go stages.follow(follow, st.api, st.keys.auditor, camp.ID, 300*time.Millisecond)

	logf("launching %d creators; %d drivers take them through as they start", cfg.Creators, cfg.InFlight)
	cpu0, err := st.cpu()
	if err != nil {
		return err
	}
	self0 := selfCPU()
	d := &driver{api: st.api, keys: st.keys, mail: mail, stages: stages, posts: st.posts, prefix: "life", byID: map[string]int{}}
	t0 := time.Now()
	launched := make(chan error, 1)
	var l launchResult
	go func() {
		var err error
		l, err = launch(ctx, st.api, st.keys.ops, camp.ID, nil)
		launched <- err
	}()
	// Drivers take collaborations as the launch starts them (the read model lists each
	// from its start), so the launch's pace and the lifecycles overlap as in a campaign.
	next := make(chan string)
	feed := make(chan error, 1)
	go func() {
		defer close(next)
		sent, expected := 0, -1
		for expected < 0 || sent < expected {
			for _, id := range stages.since(sent) {
				d.setCreator(id, byCreator)
				select {
				case next <- id:
				case <-ctx.Done():
					feed <- ctx.Err()
					return
				}
				sent++
			}
			select {
			case err := <-launched:
				if err != nil {
					feed <- err
					return
				}
				expected = l.Started
			case <-ctx.Done():
				feed <- ctx.Err()
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
		feed <- nil
	}()
	done, derr := d.driveAll(ctx, next, cfg.InFlight)
	if err := <-feed; err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	wall := time.Since(t0)
	cpu1, err := st.cpu()
	if err != nil {
		return err
	}
	res.CPU.Dev = (cpu1 - cpu0).Seconds() / float64(len(done))
	res.CPU.Bench = (selfCPU() - self0).Seconds() / float64(len(done))
	res.Lifecycles, res.LifecycleWall = len(done), wall.Seconds()
	res.LifecyclesPerSec = float64(len(done)) / wall.Seconds()
	logf("%d lifecycles completed in %.1f s: %.2f/s (launch all started in %.1f s)", len(done), wall.Seconds(), res.LifecyclesPerSec, l.AllStarted.Seconds())

	hs, err := histories(ctx, st.temporal, l.ids)
	if err != nil {
		return err
	}
	var spans []time.Duration
	for _, h := range hs {
		if at, ok := done[h.id]; ok {
			spans = append(spans, at.Sub(h.started))
		}
	}
	res.FirstTask, res.FirstEmail = firstLatencies(hs, mail)
	res.LifecycleTime = summarise(spans)
	res.History = figures(hs)
	res.BareProfile = medianProfile(hs)
	logf("first workflow task p50 %.2f s p99 %.2f s; first email p50 %.2f s p99 %.2f s; %d events, %d bytes per lifecycle",
		res.FirstTask.P50, res.FirstTask.P99, res.FirstEmail.P50, res.FirstEmail.P99, res.History.Events, res.History.Bytes)
	return nil
}

// bare runs the bare workflow with the median collabflow lifecycle's profile.
func bare(ctx context.Context, st *stack, cfg Config, res *Result, logf logFunc) error {
	logf("bare workflow: %d lifecycles, %d at once, each %d activities, %d local activities, %d updates, timers %v",
		cfg.Creators, cfg.InFlight, res.BareProfile.Activities, res.BareProfile.LocalActivities, res.BareProfile.Updates, res.BareProfile.Timers)
	cpu0, err := st.cpu()
	if err != nil {
		return err
	}
	self0 := selfCPU()
	wall, ids, err := runBare(ctx, st.temporal, res.BareProfile, strconv.FormatInt(time.Now().Unix(), 36), cfg.Creators, cfg.InFlight)
	if err != nil {
		return err
	}
	cpu1, err := st.cpu()
	if err != nil {
		return err
	}
	res.CPU.DevBare = (cpu1 - cpu0).Seconds() / float64(cfg.Creators)
	res.CPU.BenchBare = (selfCPU() - self0).Seconds() / float64(cfg.Creators)
	res.BareWall = wall.Seconds()
	res.BarePerSec = float64(cfg.Creators) / wall.Seconds()
	if res.BarePerSec > 0 {
		res.Ratio = res.LifecyclesPerSec / res.BarePerSec
	}
	hs, err := histories(ctx, st.temporal, ids)
	if err != nil {
		return err
	}
	res.BareHistory = figures(hs)
	if res.BareHistory.Bytes > 0 {
		res.BytesRatio = float64(res.History.Bytes) / float64(res.BareHistory.Bytes)
	}
	logf("bare: %.2f lifecycles/s (%.1f s); collabflow/bare %.2f", res.BarePerSec, res.BareWall, res.Ratio)
	return nil
}

// latencyFigures compare API calls with the same SDK calls made directly on the same
// collaborations, p50/p99 in seconds.
type latencyFigures struct {
	Collaborations int       `json:"collaborations"`
	Clients        int       `json:"clients"`
	UpdateAPI      durations `json:"update_api"`
	UpdateSDK      durations `json:"update_sdk"`
	QueryAPI       durations `json:"query_api"`
	QuerySDK       durations `json:"query_sdk"`
	UpdateP99Ratio float64   `json:"update_p99_ratio"`
	QueryP99Ratio  float64   `json:"query_p99_ratio"`
}

// latency times an update (a creator's counter-offer) and a query (the state) through
// the API and through the SDK directly, on collaborations in negotiating: 16 clients,
// 60 calls each per kind, after a warm-up round.
func latency(ctx context.Context, st *stack, mail *mailboxes, logf logFunc) (latencyFigures, error) {
	const collabs, clients, calls = 64, 16, 60
	f := latencyFigures{Collaborations: collabs, Clients: clients}
	var camp struct{ ID string }
	if err := st.api.want(ctx, "POST", "/v1/campaigns", st.keys.ops, campaignBody("Bench latency"), &camp, http.StatusCreated); err != nil {
		return f, err
	}
	if _, err := roster(ctx, st.api, st.keys.ops, camp.ID, "lat", collabs); err != nil {
		return f, err
	}
	l, err := launch(ctx, st.api, st.keys.ops, camp.ID, nil)
	if err != nil {
		return f, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, id := range l.ids {
		g.Go(func() error {
			if _, err := mail.wait(gctx, id, "the first outreach email", isOutreach); err != nil {
				return err
			}
			var s struct{ Stage string }
			return st.api.want(gctx, "POST", "/v1/collaborations/"+id+"/replies", st.keys.ops, map[string]string{"note": "yes"}, &s, http.StatusOK)
		})
	}
	if err := g.Wait(); err != nil {
		return f, fmt.Errorf("bring the latency set to negotiating: %w", err)
	}
	terms := contract.Terms{Deliverables: []contract.Deliverable{{Platform: "instagram", Format: "post", Count: 1}},
		Currency: "USD", FixedFee: 140000, DisclosureText: "#ad"}
	body := map[string]any{"from": "creator", "terms": terms}
	kinds := []struct {
		name string
		call func(ctx context.Context, id string) error
	}{
		{"update_api", func(ctx context.Context, id string) error {
			return st.api.want(ctx, "POST", "/v1/collaborations/"+id+"/offers", st.keys.ops, body, nil, http.StatusOK)
		}},
		{"update_sdk", func(ctx context.Context, id string) error {
			h, err := st.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
				WorkflowID: id, UpdateID: uuid.NewString(), UpdateName: workflows.UpdateOffer, WaitForStage: client.WorkflowUpdateStageCompleted,
				Args: []any{workflows.OfferRequest{Actor: workflows.Actor{Name: "bench", Role: "ops", RequestID: uuid.NewString()},
					From: workflows.FromCreator, Terms: terms}},
			})
			if err != nil {
				return err
			}
			var s workflows.CollaborationState
			return h.Get(ctx, &s)
		}},
		{"query_api", func(ctx context.Context, id string) error {
			return st.api.want(ctx, "GET", "/v1/collaborations/"+id, st.keys.auditor, nil, nil, http.StatusOK)
		}},
		{"query_sdk", func(ctx context.Context, id string) error {
			v, err := st.temporal.QueryWorkflow(ctx, id, "", workflows.QueryState)
			if err != nil {
				return err
			}
			var s workflows.CollaborationState
			return v.Get(&s)
		}},
	}
	measured := map[string][]time.Duration{}
	logf("latency: %d collaborations in negotiating, %d clients × %d calls per kind", collabs, clients, calls)
	for round := range 2 {
		for _, k := range kinds {
			var mu sync.Mutex
			var took []time.Duration
			g, gctx := errgroup.WithContext(ctx)
			for c := range clients {
				g.Go(func() error {
					for i := range calls {
						id := l.ids[(c*calls+i)%len(l.ids)]
						t := time.Now()
						if err := k.call(gctx, id); err != nil {
							return fmt.Errorf("%s on %s: %w", k.name, id, err)
						}
						mu.Lock()
						took = append(took, time.Since(t))
						mu.Unlock()
					}
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				return f, err
			}
			if round == 1 {
				measured[k.name] = took
			}
		}
	}
	f.UpdateAPI, f.UpdateSDK = summarise(measured["update_api"]), summarise(measured["update_sdk"])
	f.QueryAPI, f.QuerySDK = summarise(measured["query_api"]), summarise(measured["query_sdk"])
	if f.UpdateSDK.P99 > 0 {
		f.UpdateP99Ratio = f.UpdateAPI.P99 / f.UpdateSDK.P99
	}
	if f.QuerySDK.P99 > 0 {
		f.QueryP99Ratio = f.QueryAPI.P99 / f.QuerySDK.P99
	}
	logf("latency: update p99 API %.3f s / SDK %.3f s, query p99 API %.3f s / SDK %.3f s",
		f.UpdateAPI.P99, f.UpdateSDK.P99, f.QueryAPI.P99, f.QuerySDK.P99)
	return f, nil
}

// openMany launches creators until cfg.Open collaborations are open, waits until each
// sent its first email, and reads the dev process's memory and the pipeline's latency.
func openMany(ctx context.Context, st *stack, mail *mailboxes, cfg Config, res *Result, logf logFunc) error {
	var camp struct{ ID string }
	if err := st.api.want(ctx, "POST", "/v1/campaigns", st.keys.ops, campaignBody("Bench open"), &camp, http.StatusCreated); err != nil {
		return err
	}
	// Completed lifecycles are closed; the launch's collaborations and the latency set
	// stay open.
	already := mail.count(isOutreach) - res.Lifecycles
	n := max(0, cfg.Open-already)
	logf("opening %d more collaborations", n)
	creators, err := roster(ctx, st.api, st.keys.ops, camp.ID, "open", n)
	if err != nil {
		return err
	}
	t0 := time.Now()
	for lo := 0; lo < n; lo += 5000 {
		if _, err := launch(ctx, st.api, st.keys.ops, camp.ID, creators[lo:min(n, lo+5000)]); err != nil {
			return err
		}
	}
	res.OpenAllStarted = time.Since(t0).Seconds()
	logf("opened %d in %.1f s; waiting for their first emails", n, res.OpenAllStarted)
	for mail.count(isOutreach) < already+n+res.Lifecycles {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
	var took []time.Duration
	for range 50 {
		t := time.Now()
		if err := st.api.want(ctx, "GET", "/v1/campaigns/"+camp.ID+"/pipeline", st.keys.auditor, nil, nil, http.StatusOK); err != nil {
			return err
		}
		took = append(took, time.Since(t))
	}
	res.Pipeline = summarise(took)
	if res.RSSOpen, res.RSSPeak, err = st.memory(); err != nil {
		return err
	}
	logf("%d open: RSS %d MiB (peak %d MiB); pipeline p50 %.1f ms p99 %.1f ms", cfg.Open, res.RSSOpen>>20, res.RSSPeak>>20,
		res.Pipeline.P50*1000, res.Pipeline.P99*1000)
	return nil
}

// selfCPU is the CPU time this process has used: the drivers, or the bare worker.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
