package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/collabflow/collabflow/workflows"
)

// DefaultUpdateWait is how long a request waits for an accepted update to finish before
// answering 202: handlers that need the workflow's main coroutine can wait behind a long
// activity (an email retried through an outage, a payout provider timing out).
const DefaultUpdateWait = 5 * time.Second

// accepted is an update the workflow accepted (it is durable and will run) but did not
// finish within the update wait.
type accepted struct {
	updateID        string
	collaborationID string
}

// acceptedBody is the 202 answer: where to read the collaboration's state, and the update's
// ID, which a repeat with the same Idempotency-Key reuses.
type acceptedBody struct {
	Status        string `json:"status"`
	UpdateID      string `json:"update_id"`
	Collaboration string `json:"collaboration"`
}

// answerAccepted answers 202 with the collaboration's URL in the body and Location.
func answerAccepted(c echo.Context, a *accepted) error {
	loc := "/v1/collaborations/" + a.collaborationID
	c.Response().Header().Set(echo.HeaderLocation, loc)
	return c.JSON(http.StatusAccepted, acceptedBody{Status: "accepted", UpdateID: a.updateID, Collaboration: loc})
}

// update sends a workflow update and waits for the workflow to accept it, then up to the
// update wait for its result. It returns a non-nil *accepted (and fills nothing) when the
// update was accepted but is still running: the change is durable, so the caller answers
// 202, never an error. Refusals map as updateFailure says.
//
// The update ID is server-derived: the scoped Idempotency-Key when the request carried one
// (so a repeat is deduplicated by Temporal within the run), otherwise a fresh ID. A client's
// X-Request-ID is never used: it would let one caller claim another's update.
func (s *Server) update(c echo.Context, id, name string, arg, result any) (*accepted, error) {
	ctx := c.Request().Context()
	updateID := scopedKey(c)
	if updateID == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("new update id: %w", err)
		}
		updateID = u.String()
	}
	opts := client.UpdateWorkflowOptions{
		WorkflowID:   id,
		UpdateID:     updateID,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageAccepted,
	}
	handle, err := s.temporal.UpdateWorkflow(ctx, opts)
	for pause := abortedUpdatePause; abortedBeforeAcceptance(err) && pause <= maxAbortedUpdatePause; pause *= 2 {
		// The server dropped the update before the workflow saw it (the workflow task it
		// rode in failed, or the workflow was busy): nothing was applied, and the same
		// update ID cannot apply it twice, so ask again.
		select {
		case <-ctx.Done():
		case <-time.After(pause):
			handle, err = s.temporal.UpdateWorkflow(ctx, opts)
		}
	}
	var timeout *client.WorkflowUpdateServiceTimeoutOrCanceledError
	if errors.As(err, &timeout) || abortedBeforeAcceptance(err) {
		// Not known to be accepted: nothing can be promised, but a repeat with the same
		// Idempotency-Key cannot apply it twice.
		c.Response().Header().Set("Retry-After", "5")
		return nil, &Error{Status: http.StatusServiceUnavailable,
			Msg: "the collaboration did not take the change in time; retry with the same Idempotency-Key"}
	}
	if applied, err := s.appliedBefore(ctx, id, name, err, result); applied || err != nil {
		return nil, err
	}
	// Accepted: from here on the change will happen, whatever this request's fate.
	wait, cancel := context.WithTimeout(ctx, s.updateWait)
	defer cancel()
	err = handle.Get(wait, result)
	if err == nil {
		return nil, nil
	}
	if errors.As(err, &timeout) || wait.Err() != nil {
		return &accepted{updateID: updateID, collaborationID: id}, nil
	}
	return nil, s.updateFailure(ctx, id, name, err)
}

// abortedUpdatePause and maxAbortedUpdatePause bound asking again for an update the server
// aborted before acceptance: 100, 200, 400 and 800 ms, well inside a request's deadline.
const (
	abortedUpdatePause    = 100 * time.Millisecond
	maxAbortedUpdatePause = 800 * time.Millisecond
)

// abortedBeforeAcceptance reports the server's refusals of an update the workflow never
// accepted and that may be sent again: the workflow task carrying it failed
// (WorkflowNotReady), or the workflow has too many updates in flight (BUSY_WORKFLOW).
func abortedBeforeAcceptance(err error) bool {
	var (
		notReady *serviceerror.WorkflowNotReady
		busy     *serviceerror.ResourceExhausted
	)
	return errors.As(err, &notReady) ||
		errors.As(err, &busy) && busy.Cause == enumspb.RESOURCE_EXHAUSTED_CAUSE_BUSY_WORKFLOW
}

// appliedBefore handles an update's refusal: one the workflow refused as already applied
// by an earlier run (the collaboration continued as new since the first try, so Temporal's
// own deduplication no longer knows the ID) is done, and answers with the current state;
// any other refusal maps as updateFailure says.
func (s *Server) appliedBefore(ctx context.Context, id, name string, err error, result any) (bool, error) {
	if err == nil {
		return false, nil
	}
	var appErr *temporal.ApplicationError
	st, ok := result.(*workflows.CollaborationState)
	if !ok || !errors.As(err, &appErr) || appErr.Type() != workflows.AlreadyApplied {
		return false, s.updateFailure(ctx, id, name, err)
	}
	state, err := s.queryState(ctx, id)
	if err != nil {
		return false, err
	}
	*st = state
	return true, nil
}

// acceptedUpdateCompletedWorkflow is the failure type the server gives an accepted update
// whose workflow closed (or continued as new) before the update finished.
const acceptedUpdateCompletedWorkflow = "AcceptedUpdateCompletedWorkflow"

// updateFailure maps an update's refusal or failure to an answer. A validator's refusal of
// bad input (InvalidArgument) is a 422 naming the fields; any other refusal, and a handler
// that failed after accepting, is a 409 (the collaboration's state does not allow it), and
// so is a closed workflow. Messages are the workflow's own words, never the server's.
func (s *Server) updateFailure(ctx context.Context, id, name string, err error) error {
	var (
		appErr   *temporal.ApplicationError
		canceled *temporal.CanceledError
	)
	switch {
	case errors.As(err, &appErr) && appErr.Type() == workflows.InvalidArgument:
		fields := map[string]string{}
		if appErr.HasDetails() {
			_ = appErr.Details(&fields)
		}
		if len(fields) == 0 {
			fields["body"] = cleanMessage(appErr.Message())
		}
		return invalid(fields)
	case errors.As(err, &appErr) && appErr.Type() == acceptedUpdateCompletedWorkflow:
		return conflict("the collaboration ended or moved on before this change finished; read its state to see what happened")
	case errors.As(err, &appErr) && strings.HasPrefix(appErr.Message(), "unknown update "):
		return conflict("this collaboration does not take " + name + " changes")
	case errors.As(err, &appErr):
		return conflict(cleanMessage(appErr.Message()))
	case errors.As(err, &canceled):
		return conflict("the collaboration stopped before this change finished; read its state to see what happened")
	case isNotFound(err):
		if desc, derr := s.temporal.DescribeWorkflowExecution(ctx, id, ""); derr == nil &&
			desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return conflict("collaboration has already ended")
		}
		return notFound("collaboration")
	}
	return fmt.Errorf("update %s of %s: %w", name, id, err)
}

// maxMessage bounds a refusal's message in an answer.
const maxMessage = 300

// cleanMessage keeps a refusal's first line, bounded, for a client to read.
func cleanMessage(msg string) string {
	msg, _, _ = strings.Cut(strings.TrimSpace(msg), "\n")
	if len(msg) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	if msg == "" {
		return "refused by the collaboration"
	}
	return msg
}
