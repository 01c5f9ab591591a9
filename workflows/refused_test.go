package workflows_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/audit"
	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/codec"
	"github.com/collabflow/collabflow/outreach"
	cfworker "github.com/collabflow/collabflow/worker"
	"github.com/collabflow/collabflow/workflows"
)

// opsNotes counts the ops notices of the fakes.
type opsNotes struct {
	*fakeActivities
	n atomic.Int32
}

func (o *opsNotes) NotifyOps(ctx context.Context, in activities.OpsNoteInput) (activities.SendEmailResult, error) {
	o.n.Add(1)
	return o.fakeActivities.NotifyOps(ctx, in)
}

// startCodecWorkers runs the workflow and the fakes as a production worker with codec
// keys does: its client's converter is dc, and RefusePlain reroutes the signals it refuses.
func startCodecWorkers(t *testing.T, dc converter.DataConverter, acts any) client.Client {
	t.Helper()
	c, err := client.NewClientFromExisting(temporalClient(t), client.Options{DataConverter: dc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	main := worker.New(c, workflows.TaskQueue, worker.Options{
		Interceptors: []interceptor.WorkerInterceptor{&cfworker.RefusePlain{DataConverter: dc}}})
	workflows.Register(main)
	main.RegisterActivity(acts)
	ws := []worker.Worker{main}
	for _, q := range []string{workflows.EmailTaskQueue, workflows.NoticeTaskQueue} {
		w := worker.New(c, q, worker.Options{DisableWorkflowWorker: true})
		w.RegisterActivity(acts)
		ws = append(ws, w)
	}
	for _, w := range ws {
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Stop)
	}
	return c
}

func testCodec(t *testing.T) *codec.Codec {
	t.Helper()
	c, err := codec.Parse("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// forgedReply is what the security review sent through the Web UI: a reply in plain JSON
// with an actor of its choosing.
func forgedReply() workflows.OutreachEvent {
	return workflows.OutreachEvent{Kind: workflows.OutreachReply, At: time.Now().UTC(), Detail: "email received",
		Ref: "forged via web ui", Actor: &workflows.Actor{Name: "ops-bob", Role: "ops", RequestID: "forged"}}
}

// startInOutreach starts a collaboration through start and waits for its first email,
// asking through c.
func startInOutreach(t *testing.T, start, c client.Client, f *fakeActivities, name string) *scenario {
	t.Helper()
	id := fmt.Sprintf("collab-test-%s-%d", name, time.Now().UnixNano())
	in := workflows.CollaborationInput{CampaignID: "camp", CreatorID: "crea", StartedBy: opsActor,
		Timings: campaigns.DefaultTimings(), Opening: dealTerms(),
		Outreach: workflows.OutreachPlan{Steps: 2, Window: outreach.Always(), Timezone: "UTC"}}
	if _, err := start.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: id, TaskQueue: workflows.TaskQueue}, workflows.CollaborationWorkflow, in); err != nil {
		t.Fatal(err)
	}
	s := &scenario{t: t, c: c, f: f, id: id}
	s.until("the first email", func(st workflows.CollaborationState) bool { return st.Outreach.EmailsSent == 1 })
	return s
}

// TestForgedPlainSignalIsRefused (M-N2): with codec keys set, a reply signal in plain JSON
// with a made-up actor, sent straight to Temporal by a client without the codec, is not
// applied: the collaboration stays in outreach and records the refusal (naming the
// signal, nothing of its payload) and ops are told. An update sent the same way is
// rejected. The history still replays (audit carries the same interceptor), and the API's
// own encrypted signal still works.
func TestForgedPlainSignalIsRefused(t *testing.T) {
	cd := testCodec(t)
	dc := cd.DataConverter()
	f := &opsNotes{fakeActivities: newFakes()}
	c := startCodecWorkers(t, dc, f)
	s := startInOutreach(t, c, c, f.fakeActivities, "forged")
	plain := temporalClient(t) // no codec: what the Temporal CLI or a Web UI sends

	if err := plain.SignalWorkflow(context.Background(), s.id, "", workflows.SignalOutreachEvent, forgedReply()); err != nil {
		t.Fatal(err)
	}
	st := s.until("the refusal recorded", func(st workflows.CollaborationState) bool { return hasEvent(st, workflows.EventInputRefused) })
	if st.Stage != workflows.StageOutreach || st.Outreach.Status != workflows.OutreachRunning || hasEvent(st, workflows.EventReplyReceived) {
		t.Fatalf("forged reply applied: stage %s, outreach %s, events %+v", st.Stage, st.Outreach.Status, st.Events)
	}
	for _, e := range st.Events {
		if e.Kind == workflows.EventInputRefused {
			if !strings.Contains(e.Detail, workflows.SignalOutreachEvent) || e.Actor != nil {
				t.Errorf("refusal event %+v: want the signal named and no actor", e)
			}
		}
		if e.Actor != nil && e.Actor.Name == "ops-bob" || strings.Contains(e.Detail, "forged via") {
			t.Errorf("the forged payload reached the record: %+v", e)
		}
	}
	s.until("ops told", func(workflows.CollaborationState) bool { return f.n.Load() == 1 })

	h, err := plain.UpdateWorkflow(context.Background(), client.UpdateWorkflowOptions{
		WorkflowID: s.id, UpdateName: workflows.UpdateRecordReply, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.ReplyRequest{Actor: workflows.Actor{Name: "ops-bob", Role: "ops", RequestID: "forged"}}},
	})
	if err == nil {
		err = h.Get(context.Background(), nil)
	}
	if err == nil || !strings.Contains(err.Error(), "not encrypted") {
		t.Fatalf("plain update: %v, want it rejected as not encrypted", err)
	}
	if st := s.state(); st.Stage != workflows.StageOutreach {
		t.Fatalf("after a plain update the stage is %s", st.Stage)
	}

	// The API's own signal, encrypted, is applied.
	s.signal(workflows.OutreachEvent{Kind: workflows.OutreachReply, At: time.Now().UTC(), Detail: "email received", Ref: "inbound/1"})
	s.inStage(workflows.StageNegotiating)
	s.cancel()
	s.result()

	runs, err := audit.Fetch(context.Background(), c, s.id)
	if err != nil {
		t.Fatal(err)
	}
	if res := audit.Replay(dc, audit.Histories(runs)); !res.Deterministic {
		t.Fatalf("the history with a refused signal does not replay: %s", res.Mismatch)
	}
	if st := audit.StateAt(dc, audit.Histories(runs), time.Time{}); st == nil || !hasEvent(*st, workflows.EventInputRefused) {
		t.Fatalf("audit's state misses the refusal: %+v", st)
	}
}

// TestAcceptPlainMigrationSwitch: with COLLABFLOW_CODEC_ACCEPT_PLAIN (AcceptingPlain), a
// history written before encryption (started and signalled in plain JSON) runs on, and
// encrypted input is taken as well.
func TestAcceptPlainMigrationSwitch(t *testing.T) {
	dc := testCodec(t).AcceptingPlain().DataConverter()
	f := newFakes()
	c := startCodecWorkers(t, dc, f)
	plain := temporalClient(t)
	s := startInOutreach(t, plain, c, f, "acceptplain")
	if err := plain.SignalWorkflow(context.Background(), s.id, "", workflows.SignalOutreachEvent,
		workflows.OutreachEvent{Kind: workflows.OutreachReply, At: time.Now().UTC(), Detail: "email received", Ref: "inbound/1"}); err != nil {
		t.Fatal(err)
	}
	st := s.inStage(workflows.StageNegotiating)
	if hasEvent(st, workflows.EventInputRefused) {
		t.Fatalf("the migration switch refused a plain signal: %+v", st.Events)
	}
	s.cancel()
}
