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
	"github.com/collabflow/collabflow/contract"
	"github.com/collabflow/collabflow/outreach"
)

// TaskQueue is the task queue workers poll and the API starts workflows on.
const TaskQueue = "collabflow"

// EmailTaskQueue carries only email sends, so that its server-enforced rate limit
// (TaskQueueActivitiesPerSecond) caps sends across all collaborations and workers.
const EmailTaskQueue = "collabflow-email"

// NoticeTaskQueue carries the transactional emails a deal waits for (contract, brief,
// reminders, changes requested, verification failed) and ops notices, under a rate limit
// of its own, so that they never queue behind a launch's bulk outreach on EmailTaskQueue.
const NoticeTaskQueue = "collabflow-notice"

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
	// UpdateOffer takes an OfferRequest: an offer or counter-offer in negotiating.
	UpdateOffer = "offer"
	// UpdateAccept takes an AcceptRequest: the latest offer becomes the agreed terms.
	UpdateAccept = "accept"
	// UpdateDecline takes a DeclineRequest and ends the collaboration as declined.
	UpdateDecline = "decline"
	// UpdateSign takes a SignRequest from the contract portal.
	UpdateSign = "sign"
	// UpdateSubmitDraft takes a DraftRequest from the content portal or ops.
	UpdateSubmitDraft = "submit_draft"
	// UpdateReview takes a ReviewRequest on the latest draft.
	UpdateReview = "review"
	// UpdateSubmitPost takes a PostRequest: a live post's URL.
	UpdateSubmitPost = "submit_post"
	// UpdateOverride takes an OverrideRequest: ops accept a post the checks refused, or
	// release a payout hold.
	UpdateOverride = "override_verification"
	// UpdateConfirmPayout takes a PayoutConfirmation from finance.
	UpdateConfirmPayout = "confirm_payout"
	// UpdateResolve takes a ResolveRequest: ops' decision on an open escalation
	// (CollaborationState.Attention). Cancelling is UpdateCancel.
	UpdateResolve = "resolve"
	// UpdatePause takes a PauseRequest: the outreach sequence sends nothing, and its
	// waits stand still, until UpdateResume.
	UpdatePause = "pause_outreach"
	// UpdateResume takes a PauseRequest and lets a paused sequence carry on where it was.
	UpdateResume = "resume_outreach"
	// UpdateExtendDeadline takes an ExtendRequest: ops give the draft, review or posts the
	// collaboration waits for more time, before or after the deadline passed.
	UpdateExtendDeadline = "extend_deadline"
)

// Bounds of a deadline extension.
const (
	MinExtension = time.Hour
	MaxExtension = 90 * 24 * time.Hour
)

// ExtendRequest moves the running deadline (draft, review or posts) By later than the later
// of the deadline and now, with an optional reason. An overdue collaboration's attention
// ends with it.
type ExtendRequest struct {
	Actor  Actor              `json:"actor"`
	By     campaigns.Duration `json:"by"`
	Reason string             `json:"reason,omitempty"`
}

// PauseRequest pauses or resumes a collaboration's outreach, with an optional reason.
type PauseRequest struct {
	Actor  Actor  `json:"actor"`
	Reason string `json:"reason,omitempty"`
}

// Decisions on an escalation.
const (
	// ResolveRetry runs the step that gave up again.
	ResolveRetry = "retry"
	// ResolveOverride carries on without the step, for the reason given.
	ResolveOverride = "override"
)

// ResolveRequest is ops' decision on an open escalation.
type ResolveRequest struct {
	Actor    Actor  `json:"actor"`
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
}

// Attention is an open escalation: why the collaboration waits for ops and since when.
// Ops resolve it (retry or override, with UpdateResolve) or cancel the collaboration.
type Attention struct {
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	// Step names what gave up or was refused (for example "payout", "verify_post").
	Step string `json:"step"`
	// Overridable says whether ops may carry on without the step.
	Overridable bool `json:"overridable"`
	// Due is the deadline that passed, for an overdue draft, review or posts: ops extend it
	// (UpdateExtendDeadline) or cancel; the creator or a reviewer may still deliver.
	Due time.Time `json:"due,omitzero"`
}

