package api

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/payout"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

type postInput struct {
	URL string `json:"url"`
}

// submitPost is ops giving the URL of a live post for the creator.
func (s *Server) submitPost(c echo.Context) error {
	var in postInput
	return s.collabUpdate(c, &in, workflows.UpdateSubmitPost, func() (any, error) {
		a := actor(c)
		return workflows.PostRequest{Actor: &a, URL: strings.TrimSpace(in.URL)}, nil
	})
}

type overrideInput struct {
	Post   int    `json:"post" validate:"gte=0"`
	Reason string `json:"reason" validate:"required,max=1000"`
}

// overrideVerification accepts a post despite failed checks (post > 0) or releases a
// payout hold (post 0); the reason is recorded with the caller.
func (s *Server) overrideVerification(c echo.Context) error {
	var in overrideInput
	return s.collabUpdate(c, &in, workflows.UpdateOverride, func() (any, error) {
		in.Reason = strings.TrimSpace(in.Reason)
		if err := s.validate.Struct(in); err != nil {
			return nil, validationError(err)
		}
		return workflows.OverrideRequest{Actor: actor(c), Post: in.Post, Reason: in.Reason}, nil
	})
}

// checkSnapshot validates a snapshot, naming fields under prefix. The currency must be an
// ISO 4217 code, not merely three characters: "=A1" is three characters, and a cell like
// it in any later export would be a spreadsheet formula.
func (s *Server) checkSnapshot(m payout.Metrics, prefix string, now time.Time) map[string]string {
	bad := map[string]string{}
	for field, why := range m.Check() {
		bad[prefix+field] = why
	}
	if m.At.After(now.Add(5 * time.Minute)) {
		bad[prefix+"at"] = "must not be in the future"
	}
	if m.Currency != "" && s.validate.Var(m.Currency, "iso4217") != nil {
		bad[prefix+"currency"] = "must be an ISO 4217 currency code such as USD"
	}
	return bad
}

// addMetrics stores a cumulative snapshot; one not newer than the last is refused, and so
// is one in another currency than the agreed terms' (the payout could not count it). Before
// terms are agreed there is nothing to measure against: 409.
func (s *Server) addMetrics(c echo.Context) error {
	id, err := collaborationID(c)
	if err != nil {
		return err
	}
	var m payout.Metrics
	if err := decode(c, &m); err != nil {
		return err
	}
	if m.At.IsZero() {
		m.At = time.Now()
	}
	m.At, m.Currency = m.At.UTC(), strings.ToUpper(m.Currency)
	if bad := s.checkSnapshot(m, "", time.Now()); len(bad) > 0 {
		return invalid(bad)
	}
	if err := s.requireCollaboration(c, id, ""); err != nil {
		return err
	}
	currency, err := s.agreedCurrency(c, id)
	if err != nil {
		return err
	}
	if currency == "" {
		return conflict("no terms agreed yet: metrics count against the agreed terms and their currency")
	}
	if m.Currency != "" && m.Currency != currency {
		return invalid(map[string]string{"currency": "must be " + currency + ", the agreed terms' currency"})
	}
	if err := s.store.AddMetrics(c.Request().Context(), map[string][]payout.Metrics{id: {m}}, []string{id}); err != nil {
		if errors.Is(err, store.ErrStaleMetrics) {
			return invalid(map[string]string{"at": "older than (or as old as) the last snapshot; snapshots are cumulative"})
		}
		return err
	}
	return c.JSON(http.StatusCreated, m)
}

