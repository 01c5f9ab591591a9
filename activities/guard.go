package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

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
	// Until, when set, is when the email stops mattering (a contract or its reminder once
	// the contract expired): from then on the activity stops it without asking.
	Until time.Time `json:"until,omitzero"`
}

// SendVerdict is the workflow's answer to a SendCheck.
type SendVerdict struct {
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason,omitempty"`
	// Paused means not now, but later: ops paused the sequence. The email is neither
	// sent nor stopped, and goes out when the sequence resumes.
	Paused bool `json:"paused,omitempty"`
}

// Collaborations asks a collaboration's workflow whether an email may still go out;
// TemporalCollaborations implements it with the QueryMaySend query.
type Collaborations interface {
	MaySend(ctx context.Context, collaborationID string, check SendCheck) (SendVerdict, error)
}

// SendStopped is the result status of an email the collaboration no longer wanted when
// its turn came: nothing was sent.
const SendStopped = "stopped"

// TemporalCollaborations answers MaySend with the collaboration workflow's QueryMaySend
// query; the workflow ID is the collaboration ID.
type TemporalCollaborations struct {
	Client client.Client
}

// MaySend asks the collaboration's latest run. A collaboration Temporal does not know
// (never started, or past retention) wants no email; any other failure is an error the
// activity retries, because sending without an answer could email after a reply.
func (t TemporalCollaborations) MaySend(ctx context.Context, collaborationID string, check SendCheck) (SendVerdict, error) {
	v, err := t.Client.QueryWorkflow(ctx, collaborationID, "", QueryMaySend, check)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return SendVerdict{Allowed: false, Reason: "collaboration not found"}, nil
	}
	if err != nil {
		return SendVerdict{}, fmt.Errorf("ask %s whether its %s email may go out: %w", collaborationID, check.Kind, err)
	}
	var verdict SendVerdict
	if err := v.Get(&verdict); err != nil {
		return SendVerdict{}, fmt.Errorf("read %s's answer to %s: %w", collaborationID, QueryMaySend, err)
	}
	return verdict, nil
}
