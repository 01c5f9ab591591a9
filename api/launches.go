package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

type launchInput struct {
	// CreatorIDs narrows the launch to these creators of the roster; empty launches all.
	CreatorIDs []string `json:"creator_ids"`
}

// launchCampaign starts one collaboration per creator on the campaign's roster (or the
// named ones), up to store.MaxLaunch, and answers at once with 202 and the launch's id:
// a durable workflow does the starting, paced to the email rate. Creators who cannot be
// started (gone, erased, suppressed, already collaborating in the campaign) are skipped
// with the reason, so launching again starts only what the first did not.
func (s *Server) launchCampaign(c echo.Context) error {
	campaignID, err := pathUUID(c, "campaign")
	if err != nil {
		return err
	}
	var in launchInput
	if err := decode(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.store.Campaign(ctx, campaignID); err != nil {
		return notFoundAs(err, "campaign")
	}
	approved, err := s.store.ApprovedRoster(ctx, campaignID)
	if err != nil {
		return err
	}
	ids := approved
	if len(in.CreatorIDs) > 0 {
		if ids, err = pickFromRoster(in.CreatorIDs, approved); err != nil {
			return err
		}
	}
	switch {
	case len(ids) == 0:
		return invalid(map[string]string{"roster": "no creator is approved for this campaign: approve a shortlist first (POST /v1/campaigns/{id}/roster)"})
	case len(ids) > store.MaxLaunch:
		return invalid(map[string]string{"roster": fmt.Sprintf("%d creators: a launch starts at most %d; name them in creator_ids", len(ids), store.MaxLaunch)})
	}
	by := actor(c)
	l, err := s.store.CreateLaunch(ctx, campaignID, by.Name, ids)
	if err != nil {
		return err
	}
	err = s.startJob(ctx, client.StartWorkflowOptions{
		ID:                    workflows.LaunchWorkflowID(l.ID),
		TaskQueue:             workflows.TaskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, workflows.LaunchWorkflow, workflows.LaunchInput{
		LaunchID: l.ID, CampaignID: campaignID, RequestedBy: by.Name, StartsPerSecond: s.launchRate,
	})
	if err != nil {
		// Nothing will start them: the launch says so rather than waiting forever.
		bg := context.WithoutCancel(ctx)
		if ferr := s.store.FailPendingLaunchItems(bg, l.ID, "the launch could not start: try again"); ferr == nil {
			_ = s.store.FinishLaunch(bg, l.ID)
		}
		return fmt.Errorf("start launch %s: %w", l.ID, err)
	}
	c.Set(finalAnswerKey, true) // a repeat with the same Idempotency-Key is this launch
	c.Response().Header().Set(echo.HeaderLocation, "/v1/launches/"+l.ID)
	return c.JSON(http.StatusAccepted, l)
}

// jobStartTimeout bounds the start of a launch's or bulk action's workflow, and the look
// that follows a failed one.
const jobStartTimeout = 30 * time.Second

// startJob starts the workflow of a launch or bulk action whose items are written. The
// start does not depend on the client staying (its own bound, not the request's): a client
// that hangs up must not leave items the workflow would never see, or see failed. An
// error after the server may have started it (a timeout, a lost answer) is checked with
// DescribeWorkflowExecution: a workflow that exists, running or done, is the job started,
// and only one that does not is an error, for the caller to fail the items.
func (s *Server) startJob(ctx context.Context, opts client.StartWorkflowOptions, workflow string, in any) error {
	bg := context.WithoutCancel(ctx)
	start, cancel := context.WithTimeout(bg, jobStartTimeout)
	defer cancel()
	_, err := s.temporal.ExecuteWorkflow(start, opts, workflow, in)
	if err == nil {
		return nil
	}
	look, cancelLook := context.WithTimeout(bg, jobStartTimeout)
	defer cancelLook()
	if _, derr := s.temporal.DescribeWorkflowExecution(look, opts.ID, ""); derr == nil {
		return nil
	} else if !errors.As(derr, new(*serviceerror.NotFound)) {
		err = errors.Join(err, fmt.Errorf("look for workflow %s: %w", opts.ID, derr))
	}
	return err
}

// pickFromRoster checks that every named creator is on the roster, once, and returns them
// in the order given.
func pickFromRoster(named, approved []string) ([]string, error) {
	return pickIDs("creator_ids", named, func(raw string) (string, string, error) {
		id, err := canonicalID("", raw, errNotAnID)
		switch {
		case err != nil:
			return "", idMessage, nil
		case !slices.Contains(approved, id):
			return "", "not on this campaign's roster", nil
		}
		return id, "", nil
	})
}

// errNotAnID marks a value that is not a UUID at all.
var errNotAnID = errors.New("not an id")

// pickIDs checks each entry of the list named field with check, which returns the entry's
// id or why it is refused (or an error that is not the entry's fault); a repeat is refused
// too. The 422 names each bad entry as field[i], up to 20 of them.
func pickIDs(field string, list []string, check func(raw string) (id, problem string, err error)) ([]string, error) {
	fields := map[string]string{}
	var ids []string
	for i, raw := range list {
		name := field + "[" + strconv.Itoa(i) + "]"
		id, problem, err := check(raw)
		switch {
		case err != nil:
			return nil, err
		case problem != "":
			fields[name] = problem
		case slices.Contains(ids, id):
			fields[name] = "named twice"
		default:
			ids = append(ids, id)
		}
		if len(fields) >= 20 {
			break
		}
	}
	if len(fields) > 0 {
		return nil, invalid(fields)
	}
	return ids, nil
}

// getLaunch answers a launch's progress (how many started, skipped, failed, pending) and
// a page of its items in order, filtered by ?status=.
func (s *Server) getLaunch(c echo.Context) error {
	return jobPage(c, "launch", []string{store.LaunchPending, store.LaunchStarting, store.LaunchStarted, store.LaunchSkipped, store.LaunchFailed},
		s.store.Launch, s.store.LaunchItems, func(it store.LaunchItem) int { return it.Seq })
}

// jobPage answers a batch job (a launch, a bulk action) named by :id under the key what,
// with a page of its items after the ?after= item number, filtered by ?status=.
func jobPage[J, I any](c echo.Context, what string, statuses []string,
	job func(ctx context.Context, id string) (J, error),
	items func(ctx context.Context, id string, afterSeq, limit int, status string) ([]I, error),
	seq func(I) int) error {
	id, err := pathUUID(c, strings.ReplaceAll(what, "_", " "))
	if err != nil {
		return err
	}
	limit, afterSeq, err := seqPage(c)
	if err != nil {
		return err
	}
	status := c.QueryParam("status")
	if status != "" && !slices.Contains(statuses, status) {
		return badRequest("status", "one of "+strings.Join(statuses, ", "))
	}
	ctx := c.Request().Context()
	j, err := job(ctx, id)
	if err != nil {
		return notFoundAs(err, strings.ReplaceAll(what, "_", " "))
	}
	page, err := items(ctx, id, afterSeq, limit+1, status)
	if err != nil {
		return err
	}
	page, next := seqNext(page, limit, seq)
	return c.JSON(http.StatusOK, map[string]any{what: j, "items": page, "next": next})
}
