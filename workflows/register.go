package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// workflowOptions registers the collaboration under its stable name, so renaming the Go
// function never orphans running workflows.
func workflowOptions() workflow.RegisterOptions {
	return workflow.RegisterOptions{Name: CollaborationWorkflow}
}

// Register adds every workflow of this package to a registry (a worker or a replayer).
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(Collaboration, workflowOptions())
	r.RegisterWorkflowWithOptions(Launch, workflow.RegisterOptions{Name: LaunchWorkflow})
	r.RegisterWorkflowWithOptions(Bulk, workflow.RegisterOptions{Name: BulkWorkflow})
	r.RegisterWorkflowWithOptions(Rights, workflow.RegisterOptions{Name: RightsWorkflow})
}
