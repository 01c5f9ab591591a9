package workflows

import (
	"time"
)

// N-3: sent_after_stop counts outreach emails only. The webhook once signalled it for any
// stopped row; a notice or an ops notice the workflow stopped is not an outreach email.
func (s *collaborationSuite) TestSentAfterStopCountsOnlyOutreachEmails() {
	s.sendErr = func() error { return outage }
	id := "default-test-workflow-id"
	s.update(2*time.Minute, UpdateRecordReply, "r", ReplyRequest{Actor: ops})
	for i, key := range []string{id + "/contract/1", id + "/ops/attention/2", "collab-other/outreach/1", id + "/outreach/1", id + "/outreach/1"} {
		s.signal(150*time.Second+time.Duration(i)*time.Second, OutreachEvent{Kind: OutreachSentAfterStop, MessageKey: key, Ref: "provider event x"})
	}
	s.update(3*time.Minute, UpdateCancel, "c", CancelRequest{Actor: ops, Reason: "test over"})

	s.env.ExecuteWorkflow(Collaboration, input())

	final := s.result()
	s.Equal(1, final.Outreach.EmailsSent, "only the outreach email is counted, once: %+v", final.Events)
	s.Equal(1, countEvents(final, EventEmailSent, "went out before it was stopped"))
	s.Equal(0, countEvents(final, EventEmailSent, "/contract/1"))
	s.Equal(0, countEvents(final, EventEmailSent, "/ops/"))
	s.Equal(0, countEvents(final, EventEmailSent, "collab-other/"), "another collaboration's email is not this one's")
}

// N-3: a key counted before Continue-As-New is not counted again by the next run.
func (s *collaborationSuite) TestSentAfterStopIsCountedOnceAcrossContinueAsNew() {
	key := "default-test-workflow-id/outreach/2"
	late := OutreachEvent{Kind: OutreachSentAfterStop, MessageKey: key, Ref: "provider event x"}
	next := s.continueInVerifying(func(at time.Duration) { s.signal(at+time.Minute, late) })
	s.Require().Equal(2, next.Resume.Outreach.EmailsSent, "the first email and the late one")

	s.SetupTest()
	s.mockDeal()
	s.signal(time.Minute, late)
	s.mustUpdate(time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})
	s.env.ExecuteWorkflow(Collaboration, next)

	final := s.result()
	s.Equal(2, final.Run)
	s.Equal(2, final.Outreach.EmailsSent, "the late email was counted again after Continue-As-New")
	s.Equal(1, countEvents(final, EventEmailSent, key+" went out before it was stopped"))
}

// N-5: a bounce or drop of an ops notice (an escalation emailed during outreach) stops
// nothing: the sequence goes on, and only its own emails' news ends it.
func (s *collaborationSuite) TestOpsNoticeNewsDoesNotStopOutreach() {
	for _, kind := range []string{OutreachBounce, OutreachDropped, OutreachSpamReport} {
		s.Run(kind, func() {
			s.SetupTest()
			// After the second email (day 3) and before the third (day 7).
			s.signal(4*day, OutreachEvent{Kind: kind, MessageKey: "default-test-workflow-id/ops/attention/3", Ref: "provider event ev-ops"})
			s.signal(5*day, OutreachEvent{Kind: kind, MessageKey: "default-test-workflow-id/contract/1", Ref: "provider event ev-notice"})

			s.env.ExecuteWorkflow(Collaboration, input())

			final := s.result()
			s.Len(s.sent, 3, "the sequence stopped for news of another email")
			s.Equal(StageNoResponse, final.Stage)
			s.Equal(OutreachNoResponse, final.Outreach.Status, "stopped by: %s", final.Outreach.StopReason)
			s.Equal(2, countEvents(final, EventEmailNews, kind+" on default-test-workflow-id/"), "the news is on record")
		})
	}
}

// The key of an outreach email is what IsOutreachKey takes; notices and ops notices are not.
func (s *collaborationSuite) TestIsOutreachKey() {
	for key, want := range map[string]bool{
		"collab-a-b/outreach/1":         true,
		"collab-a-b/outreach/12":        true,
		"collab-a-b/contract/1":         false,
		"collab-a-b/ops/attention/3":    false,
		"collab-a-b/ops/outreach/3":     false,
		"collab-a-b/outreach/":          false,
		"collab-a-b/outreach/1x":        false,
		"/outreach/1":                   false,
		"collab-a-b/outreach/1/extra":   false,
		"":                              false,
		"collab-a-b/rights/tv-ended":    false,
		"collab-a-b/post_reminder/2":    false,
		"collab-a-b/outreach/ops/1":     false,
		"collab-a-b/draft-overdue/1":    false,
		"collab-a-b/contract_reminder/": false,
	} {
		s.Equal(want, IsOutreachKey(key), key)
	}
}
