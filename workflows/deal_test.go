package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/contract"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/verify"
)

var reviewer = Actor{Name: "rev-1", Role: "reviewer", RequestID: "req-r"}

func terms(fee int64) contract.Terms {
	return contract.Terms{
		Deliverables: []contract.Deliverable{{Platform: "instagram", Format: "reel", Count: 1}},
		Currency:     "USD", FixedFee: fee, KillFee: fee / 4, UsageRightsDays: 30, DisclosureText: "#ad", RevisionRounds: 2,
	}
}

// dealMocks records the deal's activities: notices by kind, contracts prepared, signatures.
type dealMocks struct {
	notices    []activities.NoticeInput
	contracts  []activities.PrepareContractInput
	signatures []activities.RecordSignatureInput
	opsNotes   []activities.OpsNoteInput
	payouts    []activities.PayoutInput
	payments   []activities.PaymentInput
	// ledger holds the payout rows by kind as the store would: CreatePayout writes a row
	// before the provider is asked (a refused payout stays pending), RecordPayment marks
	// it paid once.
	ledger map[string]*store.Payout
	// providerRef, when set, makes the provider pay each payout with that reference.
	providerRef string
	checks      []string
	// postOK decides whether a post passes its checks; nil passes all.
	postOK func(url string) bool
	// verifyErr, payoutErr and opsErr, when set, make those activities fail.
	verifyErr func() error
	payoutErr func(in activities.PayoutInput) error
	opsErr    func() error
}

// mockDeal mocks the deal's activities; payoutDelay makes CreatePayout take that long.
func (s *collaborationSuite) mockDeal(payoutDelay ...time.Duration) *dealMocks {
	m := &dealMocks{ledger: map[string]*store.Payout{}}
	s.env.OnActivity(a.PrepareContract, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PrepareContractInput) (activities.PreparedContract, error) {
			m.contracts = append(m.contracts, in)
			return activities.PreparedContract{ContractID: fmt.Sprintf("k-%d", in.Version), SHA256: fmt.Sprintf("hash-%d", in.Version)}, nil
		}).Maybe()
	s.env.OnActivity(a.RecordSignature, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecordSignatureInput) error {
			m.signatures = append(m.signatures, in)
			return nil
		}).Maybe()
	s.env.OnActivity(a.SendNotice, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.NoticeInput) (activities.SendEmailResult, error) {
			m.notices = append(m.notices, in)
			return activities.SendEmailResult{Status: activities.SendSent, MessageKey: in.MessageKey()}, nil
		}).Maybe()
	s.env.OnActivity(a.AssignAttribution, mock.Anything, mock.Anything).Return(
		store.Attribution{Code: "ADA-TEST", TrackingURL: "https://acme.test/?utm_content=ADA-TEST"}, nil).Maybe()
	s.env.OnActivity(a.VerifyPost, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.VerifyPostInput) (verify.Report, error) {
			m.checks = append(m.checks, in.URL)
			if m.verifyErr != nil {
				if err := m.verifyErr(); err != nil {
					return verify.Report{}, err
				}
			}
			ok := m.postOK == nil || m.postOK(in.URL)
			evidence := "found"
			if !ok {
				evidence = "HTTP 404"
			}
			return verify.Report{URL: in.URL, Status: 200, Passed: ok, Checks: []verify.Check{{Name: verify.CheckLive, Passed: ok, Evidence: evidence}}}, nil
		}).Maybe()
	payout := s.env.OnActivity(a.CreatePayout, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PayoutInput) (store.Payout, error) {
			row := m.ledger[in.Kind]
			if row == nil {
				amount := in.Terms.FixedFee
				if in.Kind == activities.PayoutKillFee {
					amount = in.Terms.KillFee
				}
				row = &store.Payout{ID: "p-" + in.Kind, CollaborationID: in.CollaborationID, Kind: in.Kind, Currency: in.Terms.Currency, Amount: amount, Status: store.PayoutPending}
				m.ledger[in.Kind] = row
			}
			if row.Status != store.PayoutPending {
				// Paid meanwhile: the activity never asks the provider again.
				return *row, nil
			}
			if m.payoutErr != nil {
				if err := m.payoutErr(in); err != nil {
					return store.Payout{}, err
				}
			}
			m.payouts = append(m.payouts, in)
			if m.providerRef != "" {
				row.Status, row.Reference = store.PayoutPaid, m.providerRef
			}
			return *row, nil
		}).Maybe()
	s.env.OnActivity(a.StopEmail, mock.Anything, mock.Anything).Return(activities.StopEmailResult{}, nil).Maybe()
	s.env.OnActivity(a.RecordPayment, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PaymentInput) (store.Payout, error) {
			var row *store.Payout
			for _, r := range m.ledger {
				if r.ID == in.PayoutID || in.PayoutID == "" && r.Kind == in.Kind {
					row = r
				}
			}
			switch {
			case row == nil && in.PayoutID == "":
				return store.Payout{}, nil
			case row == nil || in.CollaborationID != "" && (row.CollaborationID != in.CollaborationID || row.Kind != in.Kind):
				return store.Payout{}, temporal.NewNonRetryableApplicationError("not this collaboration's payout", activities.ErrNotThisPayout, nil)
			case row.Status == store.PayoutPaid && row.Reference != in.Reference:
				return store.Payout{}, temporal.NewNonRetryableApplicationError("payout was already confirmed with reference "+row.Reference, activities.ErrPaidOtherwise, nil)
			case row.Status == store.PayoutPending:
				row.Status, row.Reference = store.PayoutPaid, in.Reference
				m.payments = append(m.payments, in)
			}
			return *row, nil
		}).Maybe()
	if len(payoutDelay) > 0 {
		payout.After(payoutDelay[0])
	}
	s.env.OnActivity(a.NotifyOps, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.OpsNoteInput) (activities.SendEmailResult, error) {
			if m.opsErr != nil {
				if err := m.opsErr(); err != nil {
					return activities.SendEmailResult{}, err
				}
			}
			m.opsNotes = append(m.opsNotes, in)
			return activities.SendEmailResult{Status: activities.SendSent}, nil
		}).Maybe()
	return m
}

