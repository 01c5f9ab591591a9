package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/contract"
	"github.com/collabflow/collabflow/mailer"
	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
)

// Purposes of signed portal links; payloads are "<collaboration id>|<contract id>" and
// "<collaboration id>".
const (
	ContractPurpose = "contract"
	ContentPurpose  = "content"
)

// ContentLinkLifetime is how long a content portal link works: past any draft deadline.
const ContentLinkLifetime = 180 * 24 * time.Hour

// PrepareContractInput asks for version Version of a collaboration's contract.
type PrepareContractInput struct {
	CollaborationID string         `json:"collaboration_id"`
	CampaignID      string         `json:"campaign_id"`
	CreatorID       string         `json:"creator_id"`
	Version         int            `json:"version"`
	Terms           contract.Terms `json:"terms"`
	PreparedAt      time.Time      `json:"prepared_at"`
	ExpiresAt       time.Time      `json:"expires_at"`
}

// PreparedContract identifies the stored document and the hash a signature must match.
type PreparedContract struct {
	ContractID string `json:"contract_id"`
	SHA256     string `json:"sha256"`
}

// PrepareContract renders the contract from the agreed terms and stores it. The
// (collaboration, version) pair is its idempotency key: a retry returns the first document.
func (a *Activities) PrepareContract(ctx context.Context, in PrepareContractInput) (PreparedContract, error) {
	if bad := in.Terms.Check(); bad != nil || in.Version < 1 {
		return PreparedContract{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("contract terms: %v", bad), "BadInput", nil)
	}
	creator, err := a.Store.Creator(ctx, in.CreatorID)
	if err != nil {
		return PreparedContract{}, lookupError("creator", err)
	}
	campaign, err := a.Store.Campaign(ctx, in.CampaignID)
	if err != nil {
		return PreparedContract{}, lookupError("campaign", err)
	}
	terms, err := json.Marshal(in.Terms)
	if err != nil {
		return PreparedContract{}, fmt.Errorf("encode terms: %w", err)
	}
	// The id is fixed before rendering so the document can name it; SaveContract keeps the
	// first row if an earlier attempt stored one.
	doc, err := contract.Render(contract.Parties{
		ContractID: in.CollaborationID + "/v" + strconv.Itoa(in.Version), Version: in.Version,
		Brand: campaign.Brand, CreatorName: creator.Name, Campaign: campaign.Name, PreparedOn: in.PreparedAt,
	}, in.Terms)
	if err != nil {
		return PreparedContract{}, temporal.NewNonRetryableApplicationError("render contract", "BadInput", err)
	}
	saved, err := a.Store.SaveContract(ctx, store.Contract{
		CollaborationID: in.CollaborationID, Version: in.Version, Terms: terms,
		HTML: doc.HTML, SHA256: doc.SHA256, ExpiresAt: in.ExpiresAt,
	})
	if err != nil {
		return PreparedContract{}, err
	}
	return PreparedContract{ContractID: saved.ID, SHA256: saved.SHA256}, nil
}

// RecordSignatureInput is a signature the workflow accepted, by the id of the evidence
// the portal stored.
type RecordSignatureInput struct {
	ContractID  string `json:"contract_id"`
	SignatureID string `json:"signature_id"`
}

// RecordSignature marks the contract signed with the stored signature; the first one
// stays. A signature that is not this contract's is bad input, never retried.
func (a *Activities) RecordSignature(ctx context.Context, in RecordSignatureInput) error {
	err := a.Store.RecordSignature(ctx, in.ContractID, in.SignatureID)
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError("no stored signature "+in.SignatureID+" for contract "+in.ContractID, "BadInput", err)
	}
	return err
}

// Notice kinds: the transactional emails of a collaboration after outreach.
const (
	NoticeContract         = "contract"
	NoticeContractReminder = "contract_reminder"
	NoticeBrief            = "brief"
	NoticeChanges          = "changes"
	NoticeDraftReminder    = "draft_reminder"
	NoticePostReminder     = "post_reminder"
	NoticeVerifyFailed     = "verify_failed"
)

// NoticeInput names one transactional email. Seq makes its key unique when the same kind
// is sent more than once (contract versions, review rounds).
type NoticeInput struct {
	CollaborationID string         `json:"collaboration_id"`
	CampaignID      string         `json:"campaign_id"`
	CreatorID       string         `json:"creator_id"`
	Kind            string         `json:"kind"`
	Seq             int            `json:"seq"`
	ContractID      string         `json:"contract_id,omitempty"`
	Deadline        time.Time      `json:"deadline,omitzero"`
	Comments        string         `json:"comments,omitempty"`
	Terms           contract.Terms `json:"terms"`
	// Code and TrackingURL are the collaboration's attribution, for the brief.
	Code        string `json:"code,omitempty"`
	TrackingURL string `json:"tracking_url,omitempty"`
}

