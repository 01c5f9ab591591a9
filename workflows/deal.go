package workflows

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/contract"
)

// invalid is a validator's refusal of bad input, naming the fields; the API answers 422.
func invalid(fields map[string]string) error {
	parts := make([]string, 0, len(fields))
	for _, name := range workflow.DeterministicKeys(fields) {
		parts = append(parts, name+": "+fields[name])
	}
	return temporal.NewApplicationError(strings.Join(parts, "; "), InvalidArgument, fields)
}

// ending reports whether a person has ended the collaboration (cancel or decline).
func (c *collaboration) ending() bool { return c.cancel != nil || c.decline != nil }

// openNegotiation puts the campaign's terms on the table as the brand's first offer, when
// they make a complete offer; otherwise ops make the first one.
func (c *collaboration) openNegotiation(ctx workflow.Context) {
	if c.input.Opening.Check() == nil {
		c.addOffer(ctx, OfferRequest{Actor: system, From: FromBrand, Terms: c.input.Opening, Note: "the campaign's terms"})
	}
	c.negotiationOpen = true
}

// negotiateAndSign runs negotiating and contracting until a contract is signed. An expired
// contract returns the collaboration to negotiating, where ops decide what next.
func (c *collaboration) negotiateAndSign(ctx workflow.Context) error {
	for {
		if err := workflow.Await(ctx, func() bool { return c.accepted != nil || c.ending() }); err != nil || c.ending() {
			return err
		}
		agreed := c.state.Offers[len(c.state.Offers)-1]
		err := c.moveTo(ctx, StageContracting, Event{Kind: EventAccepted, Actor: &c.accepted.Actor,
			Detail: fmt.Sprintf("offer %d by %s: %s", agreed.N, agreed.From, summarize(agreed.Terms))})
		if err != nil {
			return err
		}
		signed, err := c.runContract(ctx)
		if err != nil || c.ending() {
			return err
		}
		if signed {
			s := c.state.Contract.Signed
			return c.moveTo(ctx, StageInProduction, Event{Kind: EventSigned,
				Actor:  &Actor{Name: "creator", Role: "creator", RequestID: s.RequestID},
				Detail: signedDetail(c.state.Contract.Version, s)})
		}
		c.accepted, c.state.AgreedTerms = nil, nil
		err = c.moveTo(ctx, StageNegotiating, Event{Kind: EventContractExpired,
			Detail: fmt.Sprintf("contract v%d expired unsigned at %s", c.state.Contract.Version, c.state.Contract.ExpiresAt.Format(time.RFC3339))})
		if err != nil {
			return err
		}
	}
}

