package activities_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/testsuite"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/contract"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
)

// counter reads one series of a counter from reg, 0 when it is absent.
func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func newMetrics(t *testing.T) (*prometheus.Registry, *activities.Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := activities.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return reg, m
}

// TestMetricsCountEachSideEffectOnce: an activity retried after its side effect was done
// (Temporal runs activities at least once) is not counted again.
func TestMetricsCountEachSideEffectOnce(t *testing.T) {
	t.Run("email sent", func(t *testing.T) {
		o := newOutreachEnv(t)
		reg, m := newMetrics(t)
		o.acts.Metrics = m
		for range 2 {
			if res, err := o.send(t); err != nil || res.Status != activities.SendSent {
				t.Fatalf("send: %+v %v", res, err)
			}
		}
		if got := counter(t, reg, "collabflow_emails_sent_total", "kind", "outreach"); got != 1 {
			t.Fatalf("emails sent %v after a send and its retry, want 1", got)
		}
	})

	t.Run("email stopped", func(t *testing.T) {
		ctx := context.Background()
		st := storetest.New(t)
		reg, m := newMetrics(t)
		acts := &activities.Activities{Store: st, Metrics: m}
		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestActivityEnvironment()
		env.RegisterActivity(acts)
		if _, err := st.BeginEmail(ctx, store.Email{MessageKey: "collab-stop/1", CollaborationID: "collab-stop", Step: 1, Kind: "outreach",
			ToEmail: "ada@example.com", FromEmail: "collabs@acme.test", Subject: "Hi", BodyText: "Hi"}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := env.ExecuteActivity(acts.StopEmail, activities.StopEmailInput{MessageKey: "collab-stop/1", Reason: "replied"}); err != nil {
				t.Fatal(err)
			}
		}
		if got := counter(t, reg, "collabflow_emails_stopped_total", "kind", "outreach"); got != 1 {
			t.Fatalf("emails stopped %v after a stop and its retry, want 1", got)
		}
	})

	t.Run("payout created and confirmed", func(t *testing.T) {
		st := storetest.New(t)
		reg, m := newMetrics(t)
		acts := &activities.Activities{Store: st, Payouts: &fakeProvider{}, Metrics: m}
		var suite testsuite.WorkflowTestSuite
		env := suite.NewTestActivityEnvironment()
		env.RegisterActivity(acts)
		in := activities.PayoutInput{CollaborationID: "collab-count", Kind: activities.PayoutFee,
			Terms: contract.Terms{Currency: "EUR", FixedFee: 50000}}
		for range 2 {
			if _, err := env.ExecuteActivity(acts.CreatePayout, in); err != nil {
				t.Fatal(err)
			}
		}
		for event, want := range map[string]float64{"created": 1, "confirmed": 1} {
			if got := counter(t, reg, "collabflow_payouts_total", "event", event); got != want {
				t.Errorf("payouts %s %v after a payout and its retry, want %v", event, got, want)
			}
		}
	})
}
