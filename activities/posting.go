package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/collabflow/collabflow/contract"
	"github.com/collabflow/collabflow/payout"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/verify"
)

// Verifier checks a published post; *verify.Fetcher implements it.
type Verifier interface {
	Verify(ctx context.Context, url string, e verify.Expect) verify.Report
}

// PayoutProvider pays a ledger row. Submit must be idempotent on p.IdempotencyKey, as
// Stripe's and PayPal's idempotency keys are; it reports a reference when the payment is
// done, or "" when a person will pay it and confirm (the manual provider).
type PayoutProvider interface {
	Name() string
	Submit(ctx context.Context, p store.Payout) (reference string, err error)
}

// PayoutRefused is a provider's final refusal of a payout (a closed account, an invalid
// destination, a payee who failed checks): submitting the same payout again cannot
// succeed, so CreatePayout does not retry it. A PayoutProvider returns it, or wraps it;
// any other error is taken as transient and retried.
type PayoutRefused struct {
	// Reason is the provider's explanation, for ops.
	Reason string
}

func (e *PayoutRefused) Error() string { return "payout refused: " + e.Reason }

// ErrPayoutRefused is the ApplicationError type of a payout the provider refused.
const ErrPayoutRefused = "PayoutRefused"

// ManualPayouts leaves payment to finance, who list pending payouts and confirm each with
// their bank reference.
type ManualPayouts struct{}

// Name is the provider name stored on ledger rows.
func (ManualPayouts) Name() string { return "manual" }

// Submit does nothing: the row stays pending until finance confirm it.
func (ManualPayouts) Submit(context.Context, store.Payout) (string, error) { return "", nil }

// AttributionInput asks for a collaboration's discount code and tracking link.
type AttributionInput struct {
	CollaborationID string `json:"collaboration_id"`
	CampaignID      string `json:"campaign_id"`
	CreatorID       string `json:"creator_id"`
	// Code is the code the terms name, if any.
	Code string `json:"code"`
}

