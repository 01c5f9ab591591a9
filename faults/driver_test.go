//go:build faults

package faults

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/collabflow/collabflow/devenv/sendgridsink"
	"github.com/collabflow/collabflow/workflows"
)

// plan is what a driver means to do with its collaboration, like a person would.
type plan struct {
	n    int
	wave int
	// end is the stage the driver means the collaboration to end in.
	end workflows.Stage
	// replyBy is "inbound" (the creator answers the email) or "ops" (ops record a reply
	// they got another way).
	replyBy string
	// replyAfter makes ops record the reply this long after the start, without waiting
	// for the first email (which an outage may be holding back).
	replyAfter time.Duration
	// cancelAt is the stage in which ops cancel (end == cancelled).
	cancelAt workflows.Stage
	// cancelAfter delays a cancel in outreach from the start.
	cancelAfter time.Duration
}

func (p plan) String() string {
	switch p.end {
	case workflows.StageCancelled:
		return "cancel in " + string(p.cancelAt)
	case workflows.StageNoResponse:
		return "never reply"
	}
	return "complete (reply by " + p.replyBy + ")"
}

// handle is creator n's instagram handle; their post is published on that account.
func handle(n int) string { return fmt.Sprintf("creator.%d", n) }

// plans spreads n collaborations over two waves: the first starts at once, the second
// when SendGrid's outage begins, so that its replies and cancels meet emails SendGrid is
// refusing.
func plans(n int) []plan {
	first := (n*3 + 4) / 5
	later := []workflows.Stage{workflows.StageNegotiating, workflows.StageInProduction, workflows.StageLive, workflows.StageContracting}
	var out []plan
	for i := range n {
		p := plan{n: i + 1, wave: 1, end: workflows.StageCompleted, replyBy: "inbound"}
		if i < first {
			switch i % 5 {
			case 1:
				p.replyBy = "ops"
			case 2:
				p.end = workflows.StageNoResponse
			case 3:
				p.end, p.cancelAt = workflows.StageCancelled, later[(i/5)%len(later)]
			}
		} else {
			j := i - first
			p.wave, p.replyBy, p.replyAfter = 2, "ops", time.Duration(3+j%4)*time.Second
			switch j % 5 {
			case 1:
				p.end, p.cancelAt, p.cancelAfter = workflows.StageCancelled, workflows.StageOutreach, time.Duration(4+j%3)*time.Second
			case 3:
				p.end = workflows.StageNoResponse
			case 4:
				p.end, p.cancelAt = workflows.StageCancelled, workflows.StageContracting
			}
		}
		out = append(out, p)
	}
	return out
}

// driver takes one collaboration through its plan over the API and records what it saw.
type driver struct {
	plan
	h         *harness
	creatorID string
	id        string

	mu        sync.Mutex
	stage     workflows.Stage
	state     workflows.CollaborationState
	log       []string
	attention *workflows.Attention
	// resolved counts the retries ops asked for; resolvedSince is the escalation last
	// resolved, resolvedAt when.
	resolved      int
	resolvedSince time.Time
	resolvedAt    time.Time
	// steps counts the driver's actions, to vary its pauses.
	steps int
	// outcome is how the driver ended: "" while it runs, then "ok", "attention" or the error.
	outcome string
}

// errAttention stops a driver whose collaboration waits for ops with an open escalation
// that ops could not resolve.
var errAttention = errors.New("waits for ops with attention")

func (d *driver) note(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.log = append(d.log, fmt.Sprintf("%6.1fs ", time.Since(d.h.t0).Seconds())+fmt.Sprintf(format, args...))
}

func (d *driver) lastStage() workflows.Stage {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stage
}

func (d *driver) run(ctx context.Context) {
	err := d.drive(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case err == nil:
		d.outcome = "ok"
	case errors.Is(err, errAttention):
		d.outcome = "attention"
	default:
		d.outcome = err.Error()
	}
	d.log = append(d.log, fmt.Sprintf("%6.1fs driver done: %s", time.Since(d.h.t0).Seconds(), d.outcome))
}

