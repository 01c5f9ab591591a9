package workflows

import (
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
)

// RightsWorkflow is the registered name of Rights.
const RightsWorkflow = "Rights"

// RightsWorkflowID is the workflow ID of a collaboration's rights windows.
func RightsWorkflowID(collaborationID string) string { return "rights-" + collaborationID }

// RightsNotice is how long before a window ends ops are told; a shorter window is told
// at half its length.
const RightsNotice = 7 * 24 * time.Hour

// RightsState is what the brand may still do with the content, from the agreed terms,
// counted from when the posts were verified live.
type RightsState struct {
	// UsageUntil is when the brand's right to reuse the content ends; zero when the terms
	// grant none.
	UsageUntil time.Time `json:"usage_until,omitzero"`
	// ExclusivityUntil is when the creator may work with the brand's competitors again;
	// zero when the terms ask no exclusivity.
	ExclusivityUntil time.Time `json:"exclusivity_until,omitzero"`
}

// RightsInput starts the timers of a collaboration's usage-rights and exclusivity windows.
type RightsInput struct {
	CollaborationID string      `json:"collaboration_id"`
	LiveAt          time.Time   `json:"live_at"`
	Rights          RightsState `json:"rights"`
}

// rightsMoment is a notice Rights sends at a time.
type rightsMoment struct {
	at           time.Time
	key, subject string
	text         string
}

// Rights tells ops before each window of a collaboration's rights ends and when it has
// ended. It runs apart from the collaboration (a child it abandons), because the windows
// outlast the collaboration's payout by months. It needs no state of its own: the
// collaboration's holds the windows, and its notices are keyed so a retry sends each once.
func Rights(ctx workflow.Context, in RightsInput) error {
	var moments []rightsMoment
	for _, w := range []struct {
		name, key string
		until     time.Time
	}{{"usage rights", "usage", in.Rights.UsageUntil}, {"exclusivity", "exclusivity", in.Rights.ExclusivityUntil}} {
		if w.until.IsZero() {
			continue
		}
		before := min(RightsNotice, w.until.Sub(in.LiveAt)/2)
		moments = append(moments,
			rightsMoment{at: w.until.Add(-before), key: "rights/" + w.key + "-ending", subject: "The " + w.name + " of a collaboration end soon",
				text: fmt.Sprintf("The %s end on %s. Renew them with the creator before then if the brand needs them.", w.name, w.until.Format("2 January 2006 15:04 MST"))},
			rightsMoment{at: w.until, key: "rights/" + w.key + "-ended", subject: "The " + w.name + " of a collaboration ended",
				text: fmt.Sprintf("The %s ended on %s.", w.name, w.until.Format("2 January 2006 15:04 MST"))})
	}
	slices.SortStableFunc(moments, func(a, b rightsMoment) int { return a.at.Compare(b.at) })
	queued := workflow.GetVersion(ctx, changeRightsNotice, workflow.DefaultVersion, 1) >= 1
	actx := workflow.WithActivityOptions(ctx, attentionOptions)
	if queued {
		actx = workflow.WithActivityOptions(ctx, noticeQueueOptions)
	}
	for _, m := range moments {
		if d := m.at.Sub(workflow.Now(ctx)); d > 0 {
			if err := workflow.Sleep(ctx, d); err != nil {
				return err
			}
		}
		var res activities.SendEmailResult
		err := workflow.ExecuteActivity(actx, a.NotifyOps, activities.OpsNoteInput{
			CollaborationID: in.CollaborationID, Key: m.key, Subject: m.subject, Text: m.text, UnlessCancelled: queued,
		}).Get(ctx, &res)
		if err != nil {
			workflow.GetLogger(ctx).Warn("rights notice not sent", "key", m.key, "error", err)
		}
		if queued && res.Status == activities.SendStopped {
			// The collaboration was cancelled: it has no rights left to remind of.
			workflow.GetLogger(ctx).Info("rights notices stop with their collaboration", "key", m.key, "reason", res.Reason)
			return nil
		}
	}
	return nil
}

// changeRightsNotice is the version from which a rights notice waits out an email outage
// like any notice (noticeQueueOptions: a day, on the notice task queue) rather than giving
// up after minutes, and is not sent once the collaboration was cancelled (the activity
// asks the read model right before sending).
const changeRightsNotice = "rights-notice-1"

// changeRights is the version from which a collaboration that goes live starts the Rights
// workflow for its usage-rights and exclusivity windows.
const changeRights = "rights-1"

// startRights starts the Rights workflow when the agreed terms grant usage rights or ask
// exclusivity, abandoned so that it outlives the collaboration. The windows go in the
// state whatever the version: they are what the brand may still do with the content.
func (c *collaboration) startRights(ctx workflow.Context, liveAt time.Time) {
	t := c.state.AgreedTerms
	if t == nil || (t.UsageRightsDays <= 0 && t.ExclusivityDays <= 0) {
		return
	}
	r := RightsState{}
	if t.UsageRightsDays > 0 {
		r.UsageUntil = liveAt.AddDate(0, 0, t.UsageRightsDays)
	}
	if t.ExclusivityDays > 0 {
		r.ExclusivityUntil = liveAt.AddDate(0, 0, t.ExclusivityDays)
	}
	c.state.Rights = &r
	if workflow.GetVersion(ctx, changeRights, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		// From the input, not the run's own ID: a replay under another ID starts the same child.
		WorkflowID:        RightsWorkflowID(CollaborationID(c.input.CampaignID, c.input.CreatorID)),
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	child := workflow.ExecuteChildWorkflow(cctx, RightsWorkflow, RightsInput{CollaborationID: c.state.ID, LiveAt: liveAt, Rights: r})
	if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
		c.record(ctx, Event{Kind: EventReadModelStale, Detail: "rights reminders not started: " + failureText(err)})
	}
}
