package api

import (
	"fmt"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/workflows"
)

type extendInput struct {
	By     campaigns.Duration `json:"by"`
	Reason string             `json:"reason"`
}

// extendDeadline gives the draft, review or posts a collaboration waits for more time: the
// deadline moves `by` past the later of the deadline and now, and an overdue
// collaboration stops waiting for ops. The workflow refuses it (409) in a stage with no
// running deadline.
func (s *Server) extendDeadline(c echo.Context) error {
	var in extendInput
	return s.collabUpdate(c, &in, workflows.UpdateExtendDeadline, func() (any, error) {
		bad := map[string]string{}
		if by := in.By.Std(); by < workflows.MinExtension || by > workflows.MaxExtension {
			bad["by"] = fmt.Sprintf("required: a duration from %s to %s (90 days), such as \"72h\"", workflows.MinExtension, workflows.MaxExtension)
		}
		in.Reason = strings.TrimSpace(in.Reason)
		if len(in.Reason) > workflows.MaxReasonLength {
			bad["reason"] = fmt.Sprintf("at most %d characters", workflows.MaxReasonLength)
		}
		if len(bad) > 0 {
			return nil, invalid(bad)
		}
		return workflows.ExtendRequest{Actor: actor(c), By: in.By, Reason: in.Reason}, nil
	})
}