func (m *dealMocks) kinds() []string {
	var out []string
	for _, n := range m.notices {
		out = append(out, n.Kind)
	}
	return out
}

// dealInput opens with the brand's offer of 1,000.00 and a week for each deal timer.
func dealInput() CollaborationInput {
	in := input()
	in.Outreach.Steps = 1
	in.Opening = terms(100000)
	return in
}

// at runs f at offset d of workflow time.
func (s *collaborationSuite) at(d time.Duration, f func()) { s.env.RegisterDelayedCallback(f, d) }

// mustUpdate sends an update at d and fails the test if it is refused.
func (s *collaborationSuite) mustUpdate(d time.Duration, name string, arg any) *CollaborationState {
	st, err := s.update(d, name, fmt.Sprintf("%s-%s", name, d), arg)
	s.T().Cleanup(func() {
		if *err != nil {
			s.T().Errorf("update %s at %s refused: %v", name, d, *err)
		}
	})
	return st
}

// signAt signs the current contract at d, reading its id and hash from the state.
func (s *collaborationSuite) signAt(d time.Duration) {
	s.at(d, func() {
		k := s.query().Contract
		s.Require().NotNil(k)
		s.env.UpdateWorkflow(UpdateSign, "sign", &noopCallbacks{s: s}, SignRequest{
			ContractID: k.ContractID, SHA256: k.SHA256, SignatureID: testSignatureID, At: s.env.Now(), LinkHash: "0123456789ab",
		})
	})
}

// driveTo schedules the steps that take a collaboration to stage, one hour apart from
// the first hour, and returns when the last step runs.
func (s *collaborationSuite) driveTo(stage Stage) time.Duration {
	order := []Stage{StageNegotiating, StageContracting, StageInProduction, StageInReview, StageAwaitingPost}
	t := time.Hour
	for _, step := range order {
		switch step {
		case StageNegotiating:
			s.signal(t, OutreachEvent{Kind: OutreachReply})
		case StageContracting:
			s.mustUpdate(t, UpdateAccept, AcceptRequest{Actor: ops})
		case StageInProduction:
			s.signAt(t)
		case StageInReview:
			s.mustUpdate(t, UpdateSubmitDraft, DraftRequest{Assets: []string{"https://cdn.example.com/v1.mp4"}, Caption: "New shoes #ad"})
		case StageAwaitingPost:
			s.mustUpdate(t, UpdateReview, ReviewRequest{Actor: reviewer, Draft: 1, Decision: DecisionApprove})
		}
		if step == stage {
			return t
		}
		t += time.Hour
	}
	return t
}

