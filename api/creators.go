package api

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/fit"
	"github.com/collabflow/collabflow/roster"
	"github.com/collabflow/collabflow/store"
)

// creatorInput is what a client may set on a creator; derived fields are not accepted.
type creatorInput struct {
	Name              string             `json:"name"`
	Email             string             `json:"email"`
	Timezone          string             `json:"timezone"`
	Handles           map[string]string  `json:"handles"`
	Followers         int64              `json:"followers"`
	AvgEngagement     int64              `json:"avg_engagement"`
	AudienceCountries map[string]float64 `json:"audience_countries"`
	Niches            []string           `json:"niches"`
	RecentPost        string             `json:"recent_post"`
}

// creatorPatch holds only the fields a PATCH names.
type creatorPatch struct {
	Name              *string             `json:"name"`
	Email             *string             `json:"email"`
	Timezone          *string             `json:"timezone"`
	Handles           *map[string]string  `json:"handles"`
	Followers         *int64              `json:"followers"`
	AvgEngagement     *int64              `json:"avg_engagement"`
	AudienceCountries *map[string]float64 `json:"audience_countries"`
	Niches            *[]string           `json:"niches"`
	RecentPost        *string             `json:"recent_post"`
}

func (p creatorPatch) apply(c *roster.Creator) {
	set(&c.Name, p.Name)
	set(&c.Email, p.Email)
	set(&c.Timezone, p.Timezone)
	set(&c.Handles, p.Handles)
	set(&c.Followers, p.Followers)
	set(&c.AvgEngagement, p.AvgEngagement)
	set(&c.AudienceCountries, p.AudienceCountries)
	set(&c.Niches, p.Niches)
	set(&c.RecentPost, p.RecentPost)
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func (s *Server) createCreator(c echo.Context) error {
	var in creatorInput
	if err := decode(c, &in); err != nil {
		return err
	}
	cr := roster.Creator{
		Name: in.Name, Email: in.Email, Timezone: in.Timezone, Handles: in.Handles,
		Followers: in.Followers, AvgEngagement: in.AvgEngagement,
		AudienceCountries: in.AudienceCountries, Niches: in.Niches, RecentPost: strings.TrimSpace(in.RecentPost),
	}
	if err := s.checkCreator(&cr); err != nil {
		return err
	}
	created, err := s.store.CreateCreator(c.Request().Context(), cr)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, created)
}

func (s *Server) getCreator(c echo.Context) error {
	id, err := pathUUID(c, "creator")
	if err != nil {
		return err
	}
	cr, err := s.store.Creator(c.Request().Context(), id)
	if err != nil {
		return notFoundAs(err, "creator")
	}
	h, err := s.store.History(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, creatorView{Creator: cr, History: h})
}

// creatorView is one creator as GET /v1/creators/{id} shows it: the roster fields and the
// creator's history across campaigns, which the fit score draws on.
type creatorView struct {
	roster.Creator
	History fit.History `json:"history"`
}

func (s *Server) patchCreator(c echo.Context) error {
	id, err := pathUUID(c, "creator")
	if err != nil {
		return err
	}
	var p creatorPatch
	if err := decode(c, &p); err != nil {
		return err
	}
	updated, err := s.store.UpdateCreator(c.Request().Context(), id, func(cr *roster.Creator) error {
		p.apply(cr)
		return s.checkCreator(cr)
	})
	if errors.Is(err, store.ErrErased) {
		return conflict("this creator was erased")
	} else if err != nil {
		return notFoundAs(err, "creator")
	}
	return c.JSON(http.StatusOK, updated)
}

func (s *Server) listCreators(c echo.Context) error {
	limit, after, err := idPage(c)
	if err != nil {
		return err
	}
	f := store.CreatorFilter{
		Tier:  roster.Tier(c.QueryParam("tier")),
		Niche: c.QueryParam("niche"),
		Query: strings.TrimSpace(c.QueryParam("q")),
		After: after,
		Limit: limit,
	}
	if f.Tier != "" && !slices.Contains(roster.Tiers, f.Tier) {
		return badRequest("tier", "must be one of "+tierList())
	}
	list, next, err := s.store.ListCreators(c.Request().Context(), f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, listResponse[roster.Creator]{Items: list, Next: next})
}

// checkCreator trims, validates and derives a creator before it is written.
func (s *Server) checkCreator(cr *roster.Creator) error {
	cr.Name = strings.TrimSpace(cr.Name)
	cr.Email = strings.TrimSpace(cr.Email)
	for platform, handle := range cr.Handles {
		cr.Handles[platform] = strings.TrimPrefix(strings.TrimSpace(handle), "@")
	}
	if err := s.validate.Struct(cr); err != nil {
		return validationError(err)
	}
	if total := cr.AudienceShareTotal(); total > 100.0001 {
		return invalid(map[string]string{"audience_countries": "shares add up to " + strconv.FormatFloat(total, 'f', 1, 64) + "%, more than 100%"})
	}
	cr.Derive()
	return nil
}

// listResponse is the shape of every list: a page of items and the cursor of the next.
type listResponse[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next"`
}

// Page sizes: enough for a screen by default, bounded so one call stays cheap.
const (
	defaultLimit = 50
	maxLimit     = 200
)

func pageParams(c echo.Context) (int, string, error) {
	limit := defaultLimit
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return 0, "", badRequest("limit", "must be a whole number from 1 to "+strconv.Itoa(maxLimit))
		}
		limit = n
	}
	return limit, c.QueryParam("after"), nil
}

// idPage reads limit and a cursor that is the id of the previous page's last row: a value
// that is not an id cannot come from the list and is a 400.
func idPage(c echo.Context) (int, string, error) {
	limit, after, err := pageParams(c)
	if err != nil || after == "" {
		return limit, after, err
	}
	after, err = canonicalID("after", after, badRequest("after", "not a cursor from this list"))
	return limit, after, err
}

// pathUUID reads the :id parameter, lower-cased: an id that cannot exist is simply not
// found, and a UUID in a form other than the canonical one is refused (see canonicalID).
func pathUUID(c echo.Context, what string) (string, error) {
	return canonicalID("id", c.Param("id"), notFound(what))
}

// notFoundAs names the missing resource in a store.ErrNotFound.
func notFoundAs(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(what)
	}
	return err
}
