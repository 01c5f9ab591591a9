package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/fit"
	"github.com/collabflow/collabflow/roster"
)

// batcher is what runs a batch: the pool, or a transaction.
type batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// History computes one creator's history across campaigns.
func (s *Store) History(ctx context.Context, creatorID string) (fit.History, error) {
	all, err := histories(ctx, s.pool, []string{creatorID})
	if err != nil {
		return fit.History{}, err
	}
	h := all[creatorID]
	h.Normalize()
	return h, nil
}

// Histories computes the histories of many creators with four queries in one round trip,
// whatever their number; nil creatorIDs asks for every creator's, which is cheaper than
// sending thousands of ids when the whole roster is scored. A creator without
// collaborations is absent from the map (its history is the zero History).
func (s *Store) Histories(ctx context.Context, creatorIDs []string) (map[string]fit.History, error) {
	return histories(ctx, s.pool, creatorIDs)
}

// historyQueries read the read model and the ledgers; each row starts with the creator id.
var historyQueries = [4]string{
	// Outcomes: the stage each collaboration ended in, or is in now.
	`SELECT creator_id::text, stage, count(*) FROM collaborations WHERE ($1::uuid[] IS NULL OR creator_id = ANY($1::uuid[])) GROUP BY 1, 2`,
	// Spend: what was paid, per currency.
	`SELECT c.creator_id::text, p.currency, sum(p.amount)::bigint FROM payouts p
		JOIN collaborations c ON c.id = p.collaboration_id
		WHERE ($1::uuid[] IS NULL OR c.creator_id = ANY($1::uuid[])) AND p.status = 'paid' GROUP BY 1, 2`,
	// Results: metrics are cumulative snapshots, so only each collaboration's latest counts.
	`SELECT c.creator_id::text, m.currency, sum(m.impressions)::bigint, sum(m.clicks)::bigint,
			sum(m.conversions)::bigint, sum(m.revenue)::bigint
		FROM collaborations c
		CROSS JOIN LATERAL (SELECT currency, impressions, clicks, conversions, revenue FROM metrics
			WHERE collaboration_id = c.id ORDER BY at DESC LIMIT 1) m
		WHERE ($1::uuid[] IS NULL OR c.creator_id = ANY($1::uuid[])) GROUP BY 1, 2`,
	// Reply times: from the first outreach email sent to the first reply, by email or
	// recorded by ops; replies noted before any email went out say nothing about speed.
	`WITH firsts AS (
		SELECT c.creator_id,
			(SELECT min(e.sent_at) FROM emails e WHERE e.collaboration_id = c.id AND e.kind = 'outreach') AS sent,
			LEAST((SELECT min(i.received_at) FROM inbound_messages i WHERE i.collaboration_id = c.id),
				(SELECT min(n.created_at) FROM notes n WHERE n.collaboration_id = c.id AND n.kind = 'reply')) AS replied
		FROM collaborations c WHERE ($1::uuid[] IS NULL OR c.creator_id = ANY($1::uuid[])))
	SELECT creator_id::text, count(*),
		percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM replied - sent)),
		avg(extract(epoch FROM replied - sent))::float8
	FROM firsts WHERE sent IS NOT NULL AND replied >= sent GROUP BY 1`,
}