// importMetrics takes a CSV of snapshots for a campaign's collaborations: a header row
// collaboration_id,at,impressions,reach,likes,comments,saves,shares,clicks,conversions,revenue,currency
// then one row per snapshot. Every row is checked before any is stored, including that its
// collaboration has agreed terms in the row's currency; one bad row stores nothing and the
// 422 names every bad row's field.
func (s *Server) importMetrics(c echo.Context) error {
	campaignID, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	if _, err := s.store.Campaign(c.Request().Context(), campaignID); err != nil {
		return notFoundAs(err, "campaign")
	}
	r := csv.NewReader(c.Request().Body)
	r.FieldsPerRecord = len(csvColumns)
	header, err := r.Read()
	if err != nil || strings.Join(header, ",") != strings.Join(csvColumns, ",") {
		return badRequest("header", "first row must be "+strings.Join(csvColumns, ","))
	}
	rows := map[string][]payout.Metrics{}
	// currencies holds each collaboration's agreed currency, looked up once per import.
	currencies := map[string]string{}
	var order []string
	bad := map[string]string{}
	now := time.Now()
	// Fifty bad fields are enough to fix a file by; stop looking up collaborations then.
	for line := 2; len(bad) < 50; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		prefix := fmt.Sprintf("row %d.", line)
		if tooLarge(err) {
			return errTooLarge()
		} else if err != nil {
			return badRequest(fmt.Sprintf("row %d", line), err.Error())
		}
		m, id, rowBad := s.parseMetricsRow(rec, prefix, now)
		for k, v := range rowBad {
			bad[k] = v
		}
		if len(rowBad) > 0 {
			continue
		}
		if _, seen := currencies[id]; !seen {
			currency, err := s.importTarget(c, id, campaignID)
			if err != nil {
				return err
			}
			currencies[id] = currency
		}
		switch currency := currencies[id]; {
		case currency == noSuchTarget:
			bad[prefix+"collaboration_id"] = "not a collaboration of this campaign"
			continue
		case currency == "":
			bad[prefix+"collaboration_id"] = "no terms agreed yet: metrics count against the agreed terms"
			continue
		case m.Currency != "" && m.Currency != currency:
			bad[prefix+"currency"] = "must be " + currency + ", the agreed terms' currency"
			continue
		}
		if _, seen := rows[id]; !seen {
			order = append(order, id)
		}
		rows[id] = append(rows[id], m)
	}
	if len(bad) > 0 {
		return invalid(bad)
	}
	if len(order) == 0 {
		return badRequest("body", "no rows")
	}
	if err := s.store.AddMetrics(c.Request().Context(), rows, order); err != nil {
		if errors.Is(err, store.ErrStaleMetrics) {
			return invalid(map[string]string{"at": err.Error()})
		}
		return err
	}
	n := 0
	for _, list := range rows {
		n += len(list)
	}
	return c.JSON(http.StatusCreated, map[string]int{"imported": n})
}

var csvColumns = []string{"collaboration_id", "at", "impressions", "reach", "likes", "comments", "saves", "shares", "clicks", "conversions", "revenue", "currency"}

// parseMetricsRow reads one CSV row. Only currency is text that is stored: the
// collaboration ID is looked up and kept only when it names one of the campaign's
// collaborations, and every other cell is a time or a number, so no cell that reaches the
// store can begin a spreadsheet formula.
func (s *Server) parseMetricsRow(rec []string, prefix string, now time.Time) (payout.Metrics, string, map[string]string) {
	bad := map[string]string{}
	id, ok := canonicalCollaborationID(rec[0])
	if !ok {
		bad[prefix+"collaboration_id"] = "not a collaboration id"
	}
	at, err := time.Parse(time.RFC3339, strings.TrimSpace(rec[1]))
	if err != nil {
		bad[prefix+"at"] = "an RFC 3339 time such as 2027-01-31T12:00:00Z"
	}
	nums := make([]int64, 9)
	for i := range nums {
		v, err := strconv.ParseInt(strings.TrimSpace(rec[2+i]), 10, 64)
		if err != nil {
			bad[prefix+csvColumns[2+i]] = "a whole number"
		}
		nums[i] = v
	}
	m := payout.Metrics{At: at.UTC(), Impressions: nums[0], Reach: nums[1], Likes: nums[2], Comments: nums[3], Saves: nums[4],
		Shares: nums[5], Clicks: nums[6], Conversions: nums[7], Revenue: nums[8], Currency: strings.ToUpper(strings.TrimSpace(rec[11]))}
	if len(bad) == 0 {
		for k, v := range s.checkSnapshot(m, prefix, now) {
			bad[k] = v
		}
	}
	return m, id, bad
}

// noSuchTarget marks an import row whose collaboration is not the campaign's.
const noSuchTarget = "-"

// importTarget is the agreed currency of a collaboration an import row names: "" before
// terms are agreed, noSuchTarget when it is not a collaboration of the campaign.
func (s *Server) importTarget(c echo.Context, id, campaignID string) (string, error) {
	err := s.requireCollaboration(c, id, campaignID)
	var apiErr *Error
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return noSuchTarget, nil
	} else if err != nil {
		return "", err
	}
	currency, err := s.agreedCurrency(c, id)
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return noSuchTarget, nil
	}
	return currency, err
}

// agreedCurrency is the currency of the collaboration's agreed terms, from its workflow;
// "" while no terms are agreed.
func (s *Server) agreedCurrency(c echo.Context, id string) (string, error) {
	state, err := s.queryState(c.Request().Context(), id)
	if isNotFound(err) {
		return "", notFound("collaboration")
	} else if err != nil {
		return "", fmt.Errorf("state of %s: %w", id, err)
	}
	if state.AgreedTerms == nil {
		return "", nil
	}
	return state.AgreedTerms.Currency, nil
}

