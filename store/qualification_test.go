package store_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/fit"
	"github.com/collabflow/collabflow/payout"
	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
	"github.com/collabflow/collabflow/workflows"
)

// TestHistoriesAcrossCampaigns writes the rows a finished, an unanswered and a running
// collaboration leave behind and reads the creator's history back, alone and in a batch.
func TestHistoriesAcrossCampaigns(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	cr, err := s.CreateCreator(ctx, newCreator("ada", "ada@example.com", 48_000, "fitness"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateCreator(ctx, newCreator("bob", "bob@example.com", 5_000))
	if err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().Truncate(time.Second).Add(-20 * time.Hour)
	collab := func(stage string) string {
		t.Helper()
		ca, err := s.CreateCampaign(ctx, campaigns.Campaign{Name: stage, Brand: "Acme", SenderEmail: "a@acme.test"})
		if err != nil {
			t.Fatal(err)
		}
		id := workflows.CollaborationID(ca.ID, cr.ID)
		if err := s.RecordCollaboration(ctx, store.Collaboration{ID: id, CampaignID: ca.ID, CreatorID: cr.ID, Stage: stage, StageSeq: 1, UpdatedAt: base}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.BeginEmail(ctx, store.Email{MessageKey: id + "/0", CollaborationID: id, ToEmail: "ada@example.com", Subject: "hi", BodyText: "hi"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.MarkEmailSent(ctx, id+"/0", "sg-"+stage, base); err != nil {
			t.Fatal(err)
		}
		return id
	}
	done, silent, running := collab("completed"), collab("no_response"), collab("negotiating")

	// The completed one: answered by email after 2 h, paid, measured twice.
	if _, err := s.RecordInbound(ctx, store.InboundMessage{CollaborationID: done, FromEmail: "ada@example.com", Subject: "yes", BodyText: "yes", ReceivedAt: base.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	fee, err := s.CreatePayout(ctx, store.Payout{CollaborationID: done, Kind: "fee", IdempotencyKey: done + "/fee", Currency: "USD", Amount: 50_000, Breakdown: []byte(`{}`), Provider: "manual", Status: store.PayoutPending})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConfirmPayout(ctx, fee.ID, "ref-1", "fin"); err != nil {
		t.Fatal(err)
	}
	// Owed but not paid: not spend.
	if _, err := s.CreatePayout(ctx, store.Payout{CollaborationID: done, Kind: "bonus", IdempotencyKey: done + "/bonus", Currency: "USD", Amount: 9_000, Breakdown: []byte(`{}`), Provider: "manual", Status: store.PayoutPending}); err != nil {
		t.Fatal(err)
	}
	snapshots := map[string][]payout.Metrics{done: {
		{At: base.Add(time.Hour), Impressions: 100, Clicks: 5, Conversions: 1, Revenue: 1_000, Currency: "USD"},
		{At: base.Add(5 * time.Hour), Impressions: 1_000, Clicks: 50, Conversions: 5, Revenue: 150_000, Currency: "USD"},
	}}
	if err := s.AddMetrics(ctx, snapshots, []string{done}); err != nil {
		t.Fatal(err)
	}
	// The running one: a reply ops recorded by hand, now, about 20 h after the email.
	if _, err := s.SaveNote(ctx, store.Note{CollaborationID: running, Kind: store.NoteReply, Body: "called back", Author: "ops"}); err != nil {
		t.Fatal(err)
	}
	_ = silent

	h, err := s.History(ctx, cr.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantOutcomes := map[string]int{"completed": 1, "no_response": 1, "negotiating": 1}
	if h.Collaborations != 3 || !reflect.DeepEqual(h.Outcomes, wantOutcomes) ||
		!reflect.DeepEqual(h.Spend, map[string]int64{"USD": 50_000}) ||
		!reflect.DeepEqual(h.Results, fit.Results{Impressions: 1_000, Clicks: 50, Conversions: 5, Revenue: map[string]int64{"USD": 150_000}}) {
		t.Fatalf("history %+v", h)
	}
	// Replies after 2 h and about 20 h: median and mean 11 h.
	if h.Replies != 2 || h.MedianReplySeconds < 11*3600-60 || h.MedianReplySeconds > 11*3600+60 || h.AvgReplySeconds != h.MedianReplySeconds {
		t.Fatalf("reply times %+v", h)
	}

	all, err := s.Histories(ctx, []string{cr.ID, other.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := all[other.ID]; ok || all[cr.ID].Collaborations != 3 {
		t.Fatalf("batch %+v", all)
	}
	none, err := s.History(ctx, other.ID)
	if err != nil || none.Collaborations != 0 || none.Outcomes == nil || none.Results.Revenue == nil {
		t.Fatalf("no history: %+v %v", none, err)
	}
}

func TestApproveRosterIsAllOrNothingAndIdempotent(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	ca, err := s.CreateCampaign(ctx, campaigns.Campaign{Name: "c", Brand: "b", SenderEmail: "a@b.test"})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := s.CreateCreator(ctx, newCreator("ada", "ada@example.com", 48_000))
	b, _ := s.CreateCreator(ctx, newCreator("bob", "bob@example.com", 5_000))
	approve := func(tier roster.Tier, refuse error) ([]store.RosterEntry, int, error) {
		return s.ApproveRoster(ctx, ca.ID, []string{a.ID, b.ID}, func(ap store.Approval) ([]store.RosterEntry, error) {
			if len(ap.Creators) != 2 || ap.Campaign.ID != ca.ID {
				t.Fatalf("approval saw %+v", ap)
			}
			if refuse != nil {
				return nil, refuse
			}
			return []store.RosterEntry{
				{CreatorID: a.ID, Tier: tier, Score: 40, Reasons: []fit.Reason{{Code: "niche_match", Text: "niche x", Points: 20}}, ApprovedBy: "ops"},
				{CreatorID: b.ID, Tier: roster.TierNano, ApprovedBy: "ops"},
			}, nil
		})
	}
	refused := errors.New("no")
	if _, _, err := approve(roster.TierMicro, refused); !errors.Is(err, refused) {
		t.Fatalf("refused approval: %v", err)
	}
	if list, _, _ := s.Roster(ctx, ca.ID, "", 10); len(list) != 0 {
		t.Fatalf("a refused approval wrote %+v", list)
	}
	first, changed, err := approve(roster.TierMicro, nil)
	if err != nil || changed != 2 || len(first) != 2 {
		t.Fatalf("approve: %d %+v %v", changed, first, err)
	}
	again, changed, err := approve(roster.TierMicro, nil)
	if err != nil || changed != 0 || !reflect.DeepEqual(again, first) {
		t.Fatalf("repeat changed %d: %+v, want %+v (%v)", changed, again, first, err)
	}
	if _, changed, _ = approve(roster.TierMid, nil); changed != 1 {
		t.Fatalf("tier change changed %d", changed)
	}
	tiers, err := s.RosterTiers(ctx, ca.ID)
	if err != nil || tiers[a.ID] != roster.TierMid || tiers[b.ID] != roster.TierNano {
		t.Fatalf("tiers %v %v", tiers, err)
	}
	p1, next, err := s.Roster(ctx, ca.ID, "", 1)
	if err != nil || len(p1) != 1 || next == "" {
		t.Fatalf("page 1: %+v %q %v", p1, next, err)
	}
	p2, next, err := s.Roster(ctx, ca.ID, next, 1)
	if err != nil || len(p2) != 1 || next != "" || p2[0].CreatorID == p1[0].CreatorID {
		t.Fatalf("page 2: %+v %q %v", p2, next, err)
	}
	if err := s.RemoveFromRoster(ctx, ca.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveFromRoster(ctx, ca.ID, b.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second removal: %v", err)
	}
}
