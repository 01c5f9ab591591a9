package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/devenv/sendgridsink"
	"github.com/collabflow/collabflow/workflows"
)

// allDays is a send window open around the clock: the run must not wait for office hours.
var allDays = map[string]any{"start": "00:00", "end": "24:00", "days": []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}}

// campaignBody is a campaign with day-scale timings turned into seconds where the
// lifecycle passes through them (the live window and its checks), and waits nobody
// reaches (follow-ups, deadlines) long enough never to fire during the run.
func campaignBody(name string) map[string]any {
	return map[string]any{
		"name": name, "brand": "Acme", "sender_email": "collabs@acme.test", "landing_url": "https://acme.test/kit",
		"disclosure_text": "#ad",
		"brief":           map[string]any{"deliverables": []map[string]any{{"platform": "instagram", "format": "post", "count": 1}}},
		"compensation": map[string]any{"currency": "USD", "fixed_fee": 150000, "revenue_share_percent": 7.5,
			"bonus_tiers": []map[string]any{{"metric": "impressions", "threshold": 10000, "amount": 20000}}},
		"timings": map[string]any{"follow_up_delays": []string{"2h", "2h"}, "reply_wait": "4h",
			"contract_expiry": "1h", "draft_deadline": "1h", "review_sla": "1h", "post_deadline": "1h",
			"verification_interval": "2s", "live_window": "6s"},
		"send_window": allDays,
	}
}

