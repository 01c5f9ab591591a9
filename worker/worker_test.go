package worker

import (
	"context"
	"strings"
	"testing"

	"github.com/collabflow/collabflow/activities"
)

// TestRunRefusesMissingDependencies: a worker without a mailer or a payout provider would
// fail every send or payout at run time; it refuses to start instead.
func TestRunRefusesMissingDependencies(t *testing.T) {
	err := Run(context.Background(), nil, &activities.Activities{}, Options{})
	if err == nil || !strings.Contains(err.Error(), "mailer") {
		t.Fatalf("Run with no dependencies: %v", err)
	}
}