func (d *driver) drive(ctx context.Context) error {
	started := time.Now()
	a, err := d.h.api.send(ctx, jsonRequest(http.MethodPost, "/v1/collaborations", opsKey,
		map[string]string{"campaign_id": d.h.campaignID, "creator_id": d.creatorID}))
	if err != nil {
		return err
	}
	var st workflows.CollaborationState
	if a.Status != http.StatusCreated && a.Status != http.StatusOK {
		return fmt.Errorf("start: %s", a)
	}
	if err := a.decode(&st); err != nil {
		return err
	}
	d.id = st.ID
	d.note("started %s (%s)", d.id, d.plan)

	switch {
	case d.end == workflows.StageNoResponse:
		return d.waitFor(ctx, "no_response", func(s workflows.CollaborationState) bool { return s.Stage == workflows.StageNoResponse })
	case d.cancelAt == workflows.StageOutreach:
		if err := sleepUntil(ctx, started.Add(d.cancelAfter)); err != nil {
			return err
		}
		return d.cancel(ctx)
	}

	if err := d.reply(ctx, started); err != nil {
		return err
	}
	if d.cancelAt == workflows.StageNegotiating {
		return d.cancel(ctx)
	}
	if err := d.contract(ctx); err != nil || d.cancelAt == workflows.StageContracting {
		return err
	}
	if d.cancelAt == workflows.StageInProduction {
		return d.cancel(ctx)
	}
	if err := d.content(ctx); err != nil {
		return err
	}
	if d.cancelAt == workflows.StageLive {
		return d.cancel(ctx)
	}
	return d.payout(ctx)
}

// reply answers the outreach: by email to the reply-to address of the first email, or
// by ops recording it (at once after the first email, or at a set time after the start).
func (d *driver) reply(ctx context.Context, started time.Time) error {
	if d.replyAfter > 0 {
		if err := sleepUntil(ctx, started.Add(d.replyAfter)); err != nil {
			return err
		}
	} else {
		var first sendgridsink.Received
		err := d.waitForMail(ctx, "the first outreach email", func(m sendgridsink.Received) bool {
			if isOutreach(m) {
				first = m
				return true
			}
			return false
		})
		if err != nil {
			return err
		}
		if d.replyBy == "inbound" {
			if err := d.think(ctx); err != nil {
				return err
			}
			a, err := d.h.api.inbound(ctx, "Creator <"+first.To[0]+">", first.ReplyTo, "Re: "+first.Subject, "Yes, I'm in!")
			if err != nil {
				return err
			}
			if a.Status != http.StatusOK || !strings.Contains(string(a.Body), d.id) {
				return fmt.Errorf("inbound reply: %s", a)
			}
			d.note("replied by email: %s", a)
		}
	}
	if d.replyBy == "ops" {
		if err := d.update(ctx, "/replies", opsKey, map[string]string{"note": "answered on Instagram"}); err != nil {
			return err
		}
	}
	return d.waitFor(ctx, "negotiating with the opening offer", func(s workflows.CollaborationState) bool {
		return s.Stage == workflows.StageNegotiating && len(s.Offers) > 0
	})
}

// contract accepts the latest offer and signs the contract from the link in its email;
// a contract that expired first sends the collaboration back to negotiating, and the
// driver agrees again.
func (d *driver) contract(ctx context.Context) error {
	for sent := 0; ; {
		if err := d.update(ctx, "/accept", opsKey, map[string]any{}); err != nil {
			return err
		}
		var version int
		err := d.waitFor(ctx, "a contract sent", func(s workflows.CollaborationState) bool {
			if s.Stage == workflows.StageContracting && s.Contract != nil && s.Contract.Version > sent {
				version = s.Contract.Version
				return true
			}
			return false
		})
		if err != nil {
			return err
		}
		if d.cancelAt == workflows.StageContracting {
			return d.cancel(ctx)
		}
		var mail sendgridsink.Received
		key := fmt.Sprintf("%s/contract/%d", d.id, version)
		if err := d.waitForMail(ctx, "the contract email "+key, func(m sendgridsink.Received) bool {
			mail = m
			return m.CustomArgs["message_key"] == key
		}); err != nil {
			return err
		}
		link := contractLink.FindStringSubmatch(mail.Text)
		if link == nil {
			return fmt.Errorf("no contract link in %s", key)
		}
		sent = version
		if err := d.think(ctx); err != nil {
			return err
		}
		a, err := d.h.api.sign(ctx, link[1], fmt.Sprintf("Creator Number %d", d.n))
		if err != nil {
			return fmt.Errorf("sign: %w", err)
		}
		d.note("signed contract v%d: %d", version, a.Status)
		switch a.Status {
		case http.StatusOK, http.StatusAccepted:
		case http.StatusConflict:
			// A retried post after the first was applied: "already signed".
		default:
			return fmt.Errorf("sign contract v%d: %s", version, a)
		}
		var expired bool
		err = d.waitFor(ctx, "in_production after signing", func(s workflows.CollaborationState) bool {
			expired = s.Stage == workflows.StageNegotiating
			return s.Stage == workflows.StageInProduction && s.Attribution != nil || expired
		})
		if err != nil || !expired {
			return err
		}
		d.note("contract v%d expired before the signature counted: agreeing again", version)
	}
}

