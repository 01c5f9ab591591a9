package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"
)

// SignalRefusedInput is where a worker whose payloads are encrypted delivers a signal
// whose payload was not (worker.RefusePlain): the API and the workers encrypt everything,
// so a plain payload was written around them (the Temporal CLI, a Web UI, any holder of a
// Temporal credential) and its actor may be anyone's. The collaboration records the
// refusal and tells ops; the payload itself is neither applied nor kept.
const SignalRefusedInput = "refused_input"

// RefusedInput names the signal a worker refused; never its payload.
type RefusedInput struct {
	Signal string `json:"signal"`
}

// EventInputRefused records a signal refused because its payload was not encrypted.
const EventInputRefused = "input_refused"

// changeRefusedInput gates the commands a refused signal causes (its ops notice). No
// recorded history holds a refused_input signal, so only new input reaches it.
const changeRefusedInput = "refused-input-1"

// maxRefusalsRecorded bounds the events a run records for refused signals: whoever sends
// them could otherwise grow the history at will. Ops hear of the first one; the worker
// logs them all.
const maxRefusalsRecorded = 20

// listenForRefusedInput records each refused signal as it comes, in a coroutine of its
// own: it touches nothing the main coroutine decides on.
func (c *collaboration) listenForRefusedInput(ctx workflow.Context) {
	ch := workflow.GetSignalChannel(ctx, SignalRefusedInput)
	workflow.Go(ctx, func(ctx workflow.Context) {
		refusals := 0
		for {
			var r RefusedInput
			if !ch.Receive(ctx, &r) {
				return
			}
			if workflow.GetVersion(ctx, changeRefusedInput, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
				continue
			}
			if refusals++; refusals > maxRefusalsRecorded {
				continue
			}
			c.onRefusedInput(ctx, r, refusals == 1)
		}
	})
}

// onRefusedInput records a refused signal and, for the first of a run, emails ops.
func (c *collaboration) onRefusedInput(ctx workflow.Context, r RefusedInput, notify bool) {
	what := "a signal the collaboration does not handle"
	if r.Signal == SignalOutreachEvent {
		what = "signal " + r.Signal
	}
	text := what + " was refused and not applied: its payload was not encrypted, so it was sent straight to Temporal, around the API and its roles, and its actor may be anyone's"
	e := c.record(ctx, Event{Kind: EventInputRefused, Detail: text})
	if notify {
		c.notifyOps(ctx, fmt.Sprintf("refused-input/%d", e.Seq), "Refused a signal sent around the API",
			text+". Find out who holds write access to the Temporal namespace.")
	}
}