func histories(ctx context.Context, db batcher, creatorIDs []string) (map[string]fit.History, error) {
	out := map[string]fit.History{}
	if creatorIDs != nil && len(creatorIDs) == 0 {
		return out, nil
	}
	var b pgx.Batch
	for _, q := range historyQueries {
		b.Queue(q, creatorIDs)
	}
	res := db.SendBatch(ctx, &b)
	defer res.Close()
	// edit applies a change to a creator's history in the map.
	edit := func(id string, change func(*fit.History)) {
		h := out[id]
		h.Normalize()
		change(&h)
		out[id] = h
	}
	readers := [4]func(pgx.Rows) error{
		func(r pgx.Rows) error {
			var (
				id, stage string
				n         int
			)
			if err := r.Scan(&id, &stage, &n); err != nil {
				return err
			}
			edit(id, func(h *fit.History) { h.Outcomes[stage] += n; h.Collaborations += n })
			return nil
		},
		func(r pgx.Rows) error {
			var (
				id, currency string
				amount       int64
			)
			if err := r.Scan(&id, &currency, &amount); err != nil {
				return err
			}
			edit(id, func(h *fit.History) { h.Spend[currency] += amount })
			return nil
		},
		func(r pgx.Rows) error {
			var (
				id, currency                              string
				impressions, clicks, conversions, revenue int64
			)
			if err := r.Scan(&id, &currency, &impressions, &clicks, &conversions, &revenue); err != nil {
				return err
			}
			edit(id, func(h *fit.History) {
				h.Results.Impressions += impressions
				h.Results.Clicks += clicks
				h.Results.Conversions += conversions
				h.Results.Revenue[currency] += revenue
			})
			return nil
		},
		func(r pgx.Rows) error {
			var (
				id          string
				n           int
				median, avg float64
			)
			if err := r.Scan(&id, &n, &median, &avg); err != nil {
				return err
			}
			edit(id, func(h *fit.History) {
				h.Replies, h.MedianReplySeconds, h.AvgReplySeconds = n, int64(math.Round(median)), int64(math.Round(avg))
			})
			return nil
		},
	}
	for i, read := range readers {
		rows, err := res.Query()
		if err != nil {
			return nil, fmt.Errorf("creator histories (query %d): %w", i+1, err)
		}
		for rows.Next() {
			if err := read(rows); err != nil {
				rows.Close()
				return nil, fmt.Errorf("creator histories (query %d): %w", i+1, err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("creator histories (query %d): %w", i+1, err)
		}
	}
	return out, nil
}

// CandidateFilter narrows the creators scored for a campaign. Zero fields do not filter.
type CandidateFilter struct {
	Tier  roster.Tier
	Niche string
	// Query matches a substring of the name or of any handle, ignoring case.
	Query string
	// Within, when not nil, keeps creators of these tiers only (a campaign's allowed tiers
	// when only eligible creators are asked for).
	Within []roster.Tier
	// Excluding drops these creator ids (a campaign's excluded creators, likewise).
	Excluding []string
}

// Candidates returns every creator on the roster (erased ones are not) that passes the
// filter, in id order. It reads the whole roster's matching rows: scoring needs them all
// to rank them.
func (s *Store) Candidates(ctx context.Context, f CandidateFilter) ([]roster.Creator, error) {
	var q keysetQuery
	q.where("erased_at IS NULL")
	if f.Tier != "" {
		q.where("tier = " + q.arg(string(f.Tier)))
	}
	if f.Within != nil {
		tiers := make([]string, len(f.Within))
		for i, t := range f.Within {
			tiers[i] = string(t)
		}
		q.where("tier = ANY (" + q.arg(tiers) + "::text[])")
	}
	if len(f.Excluding) > 0 {
		q.where("NOT (id = ANY (" + q.arg(f.Excluding) + "::uuid[]))")
	}
	if f.Niche != "" {
		q.where(q.arg(f.Niche) + " = ANY (niches)")
	}
	if f.Query != "" {
		p := q.arg("%" + escapeLike(f.Query) + "%")
		q.where("(name ILIKE " + p + " OR EXISTS (SELECT 1 FROM jsonb_each_text(handles) h WHERE h.value ILIKE " + p + "))")
	}
	sql := `SELECT ` + creatorSelect + ` FROM creators WHERE ` + joinAnd(q.conds) + ` ORDER BY id`
	rows, err := s.pool.Query(ctx, sql, q.args...)
	if err != nil {
		return nil, fmt.Errorf("candidates: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (roster.Creator, error) { return scanCreator(r) })
	if err != nil {
		return nil, fmt.Errorf("candidates: %w", err)
	}
	return list, nil
}

func joinAnd(conds []string) string {
	out := conds[0]
	for _, c := range conds[1:] {
		out += " AND " + c
	}
	return out
}

// RosterEntry is one creator on a campaign's approved roster, at the tier the campaign
// works with them at, with the fit score and reasons as of the approval.
type RosterEntry struct {
	CampaignID string       `json:"campaign_id"`
	CreatorID  string       `json:"creator_id"`
	Tier       roster.Tier  `json:"tier"`
	Score      int          `json:"score"`
	Reasons    []fit.Reason `json:"reasons"`
	ApprovedBy string       `json:"approved_by"`
	ApprovedAt time.Time    `json:"approved_at"`
}

// Approval is what ApproveRoster hands its decide function: the campaign and the creators
// asked for, both locked against change until the approval is written, and the creators'
// histories. A creator id that does not exist is absent from Creators.
type Approval struct {
	Campaign  campaigns.Campaign
	Creators  map[string]roster.Creator
	Histories map[string]fit.History
}

// ApproveRoster puts creators on a campaign's roster in one transaction. decide sees the
// campaign and creators under a share lock (so the rules cannot change and no creator can
// be erased meanwhile) and returns the entries to write, or an error, and then nothing is
// written. An entry whose creator is already on the roster at the same tier is left as it
// was, so a repeated approval changes nothing; at another tier the entry is replaced. It
// returns the stored entries for the ids, in creator id order, and how many changed.
func (s *Store) ApproveRoster(ctx context.Context, campaignID string, creatorIDs []string,
	decide func(Approval) ([]RosterEntry, error)) ([]RosterEntry, int, error) {
	var (
		stored  []RosterEntry
		changed int
	)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		camp, err := scanCampaign(tx.QueryRow(ctx, `SELECT `+campaignColumns+` FROM campaigns WHERE id = $1 FOR SHARE`, campaignID))
		if err != nil {
			return fmt.Errorf("campaign %s: %w", campaignID, pgError(err, nil))
		}
		rows, err := tx.Query(ctx, `SELECT `+creatorSelect+` FROM creators WHERE id = ANY($1::uuid[]) ORDER BY id FOR SHARE`, creatorIDs)
		if err != nil {
			return fmt.Errorf("lock creators: %w", err)
		}
		list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (roster.Creator, error) { return scanCreator(r) })
		if err != nil {
			return fmt.Errorf("lock creators: %w", err)
		}
		a := Approval{Campaign: camp, Creators: make(map[string]roster.Creator, len(list))}
		for _, c := range list {
			a.Creators[c.ID] = c
		}
		if a.Histories, err = histories(ctx, tx, creatorIDs); err != nil {
			return err
		}
		entries, err := decide(a)
		if err != nil {
			return err
		}
		ids, tiers, scores, reasons := make([]string, len(entries)), make([]string, len(entries)), make([]int32, len(entries)), make([]string, len(entries))
		for i, e := range entries {
			data, err := json.Marshal(e.Reasons)
			if err != nil {
				return fmt.Errorf("encode reasons: %w", err)
			}
			ids[i], tiers[i], scores[i], reasons[i] = e.CreatorID, string(e.Tier), int32(e.Score), string(data)
		}
		by := ""
		if len(entries) > 0 {
			by = entries[0].ApprovedBy
		}
		tag, err := tx.Exec(ctx, `INSERT INTO campaign_roster (campaign_id, creator_id, tier, score, reasons, approved_by, approved_at)
			SELECT $1, u.creator_id::uuid, u.tier, u.score, u.reasons::jsonb, $6, $7
			FROM unnest($2::text[], $3::text[], $4::int[], $5::text[]) AS u (creator_id, tier, score, reasons)
			ON CONFLICT (campaign_id, creator_id) DO UPDATE SET tier = EXCLUDED.tier, score = EXCLUDED.score,
				reasons = EXCLUDED.reasons, approved_by = EXCLUDED.approved_by, approved_at = EXCLUDED.approved_at
			WHERE campaign_roster.tier <> EXCLUDED.tier`,
			campaignID, ids, tiers, scores, reasons, by, now())
		if err != nil {
			return fmt.Errorf("write roster: %w", pgError(err, nil))
		}
		changed = int(tag.RowsAffected())
		stored, err = rosterEntries(ctx, tx, `WHERE campaign_id = $1 AND creator_id = ANY($2::uuid[]) ORDER BY creator_id`, campaignID, ids)
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("approve roster of campaign %s: %w", campaignID, err)
	}
	return stored, changed, nil
}

// Roster returns one page of a campaign's approved roster in creator id order, and the
// next cursor (a creator id), empty on the last page.
func (s *Store) Roster(ctx context.Context, campaignID, after string, limit int) ([]RosterEntry, string, error) {
	where, args := `WHERE campaign_id = $1`, []any{campaignID, limit + 1}
	if after != "" {
		where, args = where+` AND creator_id > $3`, append(args, after)
	}
	list, err := rosterEntries(ctx, s.pool, where+` ORDER BY creator_id LIMIT $2`, args...)
	if err != nil {
		return nil, "", err
	}
	return page(list, limit, func(e RosterEntry) string { return e.CreatorID })
}

// RosterTiers maps each creator on a campaign's roster to its approved tier.
func (s *Store) RosterTiers(ctx context.Context, campaignID string) (map[string]roster.Tier, error) {
	rows, err := s.pool.Query(ctx, `SELECT creator_id::text, tier FROM campaign_roster WHERE campaign_id = $1`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("roster tiers of campaign %s: %w", campaignID, err)
	}
	out := map[string]roster.Tier{}
	var (
		id, tier string
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &tier}, func() error {
		out[id] = roster.Tier(tier)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("roster tiers of campaign %s: %w", campaignID, err)
	}
	return out, nil
}

// RemoveFromRoster takes a creator off a campaign's roster, or returns ErrNotFound when
// they were not on it.
func (s *Store) RemoveFromRoster(ctx context.Context, campaignID, creatorID string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM campaign_roster WHERE campaign_id = $1 AND creator_id = $2`, campaignID, creatorID)
	if err != nil {
		return fmt.Errorf("remove creator %s from campaign %s: %w", creatorID, campaignID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("creator %s on campaign %s: %w", creatorID, campaignID, ErrNotFound)
	}
	return nil
}

// querier is what runs a query: the pool, or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func rosterEntries(ctx context.Context, db querier, tail string, args ...any) ([]RosterEntry, error) {
	rows, err := db.Query(ctx, `SELECT campaign_id::text, creator_id::text, tier, score, reasons, approved_by, approved_at
		FROM campaign_roster `+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RosterEntry, error) {
		var (
			e    RosterEntry
			tier string
		)
		err := r.Scan(&e.CampaignID, &e.CreatorID, &tier, &e.Score, &e.Reasons, &e.ApprovedBy, &e.ApprovedAt)
		e.Tier = roster.Tier(tier)
		if e.Reasons == nil {
			e.Reasons = []fit.Reason{}
		}
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("roster: %w", err)
	}
	return list, nil
}

// RosterCandidate is a creator on a campaign's roster: the console offers them to start.
type RosterCandidate struct {
	CreatorID string
	Name      string
	Tier      roster.Tier
}

// RosterNotStarted lists up to limit creators of a campaign's approved roster who have no
// collaboration in it yet, by name; erased creators are left out, as the API would
// refuse to start them.
func (s *Store) RosterNotStarted(ctx context.Context, campaignID string, limit int) ([]RosterCandidate, error) {
	rows, err := s.pool.Query(ctx, `SELECT r.creator_id::text, c.name, r.tier FROM campaign_roster r
		JOIN creators c ON c.id = r.creator_id
		WHERE r.campaign_id = $1 AND c.erased_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM collaborations k WHERE k.campaign_id = r.campaign_id AND k.creator_id = r.creator_id)
		ORDER BY c.name, r.creator_id LIMIT $2`, campaignID, limit)
	if err != nil {
		return nil, fmt.Errorf("roster not started of campaign %s: %w", campaignID, err)
	}
	var (
		list           []RosterCandidate
		id, name, tier string
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &name, &tier}, func() error {
		list = append(list, RosterCandidate{CreatorID: id, Name: name, Tier: roster.Tier(tier)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("roster not started of campaign %s: %w", campaignID, err)
	}
	return list, nil
}
