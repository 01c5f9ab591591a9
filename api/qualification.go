package api

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/fit"
	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
)

// candidate is one creator scored against a campaign's fit rules.
type candidate struct {
	CreatorID      string            `json:"creator_id"`
	Name           string            `json:"name"`
	Tier           roster.Tier       `json:"tier"`
	Handles        map[string]string `json:"handles"`
	Niches         []string          `json:"niches"`
	EngagementRate float64           `json:"engagement_rate"`
	Followers      int64             `json:"followers"`
	Eligible       bool              `json:"eligible"`
	Score          int               `json:"score"`
	Reasons        []fit.Reason      `json:"reasons"`
	History        fit.History       `json:"history"`
	// OnRoster says the creator is already approved for the campaign, at RosterTier.
	OnRoster   bool        `json:"on_roster"`
	RosterTier roster.Tier `json:"roster_tier,omitempty"`
}

// rank orders candidates: eligible ones by score, then every ineligible one (rank -1).
func (c candidate) rank() int {
	if !c.Eligible {
		return -1
	}
	return c.Score
}

// cursor is the position after a candidate, "<rank>.<creator id>".
func (c candidate) cursor() string { return strconv.Itoa(c.rank()) + "." + c.CreatorID }

// candidateCursor reads a cursor candidate.cursor wrote.
func candidateCursor(s string) (rank int, id string, err error) {
	bad := badRequest("after", "not a cursor from this list")
	r, rest, ok := strings.Cut(s, ".")
	if !ok {
		return 0, "", bad
	}
	rank, convErr := strconv.Atoi(r)
	if convErr != nil || rank < -1 || rank > 100 {
		return 0, "", bad
	}
	id, err = canonicalID("after", rest, bad)
	return rank, id, err
}

// listCandidates scores every creator on the roster against the campaign's rules, best
// first (ineligible ones last), ties in creator id order. Scoring needs the whole matching
// roster in memory to rank it: at 10,000 creators that is one scan of creators, one batch
// of history queries over every collaboration and the scoring in Go, per page (about
// 0.15 s on two cores; see BenchmarkCandidates). The SQL
// applies the filters it can: tier, niche, q, and with eligible=true the campaign's tiers
// and exclusions.
func (s *Server) listCandidates(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	limit, after, err := pageParams(c)
	if err != nil {
		return err
	}
	afterRank, afterID := 0, ""
	if after != "" {
		if afterRank, afterID, err = candidateCursor(after); err != nil {
			return err
		}
	}
	f := store.CandidateFilter{
		Tier:  roster.Tier(c.QueryParam("tier")),
		Niche: strings.TrimSpace(c.QueryParam("niche")),
		Query: strings.TrimSpace(c.QueryParam("q")),
	}
	if f.Tier != "" && !slices.Contains(roster.Tiers, f.Tier) {
		return badRequest("tier", "must be one of "+tierList())
	}
	var eligible *bool
	if v := c.QueryParam("eligible"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil || (v != "true" && v != "false") {
			return badRequest("eligible", "must be true or false")
		}
		eligible = &b
	}
	minScore := 0
	if v := c.QueryParam("min_score"); v != "" {
		if minScore, err = strconv.Atoi(v); err != nil || minScore < 0 || minScore > 100 {
			return badRequest("min_score", "must be a whole number from 0 to 100")
		}
	}
	camp, err := s.store.Campaign(ctx, id)
	if err != nil {
		return notFoundAs(err, "campaign")
	}
	if eligible != nil && *eligible {
		if len(camp.Fit.Tiers) > 0 {
			f.Within = camp.Fit.Tiers
		}
		f.Excluding = camp.Fit.ExcludedCreators
	}
	creators, err := s.store.Candidates(ctx, f)
	if err != nil {
		return err
	}
	// Every creator's history: sending thousands of ids costs more than reading the
	// histories of the few creators who were filtered out.
	histories, err := s.store.Histories(ctx, nil)
	if err != nil {
		return err
	}
	onRoster, err := s.store.RosterTiers(ctx, id)
	if err != nil {
		return err
	}
	list := make([]candidate, 0, len(creators))
	for _, cr := range creators {
		h := histories[cr.ID]
		h.Normalize()
		res := fit.Score(camp.Fit, cr, h)
		if eligible != nil && res.Eligible != *eligible {
			continue
		}
		if res.Score < minScore {
			continue
		}
		tier, approved := onRoster[cr.ID]
		list = append(list, candidate{
			CreatorID: cr.ID, Name: cr.Name, Tier: cr.Tier, Handles: cr.Handles, Niches: cr.Niches,
			EngagementRate: cr.EngagementRate, Followers: cr.Followers,
			Eligible: res.Eligible, Score: res.Score, Reasons: res.Reasons, History: h,
			OnRoster: approved, RosterTier: tier,
		})
	}
	slices.SortFunc(list, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(b.rank(), a.rank()), strings.Compare(a.CreatorID, b.CreatorID))
	})
	start := 0
	if after != "" {
		start, _ = slices.BinarySearchFunc(list, candidate{}, func(x, _ candidate) int {
			// Position of the first candidate after the cursor in the list's order.
			return cmp.Or(cmp.Compare(afterRank, x.rank()), strings.Compare(x.CreatorID, afterID+"\x00"))
		})
	}
	list = list[start:]
	next := ""
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].cursor()
	}
	return c.JSON(http.StatusOK, listResponse[candidate]{Items: list, Next: next})
}