// runContract prepares and sends a contract version, reminds before it expires, and
// reports whether it was signed in time.
func (c *collaboration) runContract(ctx workflow.Context) (bool, error) {
	version := 1
	if c.state.Contract != nil {
		version = c.state.Contract.Version + 1
	}
	now := workflow.Now(ctx).UTC()
	expiry := c.input.Timings.ContractExpiry.Std()
	expires := now.Add(expiry)
	var prepared activities.PreparedContract
	_, err := c.act(ctx, "prepare_contract", false, func() error {
		return workflow.ExecuteActivity(ctx, a.PrepareContract, activities.PrepareContractInput{
			CollaborationID: c.state.ID, CampaignID: c.state.CampaignID, CreatorID: c.state.CreatorID,
			Version: version, Terms: *c.state.AgreedTerms, PreparedAt: now, ExpiresAt: expires,
		}).Get(ctx, &prepared)
	})
	if err != nil || (c.v1 && c.ending()) {
		return false, wrap("prepare contract", err)
	}
	c.state.Contract = &ContractState{Version: version, ContractID: prepared.ContractID, SHA256: prepared.SHA256, SentAt: now, ExpiresAt: expires}
	c.contractExpiry = c.v1 && workflow.GetVersion(ctx, changeContractExpiry, workflow.DefaultVersion, 1) >= 1
	c.notify(ctx, activities.NoticeContract, version, expires, "")
	c.record(ctx, Event{Kind: EventContractSent, Detail: fmt.Sprintf("contract v%d (sha256 %s) sent, expires %s", version, prepared.SHA256, expires.Format(time.RFC3339))})

	done := func() bool { return c.state.Contract.Signed != nil || c.ending() }
	remindIn := expires.Sub(now) - reminderLead(expiry)
	if c.contractExpiry {
		// From the expiry, not from before the notice: an escalated notice may have
		// taken days.
		remindIn = expires.Add(-reminderLead(expiry)).Sub(workflow.Now(ctx))
	}
	if ok, err := c.waitFor(ctx, remindIn, done, nil); err != nil {
		return false, err
	} else if !ok {
		if !c.contractExpiry || workflow.Now(ctx).Before(expires) {
			c.notify(ctx, activities.NoticeContractReminder, version, expires, "")
			c.record(ctx, Event{Kind: EventContractReminder, Detail: fmt.Sprintf("contract v%d expires %s", version, expires.Format(time.RFC3339))})
		}
		if _, err := c.waitFor(ctx, expires.Sub(workflow.Now(ctx)), done, nil); err != nil {
			return false, err
		}
	}
	// A signature the workflow accepted is recorded even when a cancel came with it: the
	// contract is signed, and the kill fee is owed.
	s := c.state.Contract.Signed
	if s == nil {
		return false, nil
	}
	_, err = c.act(ctx, "record_signature", true, func() error {
		return workflow.ExecuteActivity(ctx, a.RecordSignature, activities.RecordSignatureInput{
			ContractID: s.ContractID, SignatureID: s.SignatureID,
		}).Get(ctx, nil)
	})
	if err != nil {
		return false, fmt.Errorf("record signature: %w", err)
	}
	return true, nil
}

// changeContractExpiry is the version from which the contract's expiry bounds its
// notices: the reminder's wait is counted from the expiry (not from before an escalated
// contract email), no reminder goes out once the contract expired, and an escalated
// contract or reminder email is settled by the expiry, so that a retry after it sends
// nothing.
const changeContractExpiry = "contract-expiry-1"

// lapses reports whether a notice of kind stops mattering at its deadline, and so must not
// go out (nor wait for ops) after it: the contract and its reminder, from changeContractExpiry on.
func (c *collaboration) lapses(kind string, deadline time.Time) bool {
	return c.contractExpiry && !deadline.IsZero() && (kind == activities.NoticeContract || kind == activities.NoticeContractReminder)
}

// wrap adds what failed to an error, and leaves nil alone.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// reminderLead is how long before a deadline the reminder goes out: a day for waits of
// several days, else half the wait.
func reminderLead(wait time.Duration) time.Duration {
	if wait >= 3*24*time.Hour {
		return 24 * time.Hour
	}
	return wait / 2
}

// notify sends a transactional email to the creator. A failure does not stop the deal:
// it is recorded, and ops see it in the history and the email log.
func (c *collaboration) notify(ctx workflow.Context, kind string, seq int, deadline time.Time, comments string) {
	in := activities.NoticeInput{
		CollaborationID: c.state.ID, CampaignID: c.state.CampaignID, CreatorID: c.state.CreatorID,
		Kind: kind, Seq: seq, Deadline: deadline, Comments: comments,
	}
	if c.state.Contract != nil {
		in.ContractID = c.state.Contract.ContractID
	}
	if c.state.AgreedTerms != nil {
		in.Terms = *c.state.AgreedTerms
	}
	if c.state.Attribution != nil {
		in.Code, in.TrackingURL = c.state.Attribution.Code, c.state.Attribution.TrackingURL
	}
	sctx := workflow.WithActivityOptions(ctx, c.noticeOptions(ctx))
	for {
		var res activities.SendEmailResult
		stopped, err := c.runUnless(sctx, c.ending, a.SendNotice, in, &res)
		if stopped {
			c.markStopped(ctx, in.MessageKey(), "the collaboration is ending")
		}
		reason := res.Reason
		switch {
		case stopped || res.Status == activities.SendStopped:
			c.record(ctx, Event{Kind: EventEmailStopped, Detail: kind + " not sent: " + cmp.Or(res.Reason, "the collaboration is ending")})
			return
		case err != nil:
			reason = err.Error()
		case res.Status != activities.SendFailed:
			return
		}
		c.record(ctx, Event{Kind: EventEmailFailed, Detail: kind + ": " + reason})
		if !c.v1 || c.ending() {
			return
		}
		// The creator must get what the deal needs (a contract, a brief): ops retry it or
		// carry on, having reached the creator another way. An email that is no longer due
		// (a reminder for a draft that arrived) settles the escalation by itself.
		moot := func() bool {
			v, _ := c.maySend(activities.SendCheck{Kind: kind})
			return !v.Allowed
		}
		if c.lapses(kind, deadline) {
			decision, lapsed := c.escalateUntil(ctx, kind, reason, deadline, moot)
			if lapsed {
				c.record(ctx, Event{Kind: EventEmailStopped, Detail: kind + " not sent: the contract expired " + deadline.Format(time.RFC3339)})
			}
			if lapsed || decision != ResolveRetry {
				return
			}
			continue
		}
		if decision, err := c.escalate(ctx, "notice_"+kind, "the "+kind+" email could not be sent: "+reason, true, moot); err != nil || decision != ResolveRetry {
			return
		}
	}
}