// MessageKey is the idempotency key of the notice.
func (in NoticeInput) MessageKey() string {
	return in.CollaborationID + "/" + in.Kind + "/" + strconv.Itoa(in.Seq)
}

// SendNotice sends a transactional email about the agreed deal to the creator. These are
// not marketing, so the suppression list does not apply; the log and its key do, and so
// does the collaboration's say right before the send (no contract after a cancel).
func (a *Activities) SendNotice(ctx context.Context, in NoticeInput) (SendEmailResult, error) {
	key := in.MessageKey()
	if done, ok, err := a.sentBefore(ctx, key); ok || err != nil {
		return done, err
	}
	creator, err := a.Store.Creator(ctx, in.CreatorID)
	if err != nil {
		return SendEmailResult{}, lookupError("creator", err)
	}
	if creator.ErasedAt != nil {
		return SendEmailResult{Status: SendStopped, MessageKey: key, Reason: "creator erased"}, nil
	}
	campaign, err := a.Store.Campaign(ctx, in.CampaignID)
	if err != nil {
		return SendEmailResult{}, lookupError("campaign", err)
	}
	subject, body, err := a.noticeText(in, creator, campaign)
	if err != nil {
		return SendEmailResult{}, err
	}
	token, err := a.Store.ReplyToken(ctx, in.CollaborationID)
	if err != nil {
		return SendEmailResult{}, err
	}
	msg := mailer.Message{
		FromEmail: campaign.SenderEmail, FromName: campaign.Brand, ToEmail: creator.Email, ToName: creator.Name,
		ReplyTo: "reply+" + token + "@" + a.ReplyDomain, Subject: subject,
		Text:       body + "\n\n--\n" + campaign.Brand + "\n" + a.PostalAddress + "\n",
		CustomArgs: map[string]string{"collaboration_id": in.CollaborationID, "message_key": key, "kind": in.Kind},
	}
	check := &SendCheck{Kind: in.Kind}
	if in.Kind == NoticeContract || in.Kind == NoticeContractReminder {
		// Deadline is the contract's expiry: after it, the email offers nothing to sign.
		check.Until = in.Deadline
	}
	return a.deliver(ctx, store.Email{MessageKey: key, CollaborationID: in.CollaborationID, Kind: in.Kind}, msg, check)
}

func (a *Activities) noticeText(in NoticeInput, c roster.Creator, camp campaigns.Campaign) (string, string, error) {
	hi := "Hi " + c.FirstName() + ",\n\n"
	deadline := in.Deadline.UTC().Format("Monday 2 January 2006 15:04 UTC")
	contentLink := a.PublicURL + "/portal/content/" + a.Links.Sign(ContentPurpose, in.CollaborationID, in.Deadline.Add(ContentLinkLifetime))
	switch in.Kind {
	case NoticeContract, NoticeContractReminder:
		if in.ContractID == "" {
			return "", "", temporal.NewNonRetryableApplicationError("contract notice without a contract", "BadInput", nil)
		}
		link := a.PublicURL + "/portal/contracts/" + a.Links.Sign(ContractPurpose, in.CollaborationID+"|"+in.ContractID, in.Deadline)
		if in.Kind == NoticeContractReminder {
			return "Reminder: your " + camp.Brand + " contract expires soon",
				hi + "Your contract for " + camp.Name + " is waiting for your signature and expires on " + deadline + ".\n\n" +
					"Review and sign it here: " + link, nil
		}
		return "Your " + camp.Brand + " contract for " + camp.Name,
			hi + "Thanks for agreeing to work with " + camp.Brand + " on " + camp.Name + ". Your contract is ready.\n\n" +
				"Review and sign it by " + deadline + ": " + link + "\n\nThe link is personal; please do not forward it.", nil
	case NoticeBrief:
		attribution := "\nYour discount code is " + in.Code + "; put it in every post"
		if in.TrackingURL != "" {
			attribution += ", with your tracking link " + in.TrackingURL
		}
		return "Your brief for " + camp.Name, hi + briefText(camp, in.Terms) + attribution + ".\n" +
			"\nSubmit your draft (asset links and caption) by " + deadline + ": " + contentLink, nil
	case NoticePostReminder:
		return "Reminder: your " + camp.Name + " post is due",
			hi + "Your approved content for " + camp.Name + " should be live by " + deadline + ". Send us the post links here: " + contentLink, nil
	case NoticeVerifyFailed:
		return "Please fix your " + camp.Name + " post",
			hi + "We checked your post and it needs a fix before we can pay:\n\n" + quote(in.Comments) +
				"\n\nWe will check again automatically. Questions? Reply to this email.", nil
	case NoticeChanges:
		return "Changes requested on your " + camp.Name + " draft",
			hi + "The " + camp.Brand + " team reviewed your draft and asked for changes:\n\n" + quote(in.Comments) +
				"\n\nSubmit a new draft by " + deadline + ": " + contentLink, nil
	case NoticeDraftReminder:
		return "Reminder: your " + camp.Name + " draft is due",
			hi + "Your draft for " + camp.Name + " is due by " + deadline + ". Submit it here: " + contentLink, nil
	}
	return "", "", temporal.NewNonRetryableApplicationError("unknown notice kind "+in.Kind, "BadInput", nil)
}