// content submits a draft, approves it as the reviewer, publishes the post with the
// collaboration's code and link and submits its URL, then waits for the live window.
func (d *driver) content(ctx context.Context) error {
	caption := fmt.Sprintf("#ad Loving the new Acme kit (creator %d)", d.n)
	if err := d.update(ctx, "/drafts", opsKey, map[string]any{
		"assets": []string{fmt.Sprintf("https://cdn.example.com/%d.mp4", d.n)}, "caption": caption}); err != nil {
		return err
	}
	var draft int
	if err := d.waitFor(ctx, "in_review", func(s workflows.CollaborationState) bool {
		draft = len(s.Drafts)
		return s.Stage == workflows.StageInReview
	}); err != nil {
		return err
	}
	if err := d.update(ctx, fmt.Sprintf("/drafts/%d/review", draft), reviewerKey, map[string]string{"decision": "approve", "comments": "Great"}); err != nil {
		return err
	}
	if err := d.waitFor(ctx, "awaiting_post", func(s workflows.CollaborationState) bool { return s.Stage == workflows.StageAwaitingPost }); err != nil {
		return err
	}
	d.mu.Lock()
	attr := d.state.Attribution
	d.mu.Unlock()
	if attr == nil {
		return errors.New("awaiting_post without a discount code")
	}
	postURL := d.h.stack.posts.publish(d.id, handle(d.n), caption, attr.Code, attr.TrackingURL)
	if err := d.update(ctx, "/posts", opsKey, map[string]string{"url": postURL}); err != nil {
		return err
	}
	return d.waitFor(ctx, "live", func(s workflows.CollaborationState) bool { return s.Stage == workflows.StageLive })
}

// payout reports metrics during the live window, then confirms the fee as finance once
// it is in the ledger, and waits for the collaboration to complete.
func (d *driver) payout(ctx context.Context) error {
	a, err := d.h.api.send(ctx, jsonRequest(http.MethodPost, "/v1/collaborations/"+d.id+"/metrics", opsKey, map[string]any{
		"at": time.Now().UTC().Format(time.RFC3339), "impressions": 12000, "reach": 9000, "likes": 700, "comments": 40,
		"saves": 30, "shares": 12, "clicks": 300, "conversions": 25, "revenue": 90000, "currency": "USD"}))
	switch {
	case err != nil:
		return err
	case a.Status == http.StatusUnprocessableEntity && strings.Contains(string(a.Body), `"at"`):
		// A retry of a snapshot the first attempt stored before the API died.
		d.note("metrics already stored: %s", a)
	case a.Status != http.StatusCreated:
		return fmt.Errorf("metrics: %s", a)
	}
	if err := d.waitFor(ctx, "payout", func(s workflows.CollaborationState) bool { return s.Stage == workflows.StagePayout }); err != nil {
		return err
	}
	var fee struct {
		Items []struct {
			ID, Kind, Status string
		} `json:"items"`
	}
	var feeID string
	err = d.poll(ctx, "the fee in the ledger", func() (bool, error) {
		a, err := d.h.api.send(ctx, jsonRequest(http.MethodGet, "/v1/payouts?collaboration_id="+d.id, financeKey, nil))
		if err != nil || a.Status != http.StatusOK {
			return false, err
		}
		if err := a.decode(&fee); err != nil {
			return false, err
		}
		for _, p := range fee.Items {
			if p.Kind == "fee" {
				feeID = p.ID
				return true, nil
			}
		}
		return false, d.check(ctx, "the fee in the ledger")
	})
	if err != nil {
		return err
	}
	if err := d.think(ctx); err != nil {
		return err
	}
	a, err = d.h.api.send(ctx, change("/v1/payouts/"+feeID+"/confirm", financeKey, map[string]string{"reference": "BANK-" + d.id[len(d.id)-8:]}))
	if err != nil {
		return err
	}
	if a.Status != http.StatusOK && a.Status != http.StatusAccepted {
		return fmt.Errorf("confirm payout: %s", a)
	}
	d.note("confirmed payout %s: %d", feeID, a.Status)
	return d.waitFor(ctx, "completed", func(s workflows.CollaborationState) bool { return s.Stage == workflows.StageCompleted })
}

func (d *driver) cancel(ctx context.Context) error {
	if err := d.update(ctx, "/cancel", opsKey, map[string]string{"reason": "brand paused the campaign"}); err != nil {
		return err
	}
	return d.waitFor(ctx, "cancelled", func(s workflows.CollaborationState) bool { return s.Stage == workflows.StageCancelled })
}

// think is a person's pause before acting, one to three seconds, so that the batch
// spreads over the stages when a fault strikes instead of racing through them.
func (d *driver) think(ctx context.Context) error {
	d.steps++
	return sleepUntil(ctx, time.Now().Add(time.Duration(1000+(d.n*7+d.steps*3)%3*1000)*time.Millisecond))
}