// escalateUntil is a failed notice's escalation that also ends, with no decision, at the
// deadline the notice is about (lapsed): a contract email ops retry after the contract
// expired would be sent for nothing. decision is ops' decision ("" without one).
func (c *collaboration) escalateUntil(ctx workflow.Context, kind, reason string, deadline time.Time, moot func() bool) (decision string, lapsed bool) {
	left := deadline.Sub(workflow.Now(ctx))
	if left <= 0 {
		return "", true
	}
	tctx, cancel := workflow.WithCancel(ctx)
	timer := workflow.NewTimer(tctx, left)
	decision, err := c.escalate(ctx, "notice_"+kind, "the "+kind+" email could not be sent: "+reason, true, func() bool { return moot() || timer.IsReady() })
	if !timer.IsReady() {
		cancel()
	}
	switch {
	case err != nil:
		return "", false
	case decision == ResolveOverride:
		return decision, false
	case !workflow.Now(ctx).Before(deadline):
		return "", true
	}
	return decision, false
}

// notifyOps tells ops something needs them; the escalation stays in the state too. A
// failure is only recorded: there is no one else to tell.
func (c *collaboration) notifyOps(ctx workflow.Context, key, subject, text string) {
	stop := func() bool { return c.ending() && !c.finishing }
	_, err := c.runUnless(workflow.WithActivityOptions(ctx, c.noticeOptions(ctx)), stop, a.NotifyOps, activities.OpsNoteInput{
		CollaborationID: c.state.ID, Key: key, Subject: subject, Text: text,
	}, nil)
	if err != nil {
		c.record(ctx, Event{Kind: EventEmailFailed, Detail: "ops notice " + key + ": " + err.Error()})
	}
}

func summarize(t contract.Terms) string {
	var parts []string
	for _, d := range t.Deliverables {
		parts = append(parts, fmt.Sprintf("%d %s on %s", d.Count, d.Format, d.Platform))
	}
	return contract.Money(t.Currency, t.FixedFee) + " for " + strings.Join(parts, ", ")
}

func (c *collaboration) validateOffer(req OfferRequest) error {
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if err := c.inNegotiation(); err != nil {
		return err
	}
	bad := req.Terms.Check()
	if req.From != FromBrand && req.From != FromCreator {
		if bad == nil {
			bad = map[string]string{}
		}
		bad["from"] = "brand or creator"
	}
	if len(req.Note) > MaxReasonLength {
		if bad == nil {
			bad = map[string]string{}
		}
		bad["note"] = fmt.Sprintf("at most %d characters", MaxReasonLength)
	}
	if bad != nil {
		return invalid(bad)
	}
	return nil
}

func (c *collaboration) handleOffer(ctx workflow.Context, req OfferRequest) (CollaborationState, error) {
	c.addOffer(ctx, req)
	return c.state, nil
}

