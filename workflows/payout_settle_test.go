package workflows

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/store"
)

// answer is what an update's caller got: nothing yet, a refusal or failure, or the state.
// sent is false when the run had closed before the update's time (the API answers 409).
type answer struct {
	sent  bool
	done  bool
	err   error
	state CollaborationState
}

// ask sends an update at d and records its answer, whatever it is.
func (s *collaborationSuite) ask(d time.Duration, name string, arg any) *answer {
	ans := &answer{}
	s.at(d, func() {
		ans.sent = true
		s.env.UpdateWorkflow(name, fmt.Sprintf("%s-%s", name, d), &testsuite.TestUpdateCallback{
			OnReject: func(err error) { ans.done, ans.err = true, err },
			OnAccept: func() {},
			OnComplete: func(v any, err error) {
				ans.done, ans.err = true, err
				if st, ok := v.(CollaborationState); ok && err == nil {
					ans.state = st
				}
			},
		}, arg)
	})
	return ans
}

// N-1: finance confirm the fee's ledger row and ops decide on the payout's escalation, in
// every order. Whatever the order, the run closes, every request is answered, the ledger
// row is paid once with the reference of whoever settled it first, and no provider payout
// follows a confirmation.
func (s *collaborationSuite) TestFeeSettledOnceWhateverOrderFinanceAndOpsAct() {
	const finRef, opsReason, providerRef = "bank transfer 42", "paid by bank transfer 42", "PROVIDER-7"
	byHand := "settled outside collabflow: " + opsReason
	confirm := PayoutConfirmation{Actor: Actor{Name: "fin", Role: "finance"}, PayoutID: "p-fee", Reference: finRef}
	override := ResolveRequest{Actor: ops, Decision: ResolveOverride, Reason: opsReason}
	retry := ResolveRequest{Actor: ops, Decision: ResolveRetry}
	cancel := CancelRequest{Actor: ops, Reason: "brand pulled out"}
	type step struct {
		name string
		arg  any
	}
	tests := []struct {
		name string
		// outage makes the provider fail (retryably) instead of refusing: the payout
		// activity is still retrying when finance confirm.
		outage bool
		// providerPays makes the provider pay from the first decision on (a retry would
		// reach it); otherwise it keeps refusing.
		providerPays bool
		steps        []step
		// after runs once the steps are sent: ops end the escalation a cancel left open.
		after     []step
		wantStage Stage
		// wantRef is the ledger row's reference at the end; wantPayments the ledger writes
		// of the workflow, wantProvider the payouts the provider made.
		wantRef      string
		wantPayments int
		wantProvider int
		// confirmed says finance's confirmation is taken; otherwise it is refused.
		confirmed bool
	}{
		{name: "confirm then override", steps: []step{{UpdateConfirmPayout, confirm}, {UpdateResolve, override}},
			wantStage: StageCompleted, wantRef: finRef, wantPayments: 1, confirmed: true},
		{name: "override then confirm", steps: []step{{UpdateResolve, override}, {UpdateConfirmPayout, confirm}},
			wantStage: StageCompleted, wantRef: byHand, wantPayments: 1},
		{name: "confirm then a retry that would succeed", providerPays: true, steps: []step{{UpdateConfirmPayout, confirm}, {UpdateResolve, retry}},
			wantStage: StageCompleted, wantRef: finRef, wantPayments: 1, confirmed: true},
		{name: "a retry the provider pays, then confirm", providerPays: true, steps: []step{{UpdateResolve, retry}, {UpdateConfirmPayout, confirm}},
			wantStage: StageCompleted, wantRef: providerRef, wantProvider: 1},
		{name: "confirm while the payout activity still retries", outage: true, providerPays: true, steps: []step{{UpdateConfirmPayout, confirm}},
			wantStage: StageCompleted, wantRef: finRef, wantPayments: 1, confirmed: true},
		{name: "confirm then cancel", steps: []step{{UpdateConfirmPayout, confirm}, {UpdateCancel, cancel}},
			wantStage: StageCompleted, wantRef: finRef, wantPayments: 1, confirmed: true},
		{name: "cancel then confirm", steps: []step{{UpdateCancel, cancel}, {UpdateConfirmPayout, confirm}},
			after:     []step{{UpdateResolve, override}},
			wantStage: StageCancelled, wantRef: byHand, wantPayments: 1},
	}
	for _, tt := range tests {
		s.Run(tt.name, func() {
			s.SetupTest()
			m := s.mockDeal()
			refuse := true
			m.payoutErr = func(activities.PayoutInput) error {
				switch {
				case !refuse:
					return nil
				case tt.outage:
					return errors.New("provider unavailable")
				}
				return temporal.NewNonRetryableApplicationError("payee account closed", activities.ErrPayoutRefused, nil)
			}
			at := s.driveTo(StageAwaitingPost)
			s.mustUpdate(at+time.Hour, UpdateSubmitPost, PostRequest{URL: postURL})
			// The live window ends 30 days after the post is verified: the payout starts then.
			payout := at + time.Hour + 30*day
			if !tt.outage {
				s.at(payout+time.Hour, func() {
					st := s.query()
					s.Require().Equal(StagePayout, st.Stage)
					s.Require().NotNil(st.Attention, "the refused payout is escalated")
					if tt.providerPays {
						// From now on the provider would pay: a retry must not reach it
						// after finance paid.
						refuse, m.providerRef = false, providerRef
					}
				})
			} else {
				s.at(payout+20*time.Minute, func() { refuse, m.providerRef = false, providerRef })
			}
			first := payout + 2*time.Hour
			if tt.outage {
				first = payout + 5*time.Minute
			}
			answers := map[string]*answer{}
			for i, st := range append(tt.steps, tt.after...) {
				answers[st.name] = s.ask(first+time.Duration(i)*time.Minute, st.name, st.arg)
			}

			s.env.ExecuteWorkflow(Collaboration, dealInput())

			s.Require().True(s.env.IsWorkflowCompleted())
			s.Require().NoError(s.env.GetWorkflowError(), "the run closed")
			var final CollaborationState
			s.Require().NoError(s.env.GetWorkflowResult(&final))
			s.Equal(tt.wantStage, final.Stage)
			for name, ans := range answers {
				s.True(ans.done || !ans.sent, "%s was answered", name)
			}
			conf := answers[UpdateConfirmPayout]
			if tt.confirmed {
				s.True(conf.sent)
				s.NoError(conf.err, "finance's confirmation is taken")
				s.Equal(tt.wantStage, conf.state.Stage)
			} else {
				s.True(!conf.sent || conf.err != nil, "finance's confirmation is refused: the fee was settled otherwise")
			}
			row := m.ledger[activities.PayoutFee]
			s.Require().NotNil(row)
			s.Equal(store.PayoutPaid, row.Status, "the ledger says paid")
			s.Equal(tt.wantRef, row.Reference)
			s.Len(m.payments, tt.wantPayments, "ledger writes")
			s.Len(m.payouts, tt.wantProvider, "provider payouts")
			fee := final.Payouts
			s.Require().Len(fee, 1, "the state holds the fee row")
			s.Equal(PayoutState{ID: "p-fee", Kind: activities.PayoutFee, Currency: "USD", Amount: 100000, Status: store.PayoutPaid, Reference: tt.wantRef}, fee[0])
		})
	}
}

