package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func newCreator(name, email string, followers int64, niches ...string) roster.Creator {
	return roster.Creator{
		Name: name, Email: email, Timezone: "Europe/London",
		Handles:   map[string]string{"instagram": name + ".ig"},
		Followers: followers, AvgEngagement: followers / 50, Niches: niches,
	}
}

func TestCreatorRoundTrip(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	created, err := s.CreateCreator(ctx, newCreator("ada", "ada@example.com", 48_000, "tech"))
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.Tier != roster.TierMicro || created.EngagementRate != 0.02 {
		t.Fatalf("created %+v", created)
	}
	got, err := s.Creator(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Email != "ada@example.com" || got.Handles["instagram"] != "ada.ig" || !got.CreatedAt.Equal(created.CreatedAt) {
		t.Fatalf("read back %+v", got)
	}
	if _, err := s.Creator(ctx, "0190a0a0-0000-7000-8000-000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestCreatorEmailIsUniqueIgnoringCase(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	if _, err := s.CreateCreator(ctx, newCreator("ada", "ada@example.com", 1)); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateCreator(ctx, newCreator("ada2", "ADA@example.com", 1))
	var conflict *store.ConflictError
	if !errors.As(err, &conflict) || conflict.Field != "email" {
		t.Fatalf("duplicate email: %v", err)
	}
}

func TestUpdateCreatorWritesNothingWhenChangeFails(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	c, err := s.CreateCreator(ctx, newCreator("ada", "ada@example.com", 5_000))
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateCreator(ctx, newCreator("bob", "bob@example.com", 5_000))
	if err != nil {
		t.Fatal(err)
	}

	refused := errors.New("refused")
	if _, err := s.UpdateCreator(ctx, c.ID, func(c *roster.Creator) error { c.Followers = 2_000_000; return refused }); !errors.Is(err, refused) {
		t.Fatalf("failing change: %v", err)
	}
	if _, err := s.UpdateCreator(ctx, other.ID, func(o *roster.Creator) error { o.Email = "ada@example.com"; return nil }); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("email taken: %v", err)
	}
	got, _ := s.Creator(ctx, c.ID)
	if got.Followers != 5_000 {
		t.Fatalf("failed change was written: %+v", got)
	}

	updated, err := s.UpdateCreator(ctx, c.ID, func(c *roster.Creator) error { c.Followers = 2_000_000; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if updated.Tier != roster.TierMega || !updated.UpdatedAt.After(c.UpdatedAt) {
		t.Fatalf("updated %+v", updated)
	}
}

func TestListCreatorsFiltersAndPages(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	for i := range 7 {
		c := newCreator(fmt.Sprintf("creator%d", i), fmt.Sprintf("c%d@example.com", i), int64(i)*40_000, "food")
		if i%2 == 0 {
			c.Niches = []string{"travel"}
		}
		if _, err := s.CreateCreator(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	special := newCreator("Zoë 100%", "z@example.com", 1, "travel")
	special.Handles = map[string]string{"tiktok": "zoe_travels"}
	if _, err := s.CreateCreator(ctx, special); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		filter store.CreatorFilter
		want   int
	}{
		{"all", store.CreatorFilter{}, 8},
		{"tier", store.CreatorFilter{Tier: roster.TierMid}, 4}, // 120k, 160k, 200k, 240k
		{"niche", store.CreatorFilter{Niche: "travel"}, 5},
		{"name", store.CreatorFilter{Query: "CREATOR3"}, 1},
		{"handle", store.CreatorFilter{Query: "zoe_trav"}, 1},
		{"percent is literal", store.CreatorFilter{Query: "100%"}, 1},
		{"underscore is literal", store.CreatorFilter{Query: "r_"}, 0},
		{"combined", store.CreatorFilter{Niche: "food", Tier: roster.TierMid}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var all []roster.Creator
			f := tt.filter
			f.Limit = 3
			for pages := 0; ; pages++ {
				list, next, err := s.ListCreators(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, list...)
				if next == "" {
					break
				}
				if pages > 5 {
					t.Fatal("pagination does not end")
				}
				f.After = next
			}
			if len(all) != tt.want {
				t.Fatalf("got %d creators, want %d", len(all), tt.want)
			}
			seen := map[string]bool{}
			for _, c := range all {
				if seen[c.ID] {
					t.Fatalf("creator %s listed twice", c.ID)
				}
				seen[c.ID] = true
			}
		})
	}
}

func TestCampaignRoundTrip(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	c := campaigns.Campaign{Name: "Spring", Brand: "Acme", SenderEmail: "collabs@acme.test"}
	c.Timings.ReplyWait = campaigns.Duration(2 * time.Second)
	c.Brief.Deliverables = []campaigns.Deliverable{{Platform: "instagram", Format: "reel", Count: 2}}
	c.ApplyDefaults()
	created, err := s.CreateCampaign(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Campaign(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Timings.ReplyWait.Std() != 2*time.Second || got.Timings.ContractExpiry.Std() != 7*campaigns.Day ||
		len(got.Brief.Deliverables) != 1 || got.DisclosureText != "#ad" {
		t.Fatalf("read back %+v", got)
	}
	list, next, err := s.ListCampaigns(ctx, "", 10)
	if err != nil || len(list) != 1 || next != "" {
		t.Fatalf("list: %v %d %q", err, len(list), next)
	}
}

func TestRecordCollaborationIgnoresOlderStages(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	cr, _ := s.CreateCreator(ctx, newCreator("ada", "ada@example.com", 1))
	c := campaigns.Campaign{Name: "x", Brand: "y", SenderEmail: "a@b.test"}
	c.ApplyDefaults()
	ca, _ := s.CreateCampaign(ctx, c)

	at := time.Now()
	rec := func(stage string, seq int) {
		t.Helper()
		err := s.RecordCollaboration(ctx, store.Collaboration{ID: "collab-1", CampaignID: ca.ID, CreatorID: cr.ID, Stage: stage, StageSeq: seq, UpdatedAt: at})
		if err != nil {
			t.Fatal(err)
		}
	}
	rec("outreach", 1)
	rec("cancelled", 2)
	rec("outreach", 1) // a retried first activity arriving late
	list, _, err := s.ListCollaborations(ctx, store.CollaborationFilter{CampaignID: ca.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Stage != "cancelled" {
		t.Fatalf("got %+v", list)
	}
	if list, _, _ := s.ListCollaborations(ctx, store.CollaborationFilter{Stage: "outreach", Limit: 10}); len(list) != 0 {
		t.Fatalf("stage filter: %+v", list)
	}
	err = s.RecordCollaboration(ctx, store.Collaboration{ID: "collab-2", CampaignID: ca.ID, CreatorID: "0190a0a0-0000-7000-8000-000000000000", Stage: "outreach", StageSeq: 1, UpdatedAt: at})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown creator: %v", err)
	}
}

// TestSignedContractIsTheLatestSigned: post verification reads the agreed platforms from
// the latest contract version that was signed, never from an unsigned draft.
func TestSignedContractIsTheLatestSigned(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	save := func(version int, platform string) store.Contract {
		t.Helper()
		k, err := s.SaveContract(ctx, store.Contract{CollaborationID: "collab-k", Version: version,
			Terms: []byte(`{"deliverables":[{"platform":"` + platform + `"}]}`), HTML: "<p>x</p>", SHA256: "x", ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	if _, err := s.SignedContract(ctx, "collab-k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no contract: %v", err)
	}
	v1 := save(1, "instagram")
	if _, err := s.SignedContract(ctx, "collab-k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unsigned: %v", err)
	}
	if err := s.RecordSignature(ctx, v1.ID, saveSignature(t, s, v1)); err != nil {
		t.Fatal(err)
	}
	v2 := save(2, "tiktok")
	steps := []struct {
		sign    *store.Contract
		version int
	}{
		{nil, 1}, // v2 is not signed yet
		{&v2, 2}, // now it is
	}
	for _, st := range steps {
		if st.sign != nil {
			if err := s.RecordSignature(ctx, st.sign.ID, saveSignature(t, s, *st.sign)); err != nil {
				t.Fatal(err)
			}
		}
		k, err := s.SignedContract(ctx, "collab-k")
		if err != nil || k.Version != st.version || k.Signature == nil {
			t.Fatalf("signed contract %+v %v, want version %d", k, err, st.version)
		}
	}

	cr, _ := s.CreateCreator(ctx, newCreator("kay", "kay@example.com", 1))
	c := campaigns.Campaign{Name: "k", Brand: "y", SenderEmail: "a@b.test"}
	c.ApplyDefaults()
	ca, _ := s.CreateCampaign(ctx, c)
	if err := s.RecordCollaboration(ctx, store.Collaboration{ID: "collab-k", CampaignID: ca.ID, CreatorID: cr.ID, Stage: "verifying", StageSeq: 1, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Collaboration(ctx, "collab-k"); err != nil || got.CreatorID != cr.ID {
		t.Fatalf("collaboration %+v %v", got, err)
	}
	if _, err := s.Collaboration(ctx, "collab-none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown collaboration: %v", err)
	}
}

// saveSignature stores signature evidence for contract k, as the portal does, and returns
// its id.
func saveSignature(t *testing.T, s *store.Store, k store.Contract) string {
	t.Helper()
	id, err := s.SaveSignature(context.Background(), store.SignatureEvidence{ContractID: k.ID, CollaborationID: k.CollaborationID,
		Name: "Ada Lovelace", IP: "203.0.113.7", UserAgent: "test", RequestID: "r", At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestRecordSignature: a contract is signed with stored evidence of its own signature
// only; the first signature stays.
func TestRecordSignature(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	save := func(collab string) store.Contract {
		k, err := s.SaveContract(ctx, store.Contract{CollaborationID: collab, Version: 1, Terms: []byte(`{}`), HTML: "<p>x</p>", SHA256: "h", ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k, other := save("collab-sig-1"), save("collab-sig-2")
	first, second, foreign := saveSignature(t, s, k), saveSignature(t, s, k), saveSignature(t, s, other)
	if err := s.RecordSignature(ctx, k.ID, foreign); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another contract's signature: %v", err)
	}
	if err := s.RecordSignature(ctx, k.ID, "0190a000-0000-7000-8000-000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no such signature: %v", err)
	}
	for _, sig := range []string{first, second} {
		if err := s.RecordSignature(ctx, k.ID, sig); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Contract(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Signature == nil || got.Signature.Name != "Ada Lovelace" || got.Signature.IP != "203.0.113.7" {
		t.Fatalf("signature %+v", got.Signature)
	}
	// A refused signature's evidence can go; a recorded one stays.
	if err := s.DiscardSignature(ctx, first); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Contract(ctx, k.ID); got.Signature == nil {
		t.Fatal("discarding the recorded signature cleared it")
	}
}