type noopCallbacks struct{ s *collaborationSuite }

func (n *noopCallbacks) Accept()             {}
func (n *noopCallbacks) Reject(err error)    { n.s.T().Errorf("update rejected: %v", err) }
func (n *noopCallbacks) Complete(any, error) {}

func (s *collaborationSuite) TestOfferCounterAccept() {
	m := s.mockDeal()
	at := s.driveTo(StageNegotiating)
	counter := terms(150000)
	counter.ExclusivityDays = 14
	s.at(at+time.Minute, func() {
		st := s.query()
		s.Require().Len(st.Offers, 1, "the campaign's terms open the negotiation")
		s.Equal(FromBrand, st.Offers[0].From)
	})
	s.mustUpdate(at+2*time.Minute, UpdateOffer, OfferRequest{Actor: ops, From: FromCreator, Terms: counter, Note: "needs more for exclusivity"})
	bad := terms(-5)
	_, badErr := s.update(at+3*time.Minute, UpdateOffer, "bad", OfferRequest{Actor: ops, From: FromBrand, Terms: bad})
	_, oldErr := s.update(at+4*time.Minute, UpdateAccept, "old", AcceptRequest{Actor: ops, Offer: 1})
	accepted := s.mustUpdate(at+5*time.Minute, UpdateAccept, AcceptRequest{Actor: ops, Offer: 2})
	s.mustUpdate(at+time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	final := s.result()
	var appErr *temporal.ApplicationError
	s.Require().True(errors.As(*badErr, &appErr), "bad offer: %v", *badErr)
	s.Equal(InvalidArgument, appErr.Type())
	s.Contains(appErr.Message(), "fixed_fee")
	s.Require().Error(*oldErr)
	s.Contains((*oldErr).Error(), "latest offer")
	s.Equal(StageContracting, accepted.Stage)
	s.Require().Len(final.Offers, 2, "a refused offer left a trace")
	s.Equal(FromCreator, final.Offers[1].From)
	s.Equal(ops, final.Offers[1].Actor)
	s.Equal(int64(150000), final.AgreedTerms.FixedFee)
	s.Require().Len(m.contracts, 1)
	s.Equal(counter, m.contracts[0].Terms)
	s.Equal([]string{activities.NoticeContract}, m.kinds())
	s.Equal(StageCancelled, final.Stage)
}

func (s *collaborationSuite) TestContractReminderThenExpiryReturnsToNegotiating() {
	m := s.mockDeal()
	at := s.driveTo(StageContracting)
	week := 7 * day
	s.at(at+week-day-time.Minute, func() { s.Equal([]string{activities.NoticeContract}, m.kinds()) })
	s.at(at+week-day+time.Minute, func() {
		s.Equal([]string{activities.NoticeContract, activities.NoticeContractReminder}, m.kinds())
	})
	s.at(at+week+time.Minute, func() {
		st := s.query()
		s.Equal(StageNegotiating, st.Stage)
		s.Nil(st.AgreedTerms)
		s.Equal(EventContractExpired, st.Events[len(st.Events)-1].Kind)
	})
	s.mustUpdate(at+week+time.Hour, UpdateAccept, AcceptRequest{Actor: ops})
	s.mustUpdate(at+week+2*time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	s.result()
	s.Require().Len(m.contracts, 2)
	s.Equal(2, m.contracts[1].Version, "a new contract version after expiry")
	s.Empty(m.signatures)
}

func (s *collaborationSuite) TestSignMovesToProductionAndSendsTheBrief() {
	m := s.mockDeal()
	at := s.driveTo(StageContracting)
	_, wrongHash := s.update(at+time.Minute, UpdateSign, "forged", SignRequest{ContractID: "k-1", SHA256: "other", SignatureID: testSignatureID})
	_, otherContract := s.update(at+2*time.Minute, UpdateSign, "old", SignRequest{ContractID: "k-0", SHA256: "hash-1", SignatureID: testSignatureID})
	s.signAt(at + time.Hour)
	_, again := s.update(at+2*time.Hour, UpdateSign, "again", SignRequest{ContractID: "k-1", SHA256: "hash-1", SignatureID: testSignatureID})
	s.mustUpdate(at+3*time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	final := s.result()
	s.ErrorContains(*wrongHash, "does not match")
	s.ErrorContains(*otherContract, "newer version")
	s.ErrorContains(*again, "already signed")
	s.Require().Len(m.signatures, 1)
	s.Equal(activities.RecordSignatureInput{ContractID: "k-1", SignatureID: testSignatureID}, m.signatures[0])
	s.Equal([]string{activities.NoticeContract, activities.NoticeBrief}, m.kinds())
	var signed *Event
	for i, e := range final.Events {
		if e.Kind == EventSigned {
			signed = &final.Events[i]
		}
	}
	s.Require().NotNil(signed)
	s.Equal("contract v1 signed with document hash hash-1 (signature "+testSignatureID+") through link 0123456789ab", signed.Detail)
	s.Equal(&Actor{Name: "creator", Role: "creator"}, signed.Actor)
}

func (s *collaborationSuite) TestDraftChangesDraftApprove() {
	m := s.mockDeal()
	at := s.driveTo(StageInProduction)
	s.mustUpdate(at+time.Hour, UpdateSubmitDraft, DraftRequest{Assets: []string{"https://cdn.example.com/a.mp4"}, Caption: "Love these #adventure shoes"})
	_, noDisclosure := s.update(at+2*time.Hour, UpdateReview, "approve-1", ReviewRequest{Actor: reviewer, Draft: 1, Decision: DecisionApprove})
	_, noComments := s.update(at+2*time.Hour+time.Minute, UpdateReview, "changes-empty", ReviewRequest{Actor: reviewer, Draft: 1, Decision: DecisionChanges})
	changes := s.mustUpdate(at+3*time.Hour, UpdateReview, ReviewRequest{Actor: reviewer, Draft: 1, Decision: DecisionChanges, Comments: "Add #ad at the start"})
	_, badDraft := s.update(at+4*time.Hour, UpdateSubmitDraft, "bad-draft", DraftRequest{Assets: []string{"ftp://x"}, Caption: ""})
	s.mustUpdate(at+5*time.Hour, UpdateSubmitDraft, DraftRequest{Assets: []string{"https://cdn.example.com/b.mp4"}, Caption: "#ad Love these shoes"})
	approved := s.mustUpdate(at+6*time.Hour, UpdateReview, ReviewRequest{Actor: reviewer, Draft: 2, Decision: DecisionApprove})
	s.mustUpdate(at+7*time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	final := s.result()
	var appErr *temporal.ApplicationError
	s.Require().True(errors.As(*noDisclosure, &appErr))
	s.Equal(InvalidArgument, appErr.Type())
	s.Contains(appErr.Message(), "lacks the required disclosure")
	s.ErrorContains(*noComments, "comments")
	s.ErrorContains(*badDraft, "assets[0]")
	s.Equal(StageInProduction, changes.Stage)
	s.Equal(StageAwaitingPost, approved.Stage)
	s.Require().NotNil(final.Approved)
	s.Equal(2, final.Approved.N)
	s.Equal("#ad Love these shoes", final.Approved.Caption)
	s.Equal(1, final.RevisionsUsed)
	s.Require().Len(final.Drafts, 2)
	s.Equal(DecisionChanges, final.Drafts[0].Review.Decision)
	s.Equal(reviewer, final.Drafts[0].Review.Actor)
	s.Equal([]string{activities.NoticeContract, activities.NoticeBrief, activities.NoticeChanges}, m.kinds())
	s.Equal("Add #ad at the start", m.notices[2].Comments)
}

func (s *collaborationSuite) TestRevisionLimitEscalatesToOps() {
	s.mockDeal()
	in := dealInput()
	in.Opening.RevisionRounds = 1
	at := s.driveTo(StageInReview)
	s.mustUpdate(at+time.Hour, UpdateReview, ReviewRequest{Actor: reviewer, Draft: 1, Decision: DecisionChanges, Comments: "brighter"})
	s.mustUpdate(at+2*time.Hour, UpdateSubmitDraft, DraftRequest{Assets: []string{"https://cdn.example.com/2.mp4"}, Caption: "#ad v2"})
	s.at(at+2*time.Hour+time.Minute, func() { s.Contains(s.query().Escalation, "only ops") })
	_, byReviewer := s.update(at+3*time.Hour, UpdateReview, "rev-more", ReviewRequest{Actor: reviewer, Draft: 2, Decision: DecisionChanges, Comments: "again"})
	byOps := s.mustUpdate(at+4*time.Hour, UpdateReview, ReviewRequest{Actor: ops, Draft: 2, Decision: DecisionChanges, Comments: "one more, agreed with the creator"})
	s.mustUpdate(at+5*time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, in)

	s.result()
	s.ErrorContains(*byReviewer, "ops must decide")
	s.Equal(StageInProduction, byOps.Stage)
	s.Equal(2, byOps.RevisionsUsed)
}

func (s *collaborationSuite) TestDraftDeadlineRemindsThenEscalates() {
	m := s.mockDeal()
	at := s.driveTo(StageInProduction)
	twoWeeks := 14 * day
	s.at(at+twoWeeks+time.Minute, func() {
		st := s.query()
		s.Equal(StageInProduction, st.Stage, "a missed deadline ended the collaboration")
		s.Require().NotNil(st.Attention)
		s.Contains(st.Attention.Reason, "overdue")
	})
	s.mustUpdate(at+twoWeeks+day, UpdateSubmitDraft, DraftRequest{Assets: []string{"https://cdn.example.com/late.mp4"}, Caption: "#ad late"})
	s.at(at+twoWeeks+day+time.Minute, func() { s.Nil(s.query().Attention, "the overdue escalation outlived the draft") })
	s.mustUpdate(at+twoWeeks+2*day, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	s.result()
	s.Equal([]string{activities.NoticeContract, activities.NoticeBrief, activities.NoticeDraftReminder}, m.kinds())
	s.Require().Len(m.opsNotes, 1)
	s.Contains(m.opsNotes[0].Text, "overdue")
}

func (s *collaborationSuite) TestReviewSLA() {
	for _, auto := range []bool{false, true} {
		s.Run(fmt.Sprintf("auto approve %v", auto), func() {
			s.SetupTest()
			m := s.mockDeal()
			in := dealInput()
			in.AutoApprove = auto
			at := s.driveTo(StageInReview)
			s.at(at+2*day+time.Minute, func() {
				want := StageInReview
				if auto {
					want = StageAwaitingPost
				}
				s.Equal(want, s.query().Stage)
			})
			s.mustUpdate(at+3*day, UpdateCancel, CancelRequest{Actor: ops, Reason: "done"})
			s.env.ExecuteWorkflow(Collaboration, in)
			final := s.result()
			s.Require().Len(m.opsNotes, 1)
			s.Contains(m.opsNotes[0].Subject, "Review overdue")
			if auto {
				s.Equal(system, final.Approved.Review.Actor)
			} else {
				s.Nil(final.Approved)
			}
		})
	}
}

func (s *collaborationSuite) TestCancelInEachStage() {
	for _, stage := range []Stage{StageNegotiating, StageContracting, StageInProduction, StageInReview, StageAwaitingPost} {
		s.Run(string(stage), func() {
			s.SetupTest()
			s.mockDeal()
			at := s.driveTo(stage)
			s.at(at+time.Minute, func() { s.Equal(stage, s.query().Stage) })
			cancelled := s.mustUpdate(at+time.Hour, UpdateCancel, CancelRequest{Actor: ops, Reason: "brand pulled out"})
			s.env.ExecuteWorkflow(Collaboration, dealInput())
			final := s.result()
			s.Equal(StageCancelled, final.Stage)
			s.Equal(StageCancelled, cancelled.Stage)
			last := final.Events[len(final.Events)-1]
			s.Equal(stage, last.From)
			s.Equal(&ops, last.Actor)
		})
	}
}

func (s *collaborationSuite) TestDecline() {
	s.mockDeal()
	at := s.driveTo(StageNegotiating)
	_, noReason := s.update(at+time.Minute, UpdateDecline, "d0", DeclineRequest{Actor: ops})
	declined := s.mustUpdate(at+time.Hour, UpdateDecline, DeclineRequest{Actor: ops, Reason: "creator wants 10x the budget"})

	s.env.ExecuteWorkflow(Collaboration, dealInput())

	final := s.result()
	s.ErrorContains(*noReason, "reason")
	s.Equal(StageDeclined, final.Stage)
	s.Equal(StageDeclined, declined.Stage)
	s.True(strings.Contains(final.EndReason, "10x"))
}

// Ids of PostgreSQL rows that hold what a person typed; the workflow sees only these.
const (
	testSignatureID = "0190a000-0000-7000-8000-00000000515e"
	testNoteID      = "0190a000-0000-7000-8000-0000000000fe"
)
