package workflows

import (
	"time"
)

// N-7: a send window that cannot be looked up (a time zone the worker's zone database
// refuses) does not fail the run: ops are asked, a retry looks again, an override sends
// without the window, and a reply or cancel meanwhile settles it.
func (s *collaborationSuite) TestSendWindowLookupFailureEscalates() {
	tests := []struct {
		name string
		// act runs ops' or the creator's part after the first escalation (at 1h).
		act       func()
		wantStage Stage
		wantSent  []time.Duration
		// wantEscalations counts the send_window escalations.
		wantEscalations int
	}{
		{name: "retry, then override sends without the window", act: func() {
			s.mustUpdate(2*time.Hour, UpdateResolve, ResolveRequest{Actor: ops, Decision: ResolveRetry})
			s.at(2*time.Hour+time.Minute, func() {
				st := s.query()
				s.Require().NotNil(st.Attention, "the lookup failed again")
				s.Equal("send_window", st.Attention.Step)
			})
			s.mustUpdate(3*time.Hour, UpdateResolve, ResolveRequest{Actor: ops, Decision: ResolveOverride, Reason: "send now"})
		}, wantStage: StageNoResponse, wantSent: []time.Duration{3 * time.Hour}, wantEscalations: 2},
		{name: "cancel", act: func() {
			s.mustUpdate(2*time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "wrong creator"})
		}, wantStage: StageCancelled, wantEscalations: 1},
		{name: "a reply settles it", act: func() {
			s.mustUpdate(2*time.Hour, UpdateRecordReply, ReplyRequest{Actor: ops, NoteID: testNoteID})
			s.mustUpdate(3*time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})
		}, wantStage: StageCancelled, wantEscalations: 1},
	}
	for _, tt := range tests {
		s.Run(tt.name, func() {
			s.SetupTest()
			s.mockDeal()
			in := dealInput()
			in.Outreach.Timezone = "Mars/Olympus_Mons"
			s.at(time.Hour, func() {
				st := s.query()
				s.Require().NotNil(st.Attention, "the failed lookup waits for ops")
				s.Equal("send_window", st.Attention.Step)
				s.Contains(st.Attention.Reason, "Mars/Olympus_Mons")
				s.True(st.Attention.Overridable)
			})
			tt.act()

			s.env.ExecuteWorkflow(Collaboration, in)

			final := s.result()
			s.Equal(tt.wantStage, final.Stage)
			var sent []time.Duration
			for _, at := range s.sentAt {
				sent = append(sent, at.Sub(s.start))
			}
			s.Equal(tt.wantSent, sent)
			escalations := 0
			for _, e := range final.Events {
				if e.Kind == EventEscalated {
					s.Contains(e.Detail, "send_window")
					escalations++
				}
			}
			s.Equal(tt.wantEscalations, escalations)
		})
	}
}
