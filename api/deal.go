package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/contract"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

type offerInput struct {
	From  string         `json:"from"`
	Terms contract.Terms `json:"terms"`
	Note  string         `json:"note"`
}

// makeOffer records an offer by the brand or a counter-offer by the creator.
func (s *Server) makeOffer(c echo.Context) error {
	var in offerInput
	return s.collabUpdate(c, &in, workflows.UpdateOffer, func() (any, error) {
		bad := map[string]string{}
		for field, why := range in.Terms.Check() {
			bad["terms."+field] = why
		}
		if in.From != workflows.FromBrand && in.From != workflows.FromCreator {
			bad["from"] = "brand or creator"
		}
		if len(in.Note) > workflows.MaxReasonLength {
			bad["note"] = "at most 1000 characters"
		}
		if len(bad) > 0 {
			return nil, invalid(bad)
		}
		if err := s.checkDiscountCode(c, in.Terms.DiscountCode); err != nil {
			return nil, err
		}
		return workflows.OfferRequest{Actor: actor(c), From: in.From, Terms: in.Terms, Note: strings.TrimSpace(in.Note)}, nil
	})
}

type acceptInput struct {
	Offer int `json:"offer"`
}

// acceptOffer agrees to the latest offer; the workflow then sends the contract. The
// offer's discount code is checked again: another collaboration may have taken it since
// the offer was made.
func (s *Server) acceptOffer(c echo.Context) error {
	var in acceptInput
	return s.collabUpdate(c, &in, workflows.UpdateAccept, func() (any, error) {
		if in.Offer < 0 {
			return nil, invalid(map[string]string{"offer": "an offer number"})
		}
		if err := s.checkOfferedCode(c, in.Offer); err != nil {
			return nil, err
		}
		return workflows.AcceptRequest{Actor: actor(c), Offer: in.Offer}, nil
	})
}

// checkDiscountCode refuses terms whose discount code another collaboration holds: the
// workflow could not assign it after signing. Two offers racing for a free code both pass
// here; assignment then picks another code for the later one.
func (s *Server) checkDiscountCode(c echo.Context, code string) error {
	if code == "" {
		return nil
	}
	holder, err := s.store.DiscountCodeHolder(c.Request().Context(), code)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && holder == c.Param("id"):
		return nil
	case err != nil:
		return err
	}
	return invalid(map[string]string{"terms.discount_code": "code " + strings.ToUpper(code) + " is used by another collaboration"})
}

// checkOfferedCode checks the discount code of the offer about to be accepted (n, or the
// latest when 0). The workflow judges everything else about the offer.
func (s *Server) checkOfferedCode(c echo.Context, n int) error {
	state, err := s.queryState(c.Request().Context(), c.Param("id"))
	if isNotFound(err) {
		return nil // the update answers for a missing collaboration
	} else if err != nil {
		return fmt.Errorf("offers of %s: %w", c.Param("id"), err)
	}
	offers := state.Offers
	if len(offers) == 0 || n > len(offers) {
		return nil
	}
	offer := offers[len(offers)-1]
	if n > 0 {
		offer = offers[n-1]
	}
	return s.checkDiscountCode(c, offer.Terms.DiscountCode)
}

type resolveInput struct {
	Decision string `json:"decision" validate:"required,oneof=retry override"`
	Reason   string `json:"reason" validate:"max=1000"`
}

// resolveAttention is ops' decision on a collaboration waiting for them (its attention):
// retry the step that gave up, or override it with a reason. Cancelling is /cancel.
func (s *Server) resolveAttention(c echo.Context) error {
	var in resolveInput
	return s.collabUpdate(c, &in, workflows.UpdateResolve, func() (any, error) {
		in.Reason = strings.TrimSpace(in.Reason)
		if err := s.validate.Struct(in); err != nil {
			return nil, validationError(err)
		}
		if in.Decision == workflows.ResolveOverride && in.Reason == "" {
			return nil, invalid(map[string]string{"reason": "required to override"})
		}
		return workflows.ResolveRequest{Actor: actor(c), Decision: in.Decision, Reason: in.Reason}, nil
	})
}

