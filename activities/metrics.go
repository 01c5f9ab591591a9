package activities

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts the side effects the activities confirm: emails sent and stopped,
// post verifications passed and failed, payouts created and confirmed. An activity runs
// at least once, so each is counted where this attempt made the change (the row's
// idempotency key was not already done), never on a retry that finds it done. The counts
// are per process; sum them over the workers.
type Metrics struct {
	emailsSent    *prometheus.CounterVec
	emailsStopped *prometheus.CounterVec
	verifications *prometheus.CounterVec
	payouts       *prometheus.CounterVec
}

// NewMetrics registers the counters on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		emailsSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "collabflow_emails_sent_total", Help: "Emails SendGrid accepted, by kind (outreach, notice, ops).",
		}, []string{"kind"}),
		emailsStopped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "collabflow_emails_stopped_total", Help: "Emails not sent because their collaboration stopped them (a reply, bounce, unsubscribe or cancel), by kind.",
		}, []string{"kind"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "collabflow_verifications_total", Help: "Post verifications that reached a verdict, by result (passed, failed).",
		}, []string{"result"}),
		payouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "collabflow_payouts_total", Help: "Payout ledger rows created and confirmed paid, by event (created, confirmed).",
		}, []string{"event"}),
	}
	// Label values known in advance are created at zero, so that a rate over them exists
	// before the first event.
	m.verifications.WithLabelValues("passed")
	m.verifications.WithLabelValues("failed")
	m.payouts.WithLabelValues("created")
	m.payouts.WithLabelValues("confirmed")
	for _, c := range []prometheus.Collector{m.emailsSent, m.emailsStopped, m.verifications, m.payouts} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// The methods below do nothing on a nil *Metrics: tests and tools run activities without.

func (m *Metrics) emailSent(kind string) {
	if m != nil {
		m.emailsSent.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) emailStopped(kind string) {
	if m != nil {
		m.emailsStopped.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) verified(passed bool) {
	if m == nil {
		return
	}
	result := "failed"
	if passed {
		result = "passed"
	}
	m.verifications.WithLabelValues(result).Inc()
}

func (m *Metrics) payout(event string) {
	if m != nil {
		m.payouts.WithLabelValues(event).Inc()
	}
}