// InvalidArgument is the error type of a validator's refusal of bad input (the API
// answers 422); other refusals are about the collaboration's state (409).
const InvalidArgument = "InvalidArgument"

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
	// Opening is the brand's opening offer, from the campaign.
	Opening contract.Terms `json:"opening"`
	// AutoApprove approves a draft that carries the disclosure when no review came within
	// the review SLA; off unless the campaign asks for it.
	AutoApprove bool  `json:"auto_approve"`
	StartedBy   Actor `json:"started_by"`
	// Resume carries the state into a new run after Continue-As-New (in verifying or live).
	Resume *CollaborationState `json:"resume,omitempty"`
	// AppliedUpdates carries the IDs of updates applied by earlier runs, so that a retry
	// after Continue-As-New is not applied again.
	AppliedUpdates []string `json:"applied_updates,omitempty"`
	// ContinueAsNewAfter is the history length at which the live window continues as a
	// new run; zero means DefaultContinueAsNewAfter.
	ContinueAsNewAfter int `json:"continue_as_new_after,omitempty"`
}

// DefaultContinueAsNewAfter keeps a run well under Temporal's 4 096-event suggestion.
const DefaultContinueAsNewAfter = 2000

// PostRequest submits the URL of a live post, by ops or the creator through the portal.
type PostRequest struct {
	Actor *Actor `json:"actor,omitempty"`
	URL   string `json:"url"`
}

// OverrideRequest accepts post N despite failed checks (Post > 0), or releases a payout
// hold (Post == 0), with a recorded reason.
type OverrideRequest struct {
	Actor  Actor  `json:"actor"`
	Post   int    `json:"post"`
	Reason string `json:"reason"`
}

// PayoutConfirmation is finance confirming a payout was paid.
type PayoutConfirmation struct {
	Actor     Actor  `json:"actor"`
	PayoutID  string `json:"payout_id"`
	Reference string `json:"reference"`
}

// Attribution is the collaboration's discount code and tracking link.
type Attribution struct {
	Code        string `json:"code"`
	TrackingURL string `json:"tracking_url"`
	// Requested is the code the terms named when another collaboration held it.
	Requested string `json:"requested,omitempty"`
}

// Post is one live post and its latest verification.
type Post struct {
	N            int           `json:"n"`
	URL          string        `json:"url"`
	SubmittedAt  time.Time     `json:"submitted_at"`
	SubmittedBy  *Actor        `json:"submitted_by,omitempty"`
	Verification *Verification `json:"verification,omitempty"`
	// Override is ops' reason for accepting the post despite failed checks.
	Override string `json:"override,omitempty"`
}

// Verification is the evidence of one check of a post (verify.Report's JSON).
type Verification struct {
	Status        int         `json:"status"`
	ContentSHA256 string      `json:"content_sha256"`
	Checks        []PostCheck `json:"checks"`
	Passed        bool        `json:"passed"`
	FetchedAt     time.Time   `json:"fetched_at"`
}

// PostCheck is one named check with its evidence.
type PostCheck struct {
	Name     string `json:"name"`
	Passed   bool   `json:"passed"`
	Evidence string `json:"evidence"`
}

// PayoutState is a ledger row as the workflow knows it.
type PayoutState struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Currency  string `json:"currency"`
	Amount    int64  `json:"amount"`
	Status    string `json:"status"`
	Reference string `json:"reference,omitempty"`
}

// OutreachPlan is what the outreach sequence needs to know at start: how many emails and
// when they may go out. The emails themselves are rendered when sent.
type OutreachPlan struct {
	Steps    int             `json:"steps"`
	Window   outreach.Window `json:"window"`
	Timezone string          `json:"timezone"`
	// Experiment and Variant name the outreach A/B test arm whose sequence is sent
	// instead of the campaign's; empty for the campaign's own.
	Experiment string `json:"experiment,omitempty"`
	Variant    string `json:"variant,omitempty"`
}