// N-1, runs recorded before changePayoutSettle: a confirmation waiting for a fee row that
// ops' override made impossible no longer holds the run open for ever; it is refused and
// the run completes.
func (s *collaborationSuite) TestConfirmWaitingBeforeSettleVersionEndsWithTheRun() {
	s.env.OnGetVersion(changePayoutSettle, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	m := s.mockDeal()
	m.payoutErr = func(activities.PayoutInput) error {
		return temporal.NewNonRetryableApplicationError("payee account closed", activities.ErrPayoutRefused, nil)
	}
	at := s.driveTo(StageAwaitingPost)
	s.mustUpdate(at+time.Hour, UpdateSubmitPost, PostRequest{URL: postURL})
	conf := s.ask(at+32*day+time.Minute, UpdateConfirmPayout, PayoutConfirmation{Actor: ops, PayoutID: "p-fee", Reference: "bank transfer 42"})
	s.mustUpdate(at+32*day+2*time.Minute, UpdateResolve, ResolveRequest{Actor: ops, Decision: ResolveOverride, Reason: "paid by bank transfer 42"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	s.Equal(StageCompleted, s.result().Stage)
	s.True(conf.done, "the confirmation was answered")
	s.ErrorContains(conf.err, "settled otherwise")
}

// A confirmation after the fee was settled is refused in words the API passes on (409).
func TestConfirmAfterTheFeeWasSettledIsRefused(t *testing.T) {
	c := &collaboration{state: CollaborationState{Stage: StagePayout}}
	c.confirmed = &PayoutConfirmation{Actor: ops, Reference: "settled outside collabflow: paid by wire"}
	err := c.validateConfirm(PayoutConfirmation{Actor: ops, PayoutID: "p-fee", Reference: "R1"})
	if err == nil || !strings.Contains(err.Error(), "already settled") || !strings.Contains(err.Error(), "paid by wire") {
		t.Fatalf("confirm after settlement: %v", err)
	}
	c.confirmed, c.feeOffer = nil, &PayoutConfirmation{Actor: ops, PayoutID: "p-fee", Reference: "R0"}
	if err := c.validateConfirm(PayoutConfirmation{Actor: ops, PayoutID: "p-fee", Reference: "R1"}); err == nil {
		t.Fatal("a second confirmation while the first is judged was accepted")
	}
	if err := c.validateCancel(CancelRequest{Actor: ops, Reason: "stop"}); err == nil {
		t.Fatal("a cancel while a confirmation is judged was accepted")
	}
}
