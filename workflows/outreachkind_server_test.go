package workflows_test

import (
	"strings"
	"testing"
	"time"

	"github.com/collabflow/collabflow/outreach"
	"github.com/collabflow/collabflow/workflows"
)

// TestOpsNoticeNewsOnTheServer drives the outreach-kind-1 path on the real server: a
// bounce of an ops notice during outreach stops nothing, a late-send word for a notice
// counts nothing, one for an outreach email counts once. With COLLABFLOW_RECORD_HISTORIES=1
// (run this test alone) its history joins the corpus as
// outreach-kind-ops-notice-bounce.json.
func TestOpsNoticeNewsOnTheServer(t *testing.T) {
	c := temporalClient(t)
	f := newFakes()
	startWorkers(t, c, f)
	s := newScenario(t, f, "outreach-kind", workflows.CollaborationInput{Timings: quick(), Opening: dealTerms(),
		Outreach: workflows.OutreachPlan{Steps: 2, Window: outreach.Always(), Timezone: "UTC"}})
	s.until("the first email", func(st workflows.CollaborationState) bool { return st.Outreach.EmailsSent == 1 })
	now := func() time.Time { return time.Now().UTC() }
	s.signal(workflows.OutreachEvent{Kind: workflows.OutreachBounce, At: now(), MessageKey: s.id + "/ops/attention/1", Detail: "bounce", Ref: "provider event ops-1"})
	st := s.until("the ops notice's news", func(st workflows.CollaborationState) bool { return hasEvent(st, workflows.EventEmailNews) })
	if st.Stage != workflows.StageOutreach || st.Outreach.Status != workflows.OutreachRunning {
		t.Fatalf("an ops notice's bounce moved outreach: %s, %s (%s)", st.Stage, st.Outreach.Status, st.Outreach.StopReason)
	}
	s.update(workflows.UpdateRecordReply, workflows.ReplyRequest{Actor: opsActor})
	for _, key := range []string{s.id + "/contract/1", s.id + "/outreach/2", s.id + "/outreach/2"} {
		s.signal(workflows.OutreachEvent{Kind: workflows.OutreachSentAfterStop, At: now(), MessageKey: key, Ref: "provider event late"})
	}
	s.until("the late outreach email counted", func(st workflows.CollaborationState) bool { return st.Outreach.EmailsSent == 2 })
	s.cancel()
	final := s.result()
	if final.Outreach.EmailsSent != 2 {
		t.Errorf("emails sent %d, want the first and the late one", final.Outreach.EmailsSent)
	}
	late := 0
	for _, e := range final.Events {
		if e.Kind == workflows.EventEmailSent && strings.Contains(e.Detail, "went out before it was stopped") {
			late++
		}
	}
	if late != 1 {
		t.Errorf("%d late sends recorded, want 1: %+v", late, final.Events)
	}
	s.events("outreach-kind-ops-notice-bounce.json")
}
