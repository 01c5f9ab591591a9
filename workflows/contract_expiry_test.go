package workflows

import (
	"context"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/collabflow/collabflow/activities"
)

// N-8: the contract's expiry bounds its emails. A contract email retried days late leaves
// the reminder at a day before the expiry; a failed contract or reminder email is settled
// by the expiry, so that nothing is sent for a contract that has expired.
func (s *collaborationSuite) TestContractEmailsRespectTheExpiry() {
	const week = 7 * day
	type attempt struct {
		kind string
		at   time.Duration
		sent bool
	}
	tests := []struct {
		name string
		// fails decides whether an attempt of kind at offset d (from contracting) fails.
		fails func(kind string, d time.Duration) bool
		// ops are the decisions ops send, at offsets from contracting.
		ops map[time.Duration]string
		// want are the attempts of contract emails.
		want []attempt
	}{
		{name: "a contract email retried three days late; the reminder keeps its day",
			fails: func(kind string, d time.Duration) bool { return kind == activities.NoticeContract && d < 3*day },
			ops:   map[time.Duration]string{3 * day: ResolveRetry},
			want: []attempt{{activities.NoticeContract, 0, false}, {activities.NoticeContract, 3 * day, true},
				{activities.NoticeContractReminder, week - day, true}}},
		{name: "a failed reminder is settled by the expiry; a later retry sends nothing",
			fails: func(kind string, _ time.Duration) bool { return kind == activities.NoticeContractReminder },
			ops:   map[time.Duration]string{week + day: ResolveRetry},
			want:  []attempt{{activities.NoticeContract, 0, true}, {activities.NoticeContractReminder, week - day, false}}},
		{name: "a contract email that keeps failing is settled by the expiry",
			fails: func(kind string, _ time.Duration) bool { return kind == activities.NoticeContract },
			want:  []attempt{{activities.NoticeContract, 0, false}}},
	}
	for _, tt := range tests {
		s.Run(tt.name, func() {
			s.SetupTest()
			var attempts []attempt
			var contracting time.Duration
			// Registered before mockDeal's, so that it matches first.
			s.env.OnActivity(a.SendNotice, mock.Anything, mock.MatchedBy(func(in activities.NoticeInput) bool {
				return in.Kind == activities.NoticeContract || in.Kind == activities.NoticeContractReminder
			})).Return(func(_ context.Context, in activities.NoticeInput) (activities.SendEmailResult, error) {
				d := s.env.Now().Sub(s.start) - contracting
				failed := tt.fails(in.Kind, d)
				attempts = append(attempts, attempt{in.Kind, d, !failed})
				if failed {
					return activities.SendEmailResult{Status: activities.SendFailed, Reason: "550 mailbox unavailable"}, nil
				}
				return activities.SendEmailResult{Status: activities.SendSent}, nil
			})
			s.mockDeal()
			at := s.driveTo(StageContracting)
			contracting = at
			for d, decision := range tt.ops {
				// A decision after the expiry finds nothing to decide: it may be refused.
				s.ask(at+d, UpdateResolve, ResolveRequest{Actor: ops, Decision: decision})
			}
			s.at(at+week+time.Minute, func() {
				st := s.query()
				s.Equal(StageNegotiating, st.Stage, "the contract expired")
				s.Nil(st.Attention, "nothing waits for ops about an expired contract")
			})
			s.mustUpdate(at+week+2*day, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

			s.env.ExecuteWorkflow(Collaboration, dealInput())

			s.Equal(StageCancelled, s.result().Stage)
			s.Equal(tt.want, attempts)
		})
	}
}