// MaxRosterApproval bounds one approval: a campaign's launch starts at most this many.
const MaxRosterApproval = 5000

// rosterInput is a shortlist to approve into a campaign's roster.
type rosterInput struct {
	Creators []rosterChoice `json:"creators"`
}

// rosterChoice is one creator and the tier the campaign works with them at; an empty tier
// is the creator's own.
type rosterChoice struct {
	CreatorID string      `json:"creator_id"`
	Tier      roster.Tier `json:"tier"`
}

// approveRoster puts a shortlist on the campaign's roster, all or nothing: every creator
// must exist, not be erased, and be eligible under the campaign's rules as they are while
// the approval is written. Approving a creator again at the same tier changes nothing; at
// another tier it records the new tier, score and approver.
func (s *Server) approveRoster(c echo.Context) error {
	id, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	var in rosterInput
	if err := decode(c, &in); err != nil {
		return err
	}
	switch n := len(in.Creators); {
	case n == 0:
		return invalid(map[string]string{"creators": "at least one creator"})
	case n > MaxRosterApproval:
		return invalid(map[string]string{"creators": fmt.Sprintf("at most %d entries", MaxRosterApproval)})
	}
	fields := map[string]string{}
	ids := make([]string, 0, len(in.Creators))
	first := map[string]int{}
	for i, ch := range in.Creators {
		field := fmt.Sprintf("creators[%d].", i)
		cid, err := canonicalID(field+"creator_id", strings.TrimSpace(ch.CreatorID), invalid(map[string]string{field + "creator_id": idMessage}))
		if err != nil {
			fields[field+"creator_id"] = idMessage
			continue
		}
		if j, seen := first[cid]; seen {
			fields[field+"creator_id"] = fmt.Sprintf("listed twice (also creators[%d])", j)
			continue
		}
		first[cid] = i
		in.Creators[i].CreatorID = cid
		if ch.Tier != "" && !slices.Contains(roster.Tiers, ch.Tier) {
			fields[field+"tier"] = "must be one of " + tierList()
		}
		ids = append(ids, cid)
	}
	if len(fields) > 0 {
		return invalid(fields)
	}
	by := actor(c).Name
	entries, changed, err := s.store.ApproveRoster(c.Request().Context(), id, ids, func(a store.Approval) ([]store.RosterEntry, error) {
		entries := make([]store.RosterEntry, 0, len(in.Creators))
		for i, ch := range in.Creators {
			field := fmt.Sprintf("creators[%d].creator_id", i)
			cr, ok := a.Creators[ch.CreatorID]
			switch {
			case !ok:
				fields[field] = "no creator has this id"
				continue
			case cr.ErasedAt != nil:
				fields[field] = "this creator was erased"
				continue
			}
			h := a.Histories[cr.ID]
			h.Normalize()
			res := fit.Score(a.Campaign.Fit, cr, h)
			if !res.Eligible {
				why := make([]string, len(res.Reasons))
				for k, r := range res.Reasons {
					why[k] = r.Text
				}
				fields[field] = "not eligible: " + strings.Join(why, "; ")
				continue
			}
			entries = append(entries, store.RosterEntry{
				CreatorID: cr.ID, Tier: cmp.Or(ch.Tier, cr.Tier), Score: res.Score, Reasons: res.Reasons, ApprovedBy: by,
			})
		}
		if len(fields) > 0 {
			return nil, invalid(fields)
		}
		return entries, nil
	})
	if err != nil {
		return notFoundAs(err, "campaign")
	}
	return c.JSON(http.StatusOK, approvalResponse{Items: entries, Changed: changed})
}

// approvalResponse is the roster entries of an approval as stored, and how many of them
// it added or changed (0 for a repeat).
type approvalResponse struct {
	Items   []store.RosterEntry `json:"items"`
	Changed int                 `json:"changed"`
}

// listRoster is a campaign's approved roster, in creator id order.
func (s *Server) listRoster(c echo.Context) error {
	ctx := c.Request().Context()
	id, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	limit, after, err := idPage(c)
	if err != nil {
		return err
	}
	if _, err := s.store.Campaign(ctx, id); err != nil {
		return notFoundAs(err, "campaign")
	}
	list, next, err := s.store.Roster(ctx, id, after, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listResponse[store.RosterEntry]{Items: list, Next: next})
}

// removeFromRoster takes one creator off a campaign's roster.
func (s *Server) removeFromRoster(c echo.Context) error {
	id, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	creatorID, err := canonicalID("creator_id", c.Param("creator_id"), notFound("creator on this roster"))
	if err != nil {
		return err
	}
	if err := s.store.RemoveFromRoster(c.Request().Context(), id, creatorID); err != nil {
		return notFoundAs(err, "creator on this roster")
	}
	return c.NoContent(http.StatusNoContent)
}
