package api

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

// ErasedReason is the cancel reason of a collaboration ended by its creator's erasure.
const ErasedReason = "erased"

// Outcomes of erasure for one collaboration.
const (
	erasureCancelled  = "cancelled"
	erasureCancelling = "cancelling"
	erasureEnded      = "already ended"
)

// erasedCollaboration is what erasure did to one of the creator's collaborations.
type erasedCollaboration struct {
	ID     string `json:"id"`
	Result string `json:"result"`
	// Error is why a running collaboration could not be cancelled; it still sends the
	// creator nothing (the address is suppressed) and holds no personal data.
	Error string `json:"error,omitempty"`
}

// eraseCreator is a creator's right to erasure. In order: the address's hash goes on the
// suppression list, so nothing more is emailed; every running collaboration with the
// creator is cancelled with reason "erased" (a kill fee owed is still owed); then their
// personal data leaves PostgreSQL in one transaction. Temporal's histories hold none (only
// ids), so they are kept whole and still replay. A repeat answers what was done.
func (s *Server) eraseCreator(c echo.Context) error {
	id, err := pathUUID(c, "creator")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := s.store.Creator(ctx, id); err != nil {
		return notFoundAs(err, "creator")
	}
	if err := s.store.SuppressErased(ctx, id); err != nil {
		return err
	}
	results, err := s.cancelForErasure(c, id)
	if err != nil {
		return err
	}
	done, err := s.store.EraseCreator(ctx, id)
	if err != nil {
		return notFoundAs(err, "creator")
	}
	s.logger.Info("creator erased", "creator_id", id, "collaborations", len(results), "already", done.Already)
	return c.JSON(http.StatusOK, map[string]any{
		"creator_id": done.CreatorID, "erased_at": done.ErasedAt, "already_erased": done.Already,
		"collaborations": results,
	})
}

// cancelForErasure cancels each of the creator's collaborations that has not ended.
func (s *Server) cancelForErasure(c echo.Context, creatorID string) ([]erasedCollaboration, error) {
	ctx := c.Request().Context()
	results := []erasedCollaboration{}
	f := store.CollaborationFilter{CreatorID: creatorID, Limit: maxLimit}
	for {
		list, next, err := s.store.ListCollaborations(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, collab := range list {
			r, err := s.cancelErased(c, collab.ID)
			if err != nil {
				return nil, err
			}
			results = append(results, r)
		}
		if next == "" {
			return results, nil
		}
		f.After = next
	}
}

func (s *Server) cancelErased(c echo.Context, id string) (erasedCollaboration, error) {
	r := erasedCollaboration{ID: id}
	state, err := s.queryState(c.Request().Context(), id)
	switch {
	case isNotFound(err):
		r.Result = erasureEnded // the read model's row of a start that never happened
		return r, nil
	case err != nil:
		return r, err
	case state.Stage.Terminal():
		r.Result = erasureEnded
		return r, nil
	}
	var after workflows.CollaborationState
	pending, err := s.update(c, id, workflows.UpdateCancel, workflows.CancelRequest{Actor: actor(c), Reason: ErasedReason}, &after)
	switch {
	case err == nil && pending != nil:
		r.Result = erasureCancelling
	case err == nil:
		r.Result = erasureCancelled
	case refused(err):
		// Ended meanwhile, or in a stage that cannot be cancelled (a payout confirmed).
		if now, qerr := s.queryState(c.Request().Context(), id); qerr == nil && now.Stage.Terminal() {
			r.Result = erasureEnded
		} else {
			r.Result, r.Error = "not cancelled", err.Error()
		}
	default:
		return r, err
	}
	return r, nil
}