// OutreachEvent is news about the outreach from outside: a reply, a bounce, an
// unsubscribe. Webhooks send it as a signal; duplicates are harmless. It carries no
// personal data: Ref names the PostgreSQL row holding what the creator or the provider
// sent (an inbound message, a provider event, a note), and Detail is a fixed description.
type OutreachEvent struct {
	Kind       string    `json:"kind"`
	At         time.Time `json:"at"`
	MessageKey string    `json:"message_key,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	Ref        string    `json:"ref,omitempty"`
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
	// OutreachSentAfterStop is SendGrid's word that an email the workflow recorded
	// stopped had gone out: its send's answer was lost before the stop. It is counted,
	// and stops nothing.
	OutreachSentAfterStop = "sent_after_stop"
)

// Who made an offer.
const (
	FromBrand   = "brand"
	FromCreator = "creator"
)

// OfferRequest is an offer by the brand or a counter-offer by the creator, as ops records it.
type OfferRequest struct {
	Actor Actor          `json:"actor"`
	From  string         `json:"from"`
	Terms contract.Terms `json:"terms"`
	Note  string         `json:"note,omitempty"`
}

// Offer is one offer in the negotiation, numbered from 1.
type Offer struct {
	N     int            `json:"n"`
	From  string         `json:"from"`
	Terms contract.Terms `json:"terms"`
	Note  string         `json:"note,omitempty"`
	Actor Actor          `json:"actor"`
	At    time.Time      `json:"at"`
}

// AcceptRequest agrees to offer N, which must be the latest.
type AcceptRequest struct {
	Actor Actor `json:"actor"`
	Offer int   `json:"offer"`
}

// DeclineRequest ends the collaboration as declined.
type DeclineRequest struct {
	Actor  Actor  `json:"actor"`
	Reason string `json:"reason"`
}

// SignRequest is a creator signing through the contract portal. The evidence a person
// gave (typed name, address, browser) is stored in PostgreSQL first under SignatureID,
// so that erasing it leaves the history intact.
type SignRequest struct {
	ContractID  string    `json:"contract_id"`
	SHA256      string    `json:"sha256"`
	SignatureID string    `json:"signature_id"`
	At          time.Time `json:"at"`
	RequestID   string    `json:"request_id"`
	// LinkHash is the short hash of the portal link the signature came through.
	LinkHash string `json:"link_hash,omitempty"`
}

// DraftRequest submits a draft: asset links and the caption. Actor is the ops key, or
// the creator (role "creator") through the content portal.
type DraftRequest struct {
	Actor   *Actor   `json:"actor,omitempty"`
	Assets  []string `json:"assets"`
	Caption string   `json:"caption"`
}

// Review decisions.
const (
	DecisionApprove = "approve"
	DecisionChanges = "changes"
)

// ReviewRequest decides on draft N, which must be the latest.
type ReviewRequest struct {
	Actor    Actor  `json:"actor"`
	Draft    int    `json:"draft"`
	Decision string `json:"decision"`
	Comments string `json:"comments"`
}

// ContractState is the contract sent for signature and, once signed, the signature.
type ContractState struct {
	Version    int          `json:"version"`
	ContractID string       `json:"contract_id"`
	SHA256     string       `json:"sha256"`
	SentAt     time.Time    `json:"sent_at"`
	ExpiresAt  time.Time    `json:"expires_at"`
	Signed     *SignRequest `json:"signed,omitempty"`
}

// Draft is one submitted draft and, once reviewed, the review.
type Draft struct {
	N           int       `json:"n"`
	Assets      []string  `json:"assets"`
	Caption     string    `json:"caption"`
	SubmittedAt time.Time `json:"submitted_at"`
	// SubmittedBy is nil for the creator (portal).
	SubmittedBy *Actor  `json:"submitted_by,omitempty"`
	Review      *Review `json:"review,omitempty"`
}

// Review is a decision on a draft.
type Review struct {
	Decision string    `json:"decision"`
	Comments string    `json:"comments,omitempty"`
	Actor    Actor     `json:"actor"`
	At       time.Time `json:"at"`
}

// ReplyRequest records a reply that ops received some other way. What ops typed about
// it is stored in PostgreSQL under NoteID: it may quote the creator.
type ReplyRequest struct {
	Actor  Actor  `json:"actor"`
	NoteID string `json:"note_id"`
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

	EventOffer            = "offer"
	EventAccepted         = "terms_agreed"
	EventDeclined         = "declined"
	EventContractSent     = "contract_sent"
	EventContractReminder = "contract_reminder"
	EventContractExpired  = "contract_expired"
	EventSigned           = "contract_signed"
	EventBriefSent        = "brief_sent"
	EventDraftSubmitted   = "draft_submitted"
	EventDraftReminder    = "draft_reminder"
	EventDraftOverdue     = "draft_overdue"
	EventReviewOverdue    = "review_overdue"
	EventReviewed         = "draft_reviewed"
	EventEscalated        = "escalated"
	EventPostSubmitted    = "post_submitted"
	EventPostReminder     = "post_reminder"
	EventPostOverdue      = "post_overdue"
	EventVerified         = "posts_verified"
	EventVerifyFailed     = "verification_failed"
	EventOverride         = "verification_override"
	EventHold             = "payout_hold"
	EventHoldReleased     = "payout_hold_released"
	EventLiveEnded        = "live_window_ended"
	EventPayoutCreated    = "payout_created"
	EventPayoutConfirmed  = "payout_confirmed"
	// EventPayoutRefused records a confirmation of a payout the ledger refused: the row
	// was paid otherwise or is not this collaboration's.
	EventPayoutRefused  = "payout_confirmation_refused"
	EventContinuedAsNew = "continued_as_new"
	// EventEmailStopped is an email dropped because the outreach ended before it went out.
	EventEmailStopped = "email_stopped"
	// EventResolved ends an escalation: ops' decision, or the collaboration ending.
	EventResolved = "escalation_resolved"
	// EventReadModelStale records that the read model could not be told of a change.
	EventReadModelStale = "read_model_stale"
	// EventCodeReplaced records that the terms' discount code was taken by another
	// collaboration and another one was assigned.
	EventCodeReplaced = "discount_code_replaced"
	// EventVerifyUnreachable records that the post host could not be reached for a check.
	EventVerifyUnreachable = "verification_unreachable"
	// EventOutreachPaused and EventOutreachResumed record ops pausing the sequence.
	EventOutreachPaused  = "outreach_paused"
	EventOutreachResumed = "outreach_resumed"
	// EventDeadlineExtended records ops giving a draft, review or posts more time.
	EventDeadlineExtended = "deadline_extended"
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
	Status string `json:"status"`
	// PausedAt is when ops paused the running sequence; zero while it runs.
	PausedAt   time.Time `json:"paused_at,omitzero"`
	EmailsSent int       `json:"emails_sent"`
	Steps      int       `json:"steps"`
	NextSendAt time.Time `json:"next_send_at,omitzero"`
	StopReason string    `json:"stop_reason,omitempty"`
}

// CollaborationState is what the state query returns and the workflow's result.
type CollaborationState struct {
	ID           string          `json:"id"`
	CampaignID   string          `json:"campaign_id"`
	CreatorID    string          `json:"creator_id"`
	Stage        Stage           `json:"stage"`
	StartedAt    time.Time       `json:"started_at,omitzero"`
	UpdatedAt    time.Time       `json:"updated_at,omitzero"`
	CancelReason string          `json:"cancel_reason,omitempty"`
	EndReason    string          `json:"end_reason,omitempty"`
	Outreach     OutreachState   `json:"outreach"`
	Offers       []Offer         `json:"offers"`
	AgreedTerms  *contract.Terms `json:"agreed_terms,omitempty"`
	Contract     *ContractState  `json:"contract,omitempty"`
	Drafts       []Draft         `json:"drafts"`
	// RevisionsUsed counts drafts sent back for changes.
	RevisionsUsed int `json:"revisions_used"`
	// DraftDue is when the current draft is due.
	DraftDue time.Time `json:"draft_due,omitzero"`
	// ReviewDue is when the review of the draft in review is due (the review SLA, or as
	// ops extended it); zero outside in_review.
	ReviewDue time.Time `json:"review_due,omitzero"`
	// Approved is the approved draft, kept for posting and verification.
	Approved *Draft `json:"approved,omitempty"`
	// Escalation says what only ops may now do (more changes once the revision rounds are
	// used). Runs whose draft or post deadline passed before changeOverdueAttention set it
	// for the overdue delivery too; since then that is Attention.
	Escalation string `json:"escalation,omitempty"`
	// Attention is an escalation the workflow is blocked on until ops resolve it.
	Attention   *Attention   `json:"attention,omitempty"`
	Attribution *Attribution `json:"attribution,omitempty"`
	Posts       []Post       `json:"posts"`
	// PostsRequired is how many posts the deliverables call for.
	PostsRequired int       `json:"posts_required"`
	PostsDue      time.Time `json:"posts_due,omitzero"`
	LiveUntil     time.Time `json:"live_until,omitzero"`
	// Rights is what the brand may still do with the content once it is live.
	Rights *RightsState `json:"rights,omitempty"`
	// Hold stops the payout while a live post fails its checks.
	Hold string `json:"hold,omitempty"`
	// VerifyAttempts counts checks in verifying that did not pass (numbering the emails
	// to the creator); VerifyFailures counts the latest run of them (verifying, or live
	// checks that could not reach the post), reset by a pass.
	VerifyAttempts int           `json:"verify_attempts,omitempty"`
	VerifyFailures int           `json:"verify_failures,omitempty"`
	Payouts        []PayoutState `json:"payouts"`
	// Run counts Continue-As-New runs, from 1.
	Run     int               `json:"run"`
	Timings campaigns.Timings `json:"timings"`
	Events  []Event           `json:"events"`
}
