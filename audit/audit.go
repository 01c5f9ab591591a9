// Package audit reads a collaboration's full Temporal history (every run of a chain of
// Continue-As-New), writes and reads it in the JSON format of `temporal workflow show
// --output json`, replays it against the current workflow code, and turns the workflow's
// own record into a timeline an auditor can read.
package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/store"
	cfworker "github.com/collabflow/collabflow/worker"
	"github.com/collabflow/collabflow/workflows"
)

// Run is the history of one run.
type Run struct {
	RunID   string
	History *historypb.History
}

// Fetch returns every run of a workflow, oldest first, by following each run's
// "continued from" link back from the latest.
func Fetch(ctx context.Context, c client.Client, workflowID string) ([]Run, error) {
	desc, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", workflowID, err)
	}
	var runs []Run
	runID := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	for range 1000 {
		hist, err := fetchRun(ctx, c, workflowID, runID)
		if err != nil {
			return nil, err
		}
		if len(hist.Events) == 0 {
			return nil, fmt.Errorf("history of %s run %q is empty", workflowID, runID)
		}
		started := hist.Events[0].GetWorkflowExecutionStartedEventAttributes()
		runs = append([]Run{{RunID: runID, History: hist}}, runs...)
		prev := started.GetContinuedExecutionRunId()
		if prev == "" {
			return runs, nil
		}
		runID = prev
	}
	return nil, errors.New("more than 1000 runs")
}

// Histories lists the runs' histories, in order, for Replay.
func Histories(runs []Run) []*historypb.History {
	out := make([]*historypb.History, len(runs))
	for i, r := range runs {
		out[i] = r.History
	}
	return out
}

func fetchRun(ctx context.Context, c client.Client, workflowID, runID string) (*historypb.History, error) {
	iter := c.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	hist := &historypb.History{}
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", workflowID, err)
		}
		hist.Events = append(hist.Events, ev)
	}
	return hist, nil
}

// MarshalRun writes one run as `temporal workflow show --output json` does:
// {"events":[…]} with camelCase keys.
func MarshalRun(h *historypb.History) ([]byte, error) {
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode history: %w", err)
	}
	return b, nil
}

// Export is every run of a collaboration; each entry of runs is one run in the official
// format, readable by `temporal workflow show`'s consumers and the SDK replayer.
type Export struct {
	WorkflowID string            `json:"workflowId"`
	Runs       []json.RawMessage `json:"runs"`
}

// MarshalExport writes all runs of a workflow.
func MarshalExport(workflowID string, runs []Run) ([]byte, error) {
	e := Export{WorkflowID: workflowID}
	for _, r := range runs {
		b, err := MarshalRun(r.History)
		if err != nil {
			return nil, err
		}
		e.Runs = append(e.Runs, b)
	}
	return json.MarshalIndent(e, "", "  ")
}