var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]+`)

// AssignAttribution gives the collaboration its discount code (the terms' own, else the
// campaign's name, or CF without one, plus a random suffix, unique across campaigns) and
// its tracking link: the campaign's landing URL with utm_source=collabflow,
// utm_medium=influencer, utm_campaign and utm_content=<code>. Neither is made from the
// creator: the code goes into Temporal's history, emails, public posts and the brand's
// shop, and outlives an erasure. The collaboration is the key: a retry returns the same
// pair. Terms naming a code another collaboration holds get a generated code, with the
// asked-for one in Requested for the workflow to record: the contract is signed by now,
// and a clash must not fail the deal.
func (a *Activities) AssignAttribution(ctx context.Context, in AttributionInput) (store.Attribution, error) {
	campaign, err := a.Store.Campaign(ctx, in.CampaignID)
	if err != nil {
		return store.Attribution{}, lookupError("campaign", err)
	}
	prefix := strings.ToUpper(nonAlnum.ReplaceAllString(campaign.Name, ""))
	prefix = prefix[:min(len(prefix), 8)]
	if prefix == "" {
		prefix = "CF"
	}
	base := ""
	if campaign.LandingURL != "" {
		u, err := url.Parse(campaign.LandingURL)
		if err != nil {
			return store.Attribution{}, temporal.NewNonRetryableApplicationError("campaign landing_url", "BadInput", err)
		}
		q := u.Query()
		q.Set("utm_source", "collabflow")
		q.Set("utm_medium", "influencer")
		q.Set("utm_campaign", strings.ToLower(strings.Trim(nonAlnum.ReplaceAllString(campaign.Name, "-"), "-")))
		q.Del("utm_content")
		u.RawQuery = q.Encode()
		base = u.String() + "&utm_content="
	}
	attr, err := a.Store.AssignAttribution(ctx, in.CollaborationID, in.Code, prefix, base)
	if err != nil {
		return store.Attribution{}, err // the store's error names the collaboration
	}
	if attr.Requested != "" {
		activity.GetLogger(ctx).Warn("discount code held by another collaboration; assigned a generated one",
			"requested", attr.Requested, "code", attr.Code)
	}
	return attr, nil
}

// VerifyPostInput names a post and what it must show.
type VerifyPostInput struct {
	URL    string        `json:"url"`
	Expect verify.Expect `json:"expect"`
	// CollaborationID is the collaboration whose post this is. Empty means the workflow
	// running the activity, whose ID is the collaboration's (workflows.CollaborationID):
	// the collaboration workflow leaves it empty, so its recorded histories and inputs
	// are unchanged; callers outside it (tests) name it.
	CollaborationID string `json:"collaboration_id,omitempty"`
}

// ErrPostUnreachable is the ApplicationError type of a post that could not be checked.
const ErrPostUnreachable = "PostUnreachable"

// VerifyPost fetches a post and reports each check with its evidence. A post that fails a
// check is a result, not an error. A post that could not be checked (timeout, DNS or
// connection failure, HTTP 429 or 5xx) is a retryable PostUnreachable error carrying the
// report as its details: the activity's bounded retry policy tries again, and when it
// gives up the workflow escalates instead of blaming the creator.
//
// Where the post may be comes from the database, not the input: the platforms of the
// signed contract's deliverables and the creator's handle on each (see
// verify.CheckAccount), read at each check so a handle corrected on the roster counts.
// Handles never enter Temporal's history.
func (a *Activities) VerifyPost(ctx context.Context, in VerifyPostInput) (verify.Report, error) {
	e := in.Expect
	accounts, err := a.postAccounts(ctx, in.CollaborationID)
	if err != nil {
		return verify.Report{}, err
	}
	e.Accounts = accounts
	r := a.Verifier.Verify(ctx, in.URL, e)
	if r.Transient {
		evidence := ""
		if len(r.Checks) > 0 {
			evidence = r.Checks[0].Evidence
		}
		return verify.Report{}, temporal.NewApplicationErrorWithOptions("verify "+in.URL+": "+evidence, ErrPostUnreachable,
			temporal.ApplicationErrorOptions{Details: []any{r}})
	}
	// A verdict completes the activity; only a lost completion (rare) runs it again.
	a.Metrics.verified(r.Passed)
	return r, nil
}

// ErrAccountsUnavailable is the ApplicationError type of a post check that could not read
// the collaboration's platforms and handles; it is retried.
const ErrAccountsUnavailable = "AccountsUnavailable"

// postAccounts are where the collaboration's posts may be: each platform of the signed
// contract's deliverables, with its domains and the creator's handle there (empty when the
// roster has none, which fails the check). A collaboration, contract or creator that is
// not found gives no accounts: the post fails the check and ops may override it. Other
// database errors are retried; their detail is logged, not returned, because older runs
// email an activity's error to the creator.
func (a *Activities) postAccounts(ctx context.Context, collaborationID string) ([]verify.Account, error) {
	if collaborationID == "" {
		collaborationID = activity.GetInfo(ctx).WorkflowExecution.ID
	}
	log := activity.GetLogger(ctx)
	unavailable := func(what string, err error) ([]verify.Account, error) {
		if errors.Is(err, store.ErrNotFound) {
			log.Warn("post checked against no platform: "+what+" not found", "collaboration", collaborationID, "error", err)
			return nil, nil
		}
		log.Error("read the post's platforms and handles", "collaboration", collaborationID, "error", fmt.Errorf("%s: %w", what, err))
		return nil, temporal.NewApplicationError("the agreed platform and account could not be read; trying again", ErrAccountsUnavailable)
	}
	collab, err := a.Store.Collaboration(ctx, collaborationID)
	if err != nil {
		return unavailable("collaboration", err)
	}
	signed, err := a.Store.SignedContract(ctx, collaborationID)
	if err != nil {
		return unavailable("signed contract", err)
	}
	var terms contract.Terms
	if err := json.Unmarshal(signed.Terms, &terms); err != nil {
		return unavailable("signed contract terms", err)
	}
	creator, err := a.Store.Creator(ctx, collab.CreatorID)
	if err != nil {
		return unavailable("creator", err)
	}
	hosts := a.PlatformHosts
	if hosts == nil {
		hosts = verify.DefaultPlatformHosts()
	}
	var accounts []verify.Account
	for _, d := range terms.Deliverables {
		if slices.ContainsFunc(accounts, func(acc verify.Account) bool { return acc.Platform == d.Platform }) {
			continue
		}
		accounts = append(accounts, verify.Account{Platform: d.Platform, Hosts: hosts[d.Platform], Handle: creator.Handles[d.Platform]})
	}
	return accounts, nil
}

// Payout kinds, the second half of a payout's idempotency key.
const (
	PayoutFee     = "fee"
	PayoutKillFee = "kill_fee"
)

// PayoutInput asks for a collaboration's payout of a kind under the agreed terms.
type PayoutInput struct {
	CollaborationID string         `json:"collaboration_id"`
	Kind            string         `json:"kind"`
	Terms           contract.Terms `json:"terms"`
}

// CreatePayout computes what is owed (the fee: fixed fee, bonus tiers reached and revenue
// share from the latest metrics; the kill fee: the contract's), writes it to the ledger
// under the key "<collaboration>/<kind>" and hands it to the provider with that key. A
// retried or replayed activity finds the row it wrote: never a second payout. Metrics the
// terms cannot be computed from (BadMetrics) and a provider's PayoutRefused are
// non-retryable; other provider and database errors are retried.
func (a *Activities) CreatePayout(ctx context.Context, in PayoutInput) (store.Payout, error) {
	key := in.CollaborationID + "/" + in.Kind
	var b payout.Breakdown
	switch in.Kind {
	case PayoutFee:
		m, err := a.Store.LatestMetrics(ctx, in.CollaborationID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.Payout{}, err
		}
		if b, err = payout.Compute(in.Terms, m); err != nil {
			return store.Payout{}, temporal.NewNonRetryableApplicationError(err.Error(), "BadMetrics", err)
		}
	case PayoutKillFee:
		b = payout.Breakdown{Currency: in.Terms.Currency, BonusTiers: []string{}, Total: in.Terms.KillFee}
	default:
		return store.Payout{}, temporal.NewNonRetryableApplicationError("unknown payout kind "+in.Kind, "BadInput", nil)
	}
	breakdown, err := json.Marshal(b)
	if err != nil {
		return store.Payout{}, fmt.Errorf("encode breakdown: %w", err)
	}
	p, created, err := a.Store.CreatePayoutOnce(ctx, store.Payout{
		CollaborationID: in.CollaborationID, Kind: in.Kind, IdempotencyKey: key,
		Currency: b.Currency, Amount: b.Total, Breakdown: breakdown, Provider: a.Payouts.Name(), Status: store.PayoutPending,
	})
	if err != nil {
		return store.Payout{}, err
	}
	if created {
		a.Metrics.payout("created")
	}
	if p.Status != store.PayoutPending {
		return p, nil
	}
	ref, err := a.Payouts.Submit(ctx, p)
	var refused *PayoutRefused
	switch {
	case errors.As(err, &refused):
		// The ledger row stays pending: ops decide (retry after the payee fixes their
		// account, pay by hand, or cancel), and a retry submits the same key again.
		return store.Payout{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%s refused payout %s: %s", a.Payouts.Name(), key, refused.Reason), ErrPayoutRefused, err)
	case err != nil:
		return store.Payout{}, fmt.Errorf("submit payout %s to %s: %w", key, a.Payouts.Name(), err)
	}
	if ref != "" {
		p, confirmed, err := a.Store.ConfirmPayoutOnce(ctx, p.ID, ref, a.Payouts.Name())
		if confirmed {
			a.Metrics.payout("confirmed")
		}
		return p, err
	}
	return p, nil
}
