package worker

import (
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"
)

// SpanContextKey is the workflow context key under which the tracing interceptor keeps a
// workflow's current span. The process's TracerOptions must name it (SpanContextKey) for
// UpdateCause to find an update's span.
var SpanContextKey any = spanContextKey{}

type spanContextKey struct{}

// UpdateCause puts the activities a collaboration schedules in answer to an update into
// the update's trace. Every activity runs from the workflow's main coroutine, whose span is
// the run's, so without it a trace of a request (an API call, its update, the handler) ends
// at the handler, and the stage write or contract that the request caused sits in a
// trace of its own. An activity scheduled in the same workflow task as an update handler
// started in is that update's doing; later ones (a timer's) keep the run's span.
//
// It changes only a context value the tracing interceptor reads, never a command, so
// replay is unaffected. It must come after the tracing interceptor in the chain: the
// workers' interceptors follow the client's.
type UpdateCause struct {
	interceptor.WorkerInterceptorBase
}

// InterceptWorkflow wraps each workflow execution's inbound and outbound calls.
func (*UpdateCause) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &causeInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}}
}

// causeInbound remembers the span of the last update handled and the workflow task it
// was handled in (by the history length at that task's start, the same on replay).
type causeInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	span any
	task int
}

func (i *causeInbound) Init(outbound interceptor.WorkflowOutboundInterceptor) error {
	return i.Next.Init(&causeOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: outbound}, in: i})
}

func (i *causeInbound) ExecuteUpdate(ctx workflow.Context, in *interceptor.UpdateInput) (any, error) {
	if span := ctx.Value(SpanContextKey); span != nil {
		i.span, i.task = span, workflow.GetInfo(ctx).GetCurrentHistoryLength()
	}
	return i.Next.ExecuteUpdate(ctx, in)
}

// causeOutbound gives activities scheduled in an update's workflow task the update's span.
type causeOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	in *causeInbound
}

// caused is ctx with the update's span when an update was handled in this workflow task.
func (o *causeOutbound) caused(ctx workflow.Context) workflow.Context {
	if o.in.span == nil || workflow.GetInfo(ctx).GetCurrentHistoryLength() != o.in.task {
		return ctx
	}
	return workflow.WithValue(ctx, SpanContextKey, o.in.span)
}

func (o *causeOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	return o.Next.ExecuteActivity(o.caused(ctx), activityType, args...)
}

func (o *causeOutbound) ExecuteLocalActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	return o.Next.ExecuteLocalActivity(o.caused(ctx), activityType, args...)
}