// update sends a change to the collaboration. 200 means done; 202 means accepted and
// still being applied, which the caller's next wait observes.
func (d *driver) update(ctx context.Context, path, key string, body any) error {
	if err := d.think(ctx); err != nil {
		return err
	}
	a, err := d.h.api.send(ctx, change("/v1/collaborations/"+d.id+path, key, body))
	if err != nil {
		return err
	}
	d.note("POST %s: %d", path, a.Status)
	if a.Status != http.StatusOK && a.Status != http.StatusAccepted {
		return fmt.Errorf("POST %s: %s", path, a)
	}
	return nil
}

// waitFor polls the collaboration's state until cond holds. It stops early when the
// collaboration ended elsewhere or waits for ops (attention) that ops cannot resolve.
func (d *driver) waitFor(ctx context.Context, what string, cond func(workflows.CollaborationState) bool) error {
	return d.poll(ctx, what, func() (bool, error) {
		s, err := d.fetch(ctx)
		if err != nil {
			return false, err
		}
		if cond(s) {
			return true, nil
		}
		if s.Stage.Terminal() {
			return false, fmt.Errorf("ended as %s (%s) while waiting for %s", s.Stage, s.EndReason, what)
		}
		return false, d.check(ctx, what)
	})
}

// fetch reads the state through the API and remembers it.
func (d *driver) fetch(ctx context.Context) (workflows.CollaborationState, error) {
	var s workflows.CollaborationState
	a, err := d.h.api.send(ctx, jsonRequest(http.MethodGet, "/v1/collaborations/"+d.id, auditorKey, nil))
	if err != nil {
		return s, err
	}
	if a.Status != http.StatusOK {
		return s, fmt.Errorf("GET state: %s", a)
	}
	if err := a.decode(&s); err != nil {
		return s, err
	}
	d.mu.Lock()
	if s.Stage != d.stage {
		d.log = append(d.log, fmt.Sprintf("%6.1fs stage %s", time.Since(d.h.t0).Seconds(), s.Stage))
	}
	d.stage, d.state = s.Stage, s
	d.mu.Unlock()
	return s, nil
}

// check looks at the last state for an open escalation. Once the faults are over, ops
// ask for a retry of the step that gave up (POST …/resolve); an escalation that stays open
// after that stops the driver: the collaboration waits for ops, which is an accepted way
// for a run to end.
func (d *driver) check(ctx context.Context, what string) error {
	d.mu.Lock()
	att := d.state.Attention
	d.attention = att
	d.mu.Unlock()
	if att == nil || !att.Due.IsZero() || !d.h.faultsOver() {
		// A passed draft, review or post deadline (Due) is not a step to retry: the
		// delivery the driver makes next settles it.
		return nil
	}
	stuck := fmt.Errorf("%w (%s since %s: %s) while waiting for %s", errAttention, att.Step, att.Since.Format(time.RFC3339), att.Reason, what)
	if att.Since.Equal(d.resolvedSince) {
		// Ops asked for a retry of this very escalation: give the retry time to run.
		if time.Since(d.resolvedAt) > 30*time.Second {
			return stuck
		}
		return nil
	}
	if d.resolved >= 3 {
		return stuck
	}
	d.resolved++
	d.resolvedSince, d.resolvedAt = att.Since, time.Now()
	a, err := d.h.api.send(ctx, change("/v1/collaborations/"+d.id+"/resolve", opsKey,
		map[string]string{"decision": workflows.ResolveRetry, "reason": "fault injection over: try again"}))
	if err != nil {
		return err
	}
	d.note("attention (%s: %s): resolve retry: %s", att.Step, att.Reason, a)
	switch a.Status {
	case http.StatusOK, http.StatusAccepted, http.StatusConflict:
		// 409: the escalation closed meanwhile; the next look decides.
		return nil
	}
	return fmt.Errorf("%w; resolve answered %s", stuck, a)
}

// poll calls f every half second until it reports done or an error, or the run's
// deadline passes.
func (d *driver) poll(ctx context.Context, what string, f func() (bool, error)) error {
	for {
		done, err := f()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still waiting for %s in %s at the deadline", what, d.lastStage())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// waitForMail waits until the SendGrid fake holds a message of this collaboration that
// match accepts.
func (d *driver) waitForMail(ctx context.Context, what string, match func(sendgridsink.Received) bool) error {
	return d.poll(ctx, what, func() (bool, error) {
		for _, m := range d.h.stack.mail.of(d.id) {
			if match(m) {
				return true, nil
			}
		}
		s, err := d.fetch(ctx)
		if err != nil {
			return false, err
		}
		if s.Stage.Terminal() {
			return false, fmt.Errorf("ended as %s (%s) while waiting for %s", s.Stage, s.EndReason, what)
		}
		return false, d.check(ctx, what)
	})
}

// sleepUntil waits for a planned moment (a person acting later), not for a result.
func sleepUntil(ctx context.Context, at time.Time) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Until(at)):
		return nil
	}
}