// briefText is the campaign brief with the agreed deliverables and the disclosure duty.
func briefText(camp campaigns.Campaign, t contract.Terms) string {
	var b strings.Builder
	section := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		b.WriteString(title + ":\n")
		for _, it := range items {
			b.WriteString("  - " + it + "\n")
		}
	}
	b.WriteString("Here is the brief for " + camp.Name + ".\n\n")
	section("Objectives", camp.Brief.Objectives)
	if camp.Brief.Audience != "" {
		b.WriteString("Audience: " + camp.Brief.Audience + "\n")
	}
	section("Key messages", camp.Brief.KeyMessages)
	section("Do", camp.Brief.Dos)
	section("Don't", camp.Brief.Donts)
	var deliverables []string
	for _, d := range t.Deliverables {
		item := fmt.Sprintf("%d x %s on %s", d.Count, d.Format, d.Platform)
		if d.DueDate != "" {
			item += ", due " + d.DueDate
		}
		deliverables = append(deliverables, item)
	}
	section("Deliverables", deliverables)
	b.WriteString("\nEvery post must disclose the partnership at the start of the caption with " + strconv.Quote(t.DisclosureText) +
		" (FTC Endorsement Guides); drafts without it cannot be approved.\n")
	return b.String()
}

func quote(s string) string {
	return "> " + strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n> ")
}

// OpsNoteInput is something ops must look at: an overdue review, a missed deadline, an
// escalation.
type OpsNoteInput struct {
	CollaborationID string `json:"collaboration_id"`
	Key             string `json:"key"`
	Subject         string `json:"subject"`
	Text            string `json:"text"`
	// UnlessCancelled asks the read model right before sending and stops the note
	// (SendStopped) when the collaboration was cancelled or is gone: a Rights reminder
	// outlives its collaboration, and a cancelled one has no rights to remind of.
	UnlessCancelled bool `json:"unless_cancelled,omitempty"`
}

// stageCancelled is the read model's stage of a cancelled collaboration (workflows.StageCancelled).
const stageCancelled = "cancelled"

// NotifyOps emails the ops address, when one is configured; the workflow's state and
// history carry the same note either way.
func (a *Activities) NotifyOps(ctx context.Context, in OpsNoteInput) (SendEmailResult, error) {
	key := in.CollaborationID + "/ops/" + in.Key
	if in.UnlessCancelled {
		c, err := a.Store.Collaboration(ctx, in.CollaborationID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return SendEmailResult{Status: SendStopped, MessageKey: key, Reason: "the collaboration is gone"}, nil
		case err != nil:
			return SendEmailResult{}, fmt.Errorf("collaboration %s: %w", in.CollaborationID, err)
		case c.Stage == stageCancelled:
			return SendEmailResult{Status: SendStopped, MessageKey: key, Reason: "the collaboration was cancelled"}, nil
		}
	}
	if a.OpsEmail == "" {
		return SendEmailResult{Status: "skipped", Reason: "COLLABFLOW_OPS_EMAIL unset"}, nil
	}
	msg := mailer.Message{
		FromEmail: a.OpsEmail, FromName: "collabflow", ToEmail: a.OpsEmail, Subject: in.Subject,
		Text:       in.Text + "\n\nCollaboration: " + in.CollaborationID + "\n",
		CustomArgs: map[string]string{"collaboration_id": in.CollaborationID, "message_key": key, "kind": "ops"},
	}
	// Not checked with the collaboration: ops must hear of an escalation whatever its state.
	return a.deliver(ctx, store.Email{MessageKey: key, CollaborationID: in.CollaborationID, Kind: "ops"}, msg, nil)
}
