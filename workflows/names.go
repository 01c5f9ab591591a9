// Package workflows holds the deterministic workflow code of a collaboration and the
// contract it shares with the API: names, payload types, IDs and stages.
//
// Nothing here does I/O or reads the clock; side effects live in package activities.
package workflows

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/outreach"
)

// TaskQueue is the task queue workers poll and the API starts workflows on.
const TaskQueue = "collabflow"

// EmailTaskQueue carries only email sends, so that its server-enforced rate limit
// (TaskQueueActivitiesPerSecond) caps sends across all collaborations and workers.
const EmailTaskQueue = "collabflow-email"

// CollaborationWorkflow is the registered name of the collaboration workflow type.
const CollaborationWorkflow = "Collaboration"

// Names of the collaboration's message handlers.
const (
	// QueryState returns the CollaborationState.
	QueryState = "state"
	// UpdateCancel takes a CancelRequest and returns the CollaborationState once cancelled.
	UpdateCancel = "cancel"
	// UpdateRecordReply takes a ReplyRequest (ops saw a reply outside the inbound hook)
	// and returns the CollaborationState once it moved to negotiating.
	UpdateRecordReply = "record_reply"
	// SignalOutreachEvent carries an OutreachEvent from the email webhooks.
	SignalOutreachEvent = "outreach_event"
)

// Stage is where a collaboration stands.
type Stage string

// Stages in the order a collaboration normally moves through them, then the ends.
const (
	StageOutreach     Stage = "outreach"
	StageNegotiating  Stage = "negotiating"
	StageContracting  Stage = "contracting"
	StageInProduction Stage = "in_production"
	StageInReview     Stage = "in_review"
	StageAwaitingPost Stage = "awaiting_post"
	StageVerifying    Stage = "verifying"
	StageLive         Stage = "live"
	StagePayout       Stage = "payout"
	StageCompleted    Stage = "completed"
	StageDeclined     Stage = "declined"
	StageNoResponse   Stage = "no_response"
	StageCancelled    Stage = "cancelled"
)

// Stages lists every stage, for validating filters.
var Stages = []Stage{
	StageOutreach, StageNegotiating, StageContracting, StageInProduction, StageInReview,
	StageAwaitingPost, StageVerifying, StageLive, StagePayout, StageCompleted,
	StageDeclined, StageNoResponse, StageCancelled,
}

// Terminal reports whether a collaboration in this stage has ended.
func (s Stage) Terminal() bool {
	switch s {
	case StageCompleted, StageDeclined, StageNoResponse, StageCancelled:
		return true
	}
	return false
}

// CollaborationID is the workflow ID of the one collaboration between a campaign and a
// creator. It holds only opaque ids, never personal data, because IDs are not encrypted.
func CollaborationID(campaignID, creatorID string) string {
	return "collab-" + campaignID + "-" + creatorID
}

// Search attributes the collaboration sets, for finding workflows in Temporal's own tools.
// They must be registered on the namespace; `collabflow dev` does so at start.
var (
	SearchStage    = temporal.NewSearchAttributeKeyKeyword("CollabStage")
	SearchCampaign = temporal.NewSearchAttributeKeyKeyword("CollabCampaignId")
	SearchCreator  = temporal.NewSearchAttributeKeyKeyword("CollabCreatorId")
)

// SearchAttributeTypes lists the custom search attributes to register on a namespace.
func SearchAttributeTypes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		SearchStage.GetName():    enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchCampaign.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchCreator.GetName():  enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
}

// Actor is who asked for a change: the API key's name and role and the request's ID, so
// that the history shows who did what.
type Actor struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	RequestID string `json:"request_id"`
}

// CollaborationInput starts a collaboration. Timings are copied from the campaign at
// start so that the history holds the exact terms the workflow ran by.
type CollaborationInput struct {
	CampaignID string            `json:"campaign_id"`
	CreatorID  string            `json:"creator_id"`
	Timings    campaigns.Timings `json:"timings"`
	Outreach   OutreachPlan      `json:"outreach"`
	StartedBy  Actor             `json:"started_by"`
}

// OutreachPlan is what the outreach sequence needs to know at start: how many emails and
// when they may go out. The emails themselves are rendered when sent.
type OutreachPlan struct {
	Steps    int             `json:"steps"`
	Window   outreach.Window `json:"window"`
	Timezone string          `json:"timezone"`
}

// OutreachEvent is news about the outreach from outside: a reply, a bounce, an
// unsubscribe. Webhooks send it as a signal; duplicates are harmless.
type OutreachEvent struct {
	Kind       string    `json:"kind"`
	At         time.Time `json:"at"`
	MessageKey string    `json:"message_key,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	Actor      *Actor    `json:"actor,omitempty"`
}

// Outreach event kinds. A reply moves the collaboration on; the others stop the sequence.
const (
	OutreachReply       = "reply"
	OutreachBounce      = "bounce"
	OutreachDropped     = "dropped"
	OutreachSpamReport  = "spamreport"
	OutreachUnsubscribe = "unsubscribe"
	OutreachSuppressed  = "suppressed"
)

// ReplyRequest records a reply that ops received some other way.
type ReplyRequest struct {
	Actor Actor  `json:"actor"`
	Note  string `json:"note"`
}

// CancelRequest ends a collaboration as cancelled.
type CancelRequest struct {
	Actor  Actor  `json:"actor"`
	Reason string `json:"reason"`
}

// MaxReasonLength bounds free-text reasons kept in history.
const MaxReasonLength = 1000

// Event is one entry of a collaboration's own record of what happened.
type Event struct {
	Seq    int       `json:"seq"`
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`
	From   Stage     `json:"from,omitempty"`
	To     Stage     `json:"to,omitempty"`
	Actor  *Actor    `json:"actor,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Event kinds.
const (
	EventStarted         = "started"
	EventCancelled       = "cancelled"
	EventEmailSent       = "email_sent"
	EventEmailFailed     = "email_failed"
	EventReplyReceived   = "reply_received"
	EventOutreachStopped = "outreach_stopped"
	EventNoResponse      = "no_response"
	// EventEmailNews is a provider event about an email after outreach has ended.
	EventEmailNews = "email_event"
)

// Outreach statuses, as CollaborationState.Outreach.Status reports them.
const (
	OutreachRunning    = "running"
	OutreachReplied    = "replied"
	OutreachStopped    = "stopped"
	OutreachNoResponse = "no_response"
	// OutreachFailed means the provider refused an email for good; the collaboration
	// waits in outreach for ops to record a reply or cancel.
	OutreachFailed = "failed"
)

// OutreachState is the sequence's progress.
type OutreachState struct {
	Status     string    `json:"status"`
	EmailsSent int       `json:"emails_sent"`
	Steps      int       `json:"steps"`
	NextSendAt time.Time `json:"next_send_at,omitzero"`
	StopReason string    `json:"stop_reason,omitempty"`
}

// CollaborationState is what the state query returns and the workflow's result.
type CollaborationState struct {
	ID           string            `json:"id"`
	CampaignID   string            `json:"campaign_id"`
	CreatorID    string            `json:"creator_id"`
	Stage        Stage             `json:"stage"`
	StartedAt    time.Time         `json:"started_at,omitzero"`
	UpdatedAt    time.Time         `json:"updated_at,omitzero"`
	CancelReason string            `json:"cancel_reason,omitempty"`
	EndReason    string            `json:"end_reason,omitempty"`
	Outreach     OutreachState     `json:"outreach"`
	Timings      campaigns.Timings `json:"timings"`
	Events       []Event           `json:"events"`
}
