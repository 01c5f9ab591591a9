package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/api"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
)

// TestReadyz: /readyz answers 200 only when PostgreSQL and its schema are fine, and
// otherwise 503 naming the check that failed; /healthz answers 200 whatever
// the dependencies do, since restarting the process would mend none of them.
func TestReadyz(t *testing.T) {
	ctx := context.Background()
	url, drop, err := storetest.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = drop() })
	// The same database through a search path without the schema: a database no
	// `collabflow migrate` has run on, as a new binary sees one before migrating.
	unmigrated, err := store.Open(ctx, withQuery(url, "search_path=nothing_migrated"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unmigrated.Close)
	// Nothing listens on port 1: the client cannot reach Temporal.
	unreachable, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unreachable.Close)

	for _, tc := range []struct {
		name   string
		tweak  func(*api.Config)
		status int
		failed []string
	}{
		{"all fine", func(*api.Config) {}, 200, []string{}},
		{"schema behind", func(cfg *api.Config) { cfg.Store = unmigrated }, 503, []string{"migrations"}},
		// The API stays ready without Temporal: temporal is degraded (TestTemporalDown).
		{"temporal unreachable", func(cfg *api.Config) { cfg.Temporal = unreachable }, 200, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := newAPI(t, tc.tweak)
			r := must(t, tc.status, callAt(t, base, "GET", "/readyz", "", nil))
			var got api.ReadyAnswer
			if err := json.Unmarshal(r.Raw, &got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Failed, tc.failed) {
				t.Fatalf("readyz failed %v, want %v: %s", got.Failed, tc.failed, r.Raw)
			}
			for _, check := range tc.failed {
				if got.Checks[check] == "ok" {
					t.Fatalf("check %s failed but shows ok: %s", check, r.Raw)
				}
			}
			if tc.name == "schema behind" && got.Checks["migrations"] != "behind" {
				t.Fatalf("migrations %q, want behind: %s", got.Checks["migrations"], r.Raw)
			}
			must(t, 200, callAt(t, base, "GET", "/healthz", "", nil))
		})
	}
}

// TestTemporalDown (issue 18 item 12): with Temporal unreachable the API stays ready,
// naming temporal as degraded, so that what needs only PostgreSQL (reads of the read
// model, webhooks, portal pages) keeps answering; a change that needs Temporal answers 503
// with Retry-After.
func TestTemporalDown(t *testing.T) {
	campaign, creator := newCampaign(t), newCreator(t)
	id := start(t, campaign, creator)
	waitForListed(t, "campaign_id="+campaign, id, "outreach")
	unreachable, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unreachable.Close)
	base := newAPI(t, func(cfg *api.Config) { cfg.Temporal = unreachable })

	r := must(t, 200, callAt(t, base, "GET", "/readyz", "", nil))
	var got api.ReadyAnswer
	if err := json.Unmarshal(r.Raw, &got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Degraded, []string{"temporal"}) || len(got.Failed) != 0 || got.Checks["temporal"] != "unavailable" {
		t.Fatalf("readyz with Temporal down: %s", r.Raw)
	}
	list := must(t, 200, callAt(t, base, "GET", "/v1/collaborations?campaign_id="+campaign, opsKey, nil))
	if !strings.Contains(string(list.Raw), id) {
		t.Fatalf("list without Temporal lacks %s: %s", id, list.Raw)
	}
	// An unsubscribe link's page needs only the signature and PostgreSQL.
	token := signer.Sign(activities.UnsubscribePurpose, creator+"|"+id, time.Time{})
	if r := callAt(t, base, "GET", "/u/"+token, "", nil); r.Status != http.StatusOK {
		t.Fatalf("unsubscribe page without Temporal: %d %s", r.Status, r.Raw)
	}
	// A collaboration's state is its workflow's.
	state := callAt(t, base, "GET", "/v1/collaborations/"+id, opsKey, nil)
	if state.Status != http.StatusServiceUnavailable || state.Header.Get("Retry-After") == "" {
		t.Fatalf("state without Temporal: %d Retry-After %q %s", state.Status, state.Header.Get("Retry-After"), state.Raw)
	}
	paused := callAt(t, base, "POST", "/v1/collaborations/"+id+"/pause", opsKey, `{"reason":"brand review"}`,
		"Idempotency-Key", "temporal-down-pause")
	if paused.Status != http.StatusServiceUnavailable || paused.Header.Get("Retry-After") == "" {
		t.Fatalf("pause without Temporal: %d Retry-After %q %s", paused.Status, paused.Header.Get("Retry-After"), paused.Raw)
	}
}

// TestReadinessHandler: the handler the metrics listener serves answers as /readyz does,
// and names temporal while the process has not connected yet.
func TestReadinessHandler(t *testing.T) {
	rec := httptest.NewRecorder()
	api.Readiness{Store: st, Temporal: temporalClient}.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("readyz: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	api.Readiness{Store: st}.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	var a api.ReadyAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || rec.Code != http.StatusServiceUnavailable || !slices.Equal(a.Failed, []string{"temporal"}) {
		t.Fatalf("readyz before Temporal is connected: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	api.Alive(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "{\"status\":\"OK\"}\n" {
		t.Fatalf("healthz: %d %q", rec.Code, rec.Body)
	}
}

// withQuery adds a query parameter to a connection URL.
func withQuery(url, param string) string {
	if strings.Contains(url, "?") {
		return url + "&" + param
	}
	return url + "?" + param
}
