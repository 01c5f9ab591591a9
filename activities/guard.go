package activities

import "context"

// QueryMaySend is the collaboration workflow's query that an email activity asks right
// before it hands an email to the provider: it takes a SendCheck and returns a
// SendVerdict. Temporal answers it from the workflow's current state, so a reply, stop
// event or cancel accepted while the send waited (a backlog, a provider outage) stops it.
const QueryMaySend = "may_send"

// SendCheck names the email about to go out.
type SendCheck struct {
	// Kind is "outreach" for a sequence email, else the notice kind (Notice*) or "ops".
	Kind string `json:"kind"`
	// Step is the outreach step, counting from 0; unused for notices.
	Step int `json:"step"`
}

// SendVerdict is the workflow's answer to a SendCheck.
type SendVerdict struct {
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason,omitempty"`
}

// Collaborations asks a collaboration's workflow whether an email may still go out;
// TemporalCollaborations implements it with the QueryMaySend query.
type Collaborations interface {
	MaySend(ctx context.Context, collaborationID string, check SendCheck) (SendVerdict, error)
}

// SendStopped is the result status of an email the collaboration no longer wanted when
// its turn came: nothing was sent.
const SendStopped = "stopped"