// Parse reads a history file: one run ({"events":[…]}) or an Export ({"runs":[…]}).
// untilEvent > 0 keeps the last run's events up to that id and the rest of its workflow
// task.
func Parse(data []byte, untilEvent int64) ([]*historypb.History, error) {
	var probe struct {
		Runs []json.RawMessage `json:"runs"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("history file is not JSON: %w", err)
	}
	raw := probe.Runs
	if raw == nil {
		raw = []json.RawMessage{data}
	}
	var out []*historypb.History
	for i, r := range raw {
		h, err := client.HistoryFromJSON(bytes.NewReader(r), client.HistoryJSONOptions{})
		if err != nil {
			return nil, fmt.Errorf("run %d: %w", i+1, err)
		}
		if i == len(raw)-1 && untilEvent > 0 {
			h.Events = toTaskBoundary(h.Events, untilEvent)
		}
		if len(h.Events) == 0 {
			return nil, fmt.Errorf("run %d has no events", i+1)
		}
		out = append(out, h)
	}
	return out, nil
}

// toTaskBoundary cuts a history after event until, extended to the end of that workflow
// task's effects (just before the next task is scheduled): a cut inside a task, between an
// update's acceptance and its completion say, is not a state the workflow was ever in.
func toTaskBoundary(events []*historypb.HistoryEvent, until int64) []*historypb.HistoryEvent {
	for i, ev := range events {
		if ev.GetEventId() > until && ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED {
			return events[:i]
		}
	}
	return events
}

// Result is the outcome of replaying a collaboration's runs.
type Result struct {
	Runs          int    `json:"runs"`
	Events        int    `json:"events"`
	Deterministic bool   `json:"deterministic"`
	Mismatch      string `json:"mismatch,omitempty"`
	// Final is the state the last run completed with, when it did.
	Final *workflows.CollaborationState `json:"final,omitempty"`
}

// Summary is the one line the replay command prints.
func (r Result) Summary() string {
	if r.Deterministic {
		return fmt.Sprintf("replayed %d events in %d run(s): deterministic", r.Events, r.Runs)
	}
	return fmt.Sprintf("replay failed after %d run(s): %s", r.Runs, r.Mismatch)
}

// Replay replays each run against the current workflow code and stops at the first
// mismatch, whose message names the event and the command that differ. dc decodes the
// payloads (the codec's converter when they are encrypted); nil is Temporal's default.
func Replay(dc converter.DataConverter, histories []*historypb.History) Result {
	res := Result{Deterministic: true}
	replayer, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: orDefault(dc),
		Interceptors: []interceptor.WorkerInterceptor{&cfworker.RefusePlain{DataConverter: dc}}})
	if err != nil {
		return Result{Mismatch: err.Error()}
	}
	workflows.Register(replayer)
	quiet := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	for _, h := range histories {
		res.Runs++
		if err := replayer.ReplayWorkflowHistory(quiet, h); err != nil {
			res.Deterministic, res.Mismatch = false, err.Error()
			return res
		}
		res.Events += len(h.Events)
	}
	res.Final = finalState(orDefault(dc), histories[len(histories)-1])
	return res
}

// orDefault is dc, or Temporal's default converter when dc is nil.
func orDefault(dc converter.DataConverter) converter.DataConverter {
	if dc == nil {
		return converter.GetDefaultDataConverter()
	}
	return dc
}

// StateAt is the collaboration's full state at an event time, as the workflow itself held
// it: the run that was current then is replayed against the workflow code up to the last
// workflow task completed by then, and its state query is answered from the replayed
// workflow. It returns nil when no run had started by then. at zero means the end of
// the history.
func StateAt(dc converter.DataConverter, histories []*historypb.History, at time.Time) *workflows.CollaborationState {
	var run *historypb.History
	for _, h := range histories {
		if len(h.Events) > 0 && (at.IsZero() || !h.Events[0].GetEventTime().AsTime().After(at)) {
			run = h
		}
	}
	if run == nil {
		return nil
	}
	events := run.Events
	if !at.IsZero() {
		// The state then is the one the last workflow task completed by then left: a task
		// that started earlier but completed later was not yet the workflow's state.
		var until int64
		for _, ev := range events {
			if ev.GetEventTime().AsTime().After(at) {
				break
			}
			if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
				until = ev.GetEventId()
			}
		}
		if until == 0 {
			return nil
		}
		events = toTaskBoundary(events, until)
	}
	return replayState(orDefault(dc), &historypb.History{Events: events})
}

// replayState replays one run's history and reads the state the workflow holds at its
// end through the state query's handler, which an interceptor keeps during the replay.
func replayState(dc converter.DataConverter, h *historypb.History) *workflows.CollaborationState {
	capture := &stateCapture{}
	replayer, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
		DataConverter: dc,
		Interceptors:  []interceptor.WorkerInterceptor{&cfworker.RefusePlain{DataConverter: dc}, capture},
	})
	if err != nil {
		return nil
	}
	workflows.Register(replayer)
	quiet := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	if err := replayer.ReplayWorkflowHistory(quiet, h); err != nil || capture.handler == nil {
		return nil
	}
	st, err := capture.handler()
	if err != nil {
		return nil
	}
	return &st
}

// stateCapture keeps the state query's handler of the workflow it intercepts.
type stateCapture struct {
	interceptor.WorkerInterceptorBase
	handler func() (workflows.CollaborationState, error)
}

// InterceptWorkflow wraps the workflow so that its query registrations pass through us.
func (s *stateCapture) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	in := &captureInbound{root: s}
	in.Next = next
	return in
}

type captureInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	root *stateCapture
}

func (i *captureInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	out := &captureOutbound{root: i.root}
	out.Next = outbound
	return i.Next.Init(out)
}

type captureOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	root *stateCapture
}

func (o *captureOutbound) SetQueryHandler(ctx workflow.Context, name string, handler any) error {
	if h, ok := handler.(func() (workflows.CollaborationState, error)); ok && name == workflows.QueryState {
		o.root.handler = h
	}
	return o.Next.SetQueryHandler(ctx, name, handler)
}

// finalState decodes the result of a completed run.
func finalState(dc converter.DataConverter, h *historypb.History) *workflows.CollaborationState {
	last := h.Events[len(h.Events)-1]
	done := last.GetWorkflowExecutionCompletedEventAttributes()
	if done == nil {
		return nil
	}
	var st workflows.CollaborationState
	if err := dc.FromPayloads(done.GetResult(), &st); err != nil {
		return nil
	}
	return &st
}

// Entry is one line of the timeline.
type Entry struct {
	At        time.Time        `json:"at"`
	From      workflows.Stage  `json:"from,omitempty"`
	To        workflows.Stage  `json:"to,omitempty"`
	What      string           `json:"what"`
	Detail    string           `json:"detail,omitempty"`
	Actor     *workflows.Actor `json:"actor,omitempty"`
	RequestID string           `json:"request_id,omitempty"`
}

// Stay is how long the collaboration spent in a stage.
type Stay struct {
	Stage    workflows.Stage `json:"stage"`
	From     time.Time       `json:"from"`
	Until    time.Time       `json:"until,omitzero"`
	Duration string          `json:"duration"`
}

// Timeline is the readable account of a collaboration.
type Timeline struct {
	ID      string          `json:"id"`
	Stage   workflows.Stage `json:"stage"`
	AsOf    time.Time       `json:"as_of,omitzero"`
	Entries []Entry         `json:"entries"`
	Stages  []Stay          `json:"stages"`
	// State is the full state as history recorded it at AsOf (see StateAt), when asked
	// for a past time.
	State *workflows.CollaborationState `json:"state,omitempty"`
}

// BuildTimeline turns the workflow's record into a timeline, up to at when it is set (the
// state as it was then). now closes the current stage's duration.
func BuildTimeline(st workflows.CollaborationState, at, now time.Time) Timeline {
	t := Timeline{ID: st.ID, AsOf: at, Entries: []Entry{}, Stages: []Stay{}}
	end := now
	if !at.IsZero() {
		end = at
	}
	for _, e := range st.Events {
		if !at.IsZero() && e.At.After(at) {
			break
		}
		entry := Entry{At: e.At, From: e.From, To: e.To, What: strings.ReplaceAll(e.Kind, "_", " "), Detail: e.Detail, Actor: e.Actor}
		if e.Actor != nil {
			entry.RequestID = e.Actor.RequestID
		}
		t.Entries = append(t.Entries, entry)
		if e.To != "" {
			if n := len(t.Stages); n > 0 {
				t.Stages[n-1].Until = e.At
				t.Stages[n-1].Duration = e.At.Sub(t.Stages[n-1].From).String()
			}
			t.Stages = append(t.Stages, Stay{Stage: e.To, From: e.At})
			t.Stage = e.To
		}
	}
	if n := len(t.Stages); n > 0 && t.Stages[n-1].Until.IsZero() {
		last := &t.Stages[n-1]
		if last.Stage.Terminal() {
			last.Duration = "0s"
		} else {
			last.Duration = end.Sub(last.From).Round(time.Second).String()
		}
	}
	return t
}

// CollaborationLister lists a campaign's collaborations; *store.Store implements it.
type CollaborationLister interface {
	ListCollaborations(ctx context.Context, f store.CollaborationFilter) ([]store.Collaboration, string, error)
}

// ExportCampaign writes every collaboration of a campaign to dir as <id>.json (all runs),
// so that audits outlive the server's retention. It returns how many it wrote.
func ExportCampaign(ctx context.Context, db CollaborationLister, c client.Client, campaignID, dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, fmt.Errorf("create %s: %w", dir, err)
	}
	n := 0
	f := store.CollaborationFilter{CampaignID: campaignID, Limit: 200}
	for {
		list, next, err := db.ListCollaborations(ctx, f)
		if err != nil {
			return n, err
		}
		for _, collab := range list {
			runs, err := Fetch(ctx, c, collab.ID)
			if err != nil {
				return n, err
			}
			b, err := MarshalExport(collab.ID, runs)
			if err != nil {
				return n, err
			}
			if err := os.WriteFile(filepath.Join(dir, collab.ID+".json"), b, 0o640); err != nil {
				return n, fmt.Errorf("write export: %w", err)
			}
			n++
		}
		if next == "" {
			return n, nil
		}
		f.After = next
	}
}