func (c *collaboration) addOffer(ctx workflow.Context, req OfferRequest) {
	o := Offer{N: len(c.state.Offers) + 1, From: req.From, Terms: req.Terms, Note: strings.TrimSpace(req.Note), Actor: req.Actor, At: workflow.Now(ctx).UTC()}
	c.state.Offers = append(c.state.Offers, o)
	c.record(ctx, Event{Kind: EventOffer, Actor: &o.Actor, Detail: fmt.Sprintf("offer %d by %s: %s", o.N, o.From, summarize(o.Terms))})
}

func (c *collaboration) inNegotiation() error {
	if c.state.Stage != StageNegotiating || !c.negotiationOpen || c.ending() || c.accepted != nil {
		return fmt.Errorf("collaboration is in %s, not negotiating", c.state.Stage)
	}
	return nil
}

func (c *collaboration) validateAccept(req AcceptRequest) error {
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if err := c.inNegotiation(); err != nil {
		return err
	}
	n := len(c.state.Offers)
	if n == 0 {
		return errors.New("there is no offer to accept yet")
	}
	if req.Offer != 0 && req.Offer != n {
		return invalid(map[string]string{"offer": fmt.Sprintf("only the latest offer (%d) can be accepted", n)})
	}
	return nil
}

func (c *collaboration) handleAccept(ctx workflow.Context, req AcceptRequest) (CollaborationState, error) {
	terms := c.state.Offers[len(c.state.Offers)-1].Terms
	c.state.AgreedTerms = &terms
	c.accepted = &req
	return c.stateOnce(ctx, func() bool { return c.state.Stage != StageNegotiating })
}

func (c *collaboration) validateDecline(req DeclineRequest) error {
	if err := validateActor(req.Actor); err != nil {
		return err
	}
	if err := validateText("reason", req.Reason, true); err != nil {
		return err
	}
	switch c.state.Stage {
	case StageOutreach, StageNegotiating, StageContracting:
	default:
		return fmt.Errorf("collaboration is in %s: after signing, cancel instead", c.state.Stage)
	}
	if k := c.state.Contract; k != nil && k.Signed != nil {
		return errors.New("the contract is signed: cancel instead")
	}
	if c.ending() {
		return errors.New("collaboration is already ending")
	}
	return nil
}

func (c *collaboration) handleDecline(ctx workflow.Context, req DeclineRequest) (CollaborationState, error) {
	req.Reason = strings.TrimSpace(req.Reason)
	c.decline = &req
	return c.stateOnce(ctx, func() bool { return c.state.Stage.Terminal() })
}

func (c *collaboration) validateSign(ctx workflow.Context, req SignRequest) error {
	k := c.state.Contract
	switch {
	case k != nil && k.Signed != nil && req.ContractID == k.ContractID:
		return fmt.Errorf("this contract was already signed on %s", k.Signed.At.Format(time.RFC3339))
	case c.state.Stage != StageContracting || k == nil || c.ending():
		return fmt.Errorf("collaboration is in %s: there is no contract to sign", c.state.Stage)
	case req.ContractID != k.ContractID:
		return errors.New("this contract has been replaced by a newer version")
	case !workflow.Now(ctx).Before(k.ExpiresAt):
		return errors.New("this contract has expired")
	case req.SHA256 != k.SHA256:
		return errors.New("the document does not match the contract sent")
	}
	if !canonicalUUID(req.SignatureID) {
		return invalid(map[string]string{"signature_id": "must be the id of a stored signature"})
	}
	return nil
}

func (c *collaboration) handleSign(ctx workflow.Context, req SignRequest) (CollaborationState, error) {
	c.state.Contract.Signed = &req
	return c.state, nil
}

// signedDetail describes a signature by the ids of its evidence: the typed name, address
// and browser are in PostgreSQL under the signature id, where erasure can reach them.
func signedDetail(version int, s *SignRequest) string {
	d := fmt.Sprintf("contract v%d signed with document hash %s", version, s.SHA256)
	if s.SignatureID != "" {
		d += " (signature " + s.SignatureID + ")"
	}
	if s.LinkHash != "" {
		d += " through link " + s.LinkHash
	}
	return d
}