// decline ends a collaboration that has not been signed as declined.
func (s *Server) decline(c echo.Context) error {
	var in reasonInput
	return s.collabUpdate(c, &in, workflows.UpdateDecline, func() (any, error) {
		reason, err := in.reason(s)
		return workflows.DeclineRequest{Actor: actor(c), Reason: reason}, err
	})
}

type draftInput struct {
	Assets  []string `json:"assets"`
	Caption string   `json:"caption"`
}

// submitDraft is ops submitting a draft for the creator.
func (s *Server) submitDraft(c echo.Context) error {
	var in draftInput
	return s.collabUpdate(c, &in, workflows.UpdateSubmitDraft, func() (any, error) {
		a := actor(c)
		return workflows.DraftRequest{Actor: &a, Assets: in.Assets, Caption: in.Caption}, nil
	})
}

type reviewInput struct {
	Decision string `json:"decision" validate:"required,oneof=approve changes"`
	Comments string `json:"comments" validate:"max=5000"`
}

// reviewDraft approves draft n or sends it back with comments.
func (s *Server) reviewDraft(c echo.Context) error {
	n, err := strconv.Atoi(c.Param("n"))
	if err != nil || n < 1 {
		return notFound("draft")
	}
	var in reviewInput
	return s.collabUpdate(c, &in, workflows.UpdateReview, func() (any, error) {
		if err := s.validate.Struct(in); err != nil {
			return nil, validationError(err)
		}
		if in.Decision == workflows.DecisionChanges && strings.TrimSpace(in.Comments) == "" {
			return nil, invalid(map[string]string{"comments": "required when asking for changes"})
		}
		return workflows.ReviewRequest{Actor: actor(c), Draft: n, Decision: in.Decision, Comments: in.Comments}, nil
	})
}

// collabUpdate is the shape of every change the API asks of a collaboration: read the
// body into in, build the update's argument (validating it), send it, answer the state, or
// 202 with the collaboration's URL when the accepted change is still under way.
func (s *Server) collabUpdate(c echo.Context, in any, name string, build func() (any, error)) error {
	id, err := collaborationID(c)
	if err != nil {
		return err
	}
	if err := decode(c, in); err != nil {
		return err
	}
	arg, err := build()
	if err != nil {
		return err
	}
	var state workflows.CollaborationState
	pending, err := s.update(c, id, name, arg, &state)
	if err != nil {
		return err
	}
	if pending != nil {
		return answerAccepted(c, pending)
	}
	return c.JSON(http.StatusOK, state)
}

// SignerDetailReaders are the roles that see where a contract was signed from: the
// signer's IP address and User-Agent are personal data that only running the
// collaboration (ops) or auditing it needs. Other readers see who signed and when.
var SignerDetailReaders = []string{RoleOps, RoleAuditor}

// contractWithoutSignerDetails is a contract as roles outside SignerDetailReaders see it:
// its Signature field hides the embedded one, naming only the signer and the time.
type contractWithoutSignerDetails struct {
	store.Contract
	Signature *signer `json:"signature"`
}

// signer is a signature without the IP address and User-Agent.
type signer struct {
	Name string    `json:"name"`
	At   time.Time `json:"at"`
}

// getContract returns the collaboration's current contract: the document, its hash and
// the signature once signed, with the signer's address and browser for
// SignerDetailReaders only.
func (s *Server) getContract(c echo.Context) error {
	id, err := collaborationID(c)
	if err != nil {
		return err
	}
	state, err := s.queryState(c.Request().Context(), id)
	if isNotFound(err) {
		return notFound("collaboration")
	} else if err != nil {
		return err
	}
	if state.Contract == nil {
		return notFound("contract")
	}
	k, err := s.store.Contract(c.Request().Context(), state.Contract.ContractID)
	if err != nil {
		return notFoundAs(err, "contract")
	}
	if k.Signature == nil || slices.Contains(SignerDetailReaders, actor(c).Role) {
		return c.JSON(http.StatusOK, k)
	}
	return c.JSON(http.StatusOK, contractWithoutSignerDetails{Contract: k, Signature: &signer{Name: k.Signature.Name, At: k.Signature.At}})
}