// requireCollaboration checks that a collaboration exists (in the read model), and, when
// campaignID is set, that it belongs to that campaign.
func (s *Server) requireCollaboration(c echo.Context, id, campaignID string) error {
	list, _, err := s.store.ListCollaborations(c.Request().Context(), store.CollaborationFilter{CampaignID: campaignID, After: "", Limit: 1, ID: id})
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return notFound("collaboration")
	}
	return nil
}

// listPayouts is the ledger for finance: ?status=pending lists what is owed.
func (s *Server) listPayouts(c echo.Context) error {
	limit, after, err := idPage(c)
	if err != nil {
		return err
	}
	status := c.QueryParam("status")
	if status != "" && status != store.PayoutPending && status != store.PayoutPaid {
		return badRequest("status", "pending or paid")
	}
	collab := c.QueryParam("collaboration_id")
	if collab != "" {
		var ok bool
		if collab, ok = canonicalCollaborationID(collab); !ok {
			return badRequest("collaboration_id", "not a collaboration id")
		}
	}
	list, next, err := s.store.Payouts(c.Request().Context(), status, collab, after, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listResponse[store.Payout]{Items: list, Next: next})
}

type confirmInput struct {
	Reference string `json:"reference" validate:"required,max=200"`
}

// confirmPayout records that finance paid a ledger row. For a fee, the collaboration is
// asked first and the ledger follows its answer: the row is marked paid only once the
// workflow has taken the payment, so a refusal (the collaboration was cancelled, or ended
// without this payment) answers 409 and leaves the row pending, and no answer is 200 unless
// both agree. Asking the ledger first would need an undo that a crash could skip, leaving a
// row paid that the collaboration never recorded. A repeat is harmless: a row paid with the
// same reference answers 200 again, another reference is a 409, and a repeat after the
// workflow took the payment but before the ledger was written completes the ledger.
func (s *Server) confirmPayout(c echo.Context) error {
	id, err := pathUUID(c, "payout")
	if err != nil {
		return err
	}
	var in confirmInput
	if err := decode(c, &in); err != nil {
		return err
	}
	in.Reference = strings.TrimSpace(in.Reference)
	if err := s.validate.Struct(in); err != nil {
		return validationError(err)
	}
	ctx := c.Request().Context()
	p, err := s.store.PayoutByID(ctx, id)
	if err != nil {
		return notFoundAs(err, "payout")
	}
	if p.Status == store.PayoutPaid {
		if p.Reference != in.Reference {
			return &store.ConflictError{Field: "reference", Message: "payout was already confirmed with reference " + p.Reference}
		}
		return c.JSON(http.StatusOK, p)
	}
	who := actor(c)
	if p.Kind == activities.PayoutFee {
		var state workflows.CollaborationState
		pending, err := s.update(c, p.CollaborationID, workflows.UpdateConfirmPayout,
			workflows.PayoutConfirmation{Actor: who, PayoutID: p.ID, Reference: in.Reference}, &state)
		var apiErr *Error
		switch {
		case pending != nil:
			// The workflow has the confirmation and will finish; the ledger follows on a
			// repeat of this request, which finds the payment taken.
			return answerAccepted(c, pending)
		case errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict:
			// Refused; but if the workflow took this payment already (a repeat after the
			// ledger write failed), the ledger still has to follow.
			state, qerr := s.queryState(ctx, p.CollaborationID)
			if qerr != nil || !paidInWorkflow(state, p.ID) {
				return err
			}
		case err != nil:
			return err
		case !paidInWorkflow(state, p.ID):
			return conflict(fmt.Sprintf("the collaboration ended as %s without taking this payment; the payout stays pending", state.Stage))
		}
	}
	p, err = s.store.ConfirmPayout(ctx, id, in.Reference, who.Name)
	if err != nil {
		return notFoundAs(err, "payout")
	}
	return c.JSON(http.StatusOK, p)
}

// paidInWorkflow reports whether the collaboration's state records payout id as paid: the
// payout marked paid, or the collaboration completed by confirming it.
func paidInWorkflow(state workflows.CollaborationState, payoutID string) bool {
	for _, p := range state.Payouts {
		if p.ID == payoutID && p.Status == store.PayoutPaid {
			return true
		}
	}
	if state.Stage != workflows.StageCompleted {
		return false
	}
	for _, e := range state.Events {
		if e.Kind == workflows.EventPayoutConfirmed && strings.Contains(e.Detail, payoutID) {
			return true
		}
	}
	return false
}