// roster creates n creators with an instagram handle each, puts them on the campaign's
// roster and returns their ids, in order.
func roster(ctx context.Context, api *apiClient, key, campaignID, prefix string, n int) ([]string, error) {
	ids := make([]string, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range n {
		g.Go(func() error {
			var c struct{ ID string }
			err := api.want(gctx, "POST", "/v1/creators", key, map[string]any{
				"name": fmt.Sprintf("Creator %s %d", prefix, i), "email": fmt.Sprintf("%s.%d@creators.test", prefix, i),
				"timezone": "UTC", "followers": 20_000, "handles": map[string]string{"instagram": handle(prefix, i)},
			}, &c, http.StatusCreated)
			ids[i] = c.ID
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("create creators: %w", err)
	}
	for lo := 0; lo < n; lo += 5000 {
		var entries []map[string]string
		for _, id := range ids[lo:min(n, lo+5000)] {
			entries = append(entries, map[string]string{"creator_id": id, "tier": "micro"})
		}
		if err := api.want(ctx, "POST", "/v1/campaigns/"+campaignID+"/roster", key, map[string]any{"creators": entries}, nil, http.StatusOK); err != nil {
			return nil, fmt.Errorf("approve the roster: %w", err)
		}
	}
	return ids, nil
}

func handle(prefix string, i int) string { return fmt.Sprintf("%s.%d", prefix, i) }

// launchResult is what a launch measured: how long the API took to accept it, how long
// until every creator was started, and the collaboration of each creator.
type launchResult struct {
	Accepted   time.Duration
	AllStarted time.Duration
	Started    int
	Skipped    int
	Failed     int
	// ids are the collaborations started, in the launch's order.
	ids []string
}

// launch launches the campaign's creators (or the named ones) and waits until the launch
// has finished.
func launch(ctx context.Context, api *apiClient, key, campaignID string, creatorIDs []string) (launchResult, error) {
	var res launchResult
	t0 := time.Now()
	body := map[string]any{}
	if creatorIDs != nil {
		body["creator_ids"] = creatorIDs
	}
	a, err := api.call(ctx, "POST", "/v1/campaigns/"+campaignID+"/launch", key, body)
	if err != nil {
		return res, err
	}
	res.Accepted = time.Since(t0)
	if a.status != http.StatusAccepted {
		return res, fmt.Errorf("launch: %s", a)
	}
	type progress struct {
		ID                               string
		Total, Pending, Started, Skipped int
		Failed                           int
		FinishedAt                       *time.Time `json:"finished_at"`
	}
	var l progress
	if err := a.decode(&l); err != nil {
		return res, err
	}
	for l.FinishedAt == nil {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		var got struct {
			Launch progress `json:"launch"`
		}
		if err := api.want(ctx, "GET", "/v1/launches/"+l.ID+"?limit=1", key, nil, &got, http.StatusOK); err != nil {
			return res, err
		}
		l = got.Launch
	}
	res.AllStarted = time.Since(t0)
	res.Started, res.Skipped, res.Failed = l.Started, l.Skipped, l.Failed
	for after := ""; ; {
		var page struct {
			Items []struct {
				CollaborationID string `json:"collaboration_id"`
				Status          string
			} `json:"items"`
			Next string `json:"next"`
		}
		q := url.Values{"limit": {"200"}, "status": {"started"}}
		if after != "" {
			q.Set("after", after)
		}
		if err := api.want(ctx, "GET", "/v1/launches/"+l.ID+"?"+q.Encode(), key, nil, &page, http.StatusOK); err != nil {
			return res, err
		}
		for _, it := range page.Items {
			res.ids = append(res.ids, it.CollaborationID)
		}
		if page.Next == "" || len(page.Items) == 0 {
			return res, nil
		}
		after = page.Next
	}
}

// driver plays every person of a collaboration through the API: the creator replies,
// counters the offer, signs in the portal and posts; ops record the draft and the post
// and report metrics; the reviewer approves; finance confirms the payout.
type driver struct {
	api    *apiClient
	keys   keys
	mail   *mailboxes
	stages *stages
	posts  *postHost
	prefix string
	mu     sync.Mutex
	// byID maps a collaboration to its creator's number, for the creator's handle.
	byID map[string]int
}

var contractLink = regexp.MustCompile(`https?://[^/\s]+(/portal/contracts/[A-Za-z0-9_.-]+)`)
var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// drive takes collaboration id from its first email to completed.
func (d *driver) drive(ctx context.Context, id string) error {
	mailOf := func(what string, match func(sendgridsink.Received) bool) (sendgridsink.Received, error) {
		return d.mail.wait(ctx, id, what, match)
	}
	kind := func(k string) func(sendgridsink.Received) bool {
		return func(r sendgridsink.Received) bool { return r.CustomArgs["kind"] == k }
	}
	update := func(path, key string, body any, want ...string) error {
		var st struct{ Stage string }
		a, err := d.api.call(ctx, "POST", "/v1/collaborations/"+id+path, key, body)
		switch {
		case err != nil:
			return err
		case a.status == http.StatusOK:
			if err := a.decode(&st); err != nil {
				return err
			}
		case a.status != http.StatusAccepted:
			return fmt.Errorf("POST %s of %s: %s", path, id, a)
		}
		for _, w := range want {
			if st.Stage == w {
				return nil
			}
		}
		if len(want) == 0 {
			return nil
		}
		return d.stages.wait(ctx, id, want...)
	}

	if _, err := mailOf("the first outreach email", isOutreach); err != nil {
		return err
	}
	if err := update("/replies", d.keys.ops, map[string]string{"note": "answered by DM"}, string(workflows.StageNegotiating)); err != nil {
		return err
	}
	counter := map[string]any{"from": "creator", "terms": map[string]any{
		"deliverables": []map[string]any{{"platform": "instagram", "format": "post", "count": 1}},
		"currency":     "USD", "fixed_fee": 140000, "disclosure_text": "#ad",
	}}
	if err := update("/offers", d.keys.ops, counter); err != nil {
		return err
	}
	if err := update("/accept", d.keys.ops, map[string]any{}); err != nil {
		return err
	}
	contract, err := mailOf("the contract email", kind(activities.NoticeContract))
	if err != nil {
		return err
	}
	if err := d.sign(ctx, id, contract.Text); err != nil {
		return err
	}
	if _, err := mailOf("the brief", kind(activities.NoticeBrief)); err != nil {
		return err
	}
	var st workflows.CollaborationState
	if err := d.api.want(ctx, "GET", "/v1/collaborations/"+id, d.keys.ops, nil, &st, http.StatusOK); err != nil {
		return err
	}
	if st.Attribution == nil {
		return fmt.Errorf("%s: the brief went out before the discount code", id)
	}
	caption := fmt.Sprintf("#ad Loving the new Acme kit (%s)", handle(d.prefix, d.creatorOf(id)))
	if err := update("/drafts", d.keys.ops, map[string]any{"assets": []string{"https://cdn.acme.test/" + id + ".jpg"}, "caption": caption},
		string(workflows.StageInReview)); err != nil {
		return err
	}
	if err := update("/drafts/1/review", d.keys.reviewer, map[string]string{"decision": "approve", "comments": "Great"},
		string(workflows.StageAwaitingPost)); err != nil {
		return err
	}
	post := d.posts.publish(id, handle(d.prefix, d.creatorOf(id)), caption, st.Attribution.Code, st.Attribution.TrackingURL)
	if err := update("/posts", d.keys.ops, map[string]string{"url": post}, string(workflows.StageLive), string(workflows.StagePayout)); err != nil {
		return err
	}
	if err := d.api.want(ctx, "POST", "/v1/collaborations/"+id+"/metrics", d.keys.ops, map[string]any{
		"at": time.Now().UTC().Format(time.RFC3339), "impressions": 12000, "reach": 9000, "likes": 700, "comments": 40,
		"saves": 30, "shares": 12, "clicks": 300, "conversions": 25, "revenue": 90000, "currency": "USD"}, nil, http.StatusCreated); err != nil {
		return err
	}
	if err := d.stages.wait(ctx, id, string(workflows.StagePayout)); err != nil {
		return err
	}
	fee, err := d.pendingFee(ctx, id)
	if err != nil {
		return err
	}
	if err := d.api.want(ctx, "POST", "/v1/payouts/"+fee+"/confirm", d.keys.finance, map[string]string{"reference": "BANK-" + id[:8]},
		nil, http.StatusOK, http.StatusAccepted); err != nil {
		return err
	}
	return d.stages.wait(ctx, id, string(workflows.StageCompleted))
}

// sign signs the contract from its email as the creator's browser would: the page sets
// the CSRF cookie, the form posts it back.
func (d *driver) sign(ctx context.Context, id, text string) error {
	m := contractLink.FindStringSubmatch(text)
	if m == nil {
		return fmt.Errorf("%s: no contract link in its email", id)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return err
	}
	browser := &http.Client{Jar: jar, Timeout: d.api.http.Timeout, Transport: d.api.http.Transport}
	page, err := d.api.do(ctx, browser, http.MethodGet, m[1], http.Header{}, nil)
	if err != nil {
		return err
	}
	tok := csrfField.FindSubmatch(page.body)
	if page.status != http.StatusOK || tok == nil {
		return fmt.Errorf("%s: the contract page has no form: %s", id, page)
	}
	form := url.Values{"name": {"Creator " + id[:8]}, "agree": {"yes"}, "_csrf": {string(tok[1])}}
	hdr := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	a, err := d.api.do(ctx, browser, http.MethodPost, m[1], hdr, []byte(form.Encode()))
	if err != nil {
		return err
	}
	if a.status != http.StatusOK && a.status != http.StatusAccepted && a.status != http.StatusSeeOther {
		return fmt.Errorf("%s: sign: %s", id, a)
	}
	return nil
}

// pendingFee waits for the fee of id in the payout ledger and returns its id.
func (d *driver) pendingFee(ctx context.Context, id string) (string, error) {
	for {
		var page struct {
			Items []struct{ ID, Kind, Status string } `json:"items"`
		}
		if err := d.api.want(ctx, "GET", "/v1/payouts?collaboration_id="+id, d.keys.finance, nil, &page, http.StatusOK); err != nil {
			return "", err
		}
		for _, p := range page.Items {
			if p.Kind == "fee" && p.Status == "pending" {
				return p.ID, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%s: no pending fee: %w", id, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// driveAll drives every collaboration sent on next with at most inflight drivers at once
// and returns when next is closed and each finished: when each completed, and the first
// error.
func (d *driver) driveAll(ctx context.Context, next <-chan string, inflight int) (map[string]time.Time, error) {
	var mu sync.Mutex
	done := map[string]time.Time{}
	var errs []error
	var wg sync.WaitGroup
	for range inflight {
		wg.Go(func() {
			for id := range next {
				err := d.drive(ctx, id)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					done[id] = time.Now()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return done, fmt.Errorf("%d lifecycles failed; the first: %w", len(errs), errs[0])
	}
	return done, nil
}

// setCreator remembers which of creators collaboration id works with, once the read
// model has told.
func (d *driver) setCreator(id string, creators map[string]int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n, ok := creators[d.stages.creator(id)]; ok {
		d.byID[id] = n
	}
}

// isOutreach tells the outreach emails from transactional ones.
func isOutreach(r sendgridsink.Received) bool {
	return strings.Contains(r.CustomArgs["message_key"], "/outreach/")
}

func (d *driver) creatorOf(id string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.byID[id]
}
