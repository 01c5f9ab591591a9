package worker

import (
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/workflow"

	"github.com/collabflow/collabflow/codec"
	"github.com/collabflow/collabflow/workflows"
)

// RefusePlain keeps a signal whose payload the process's converter refuses (one not
// encrypted while codec keys are set: it was sent straight to Temporal, around the API,
// with any actor) from being dropped without a trace. The SDK drops a signal it cannot
// decode with only a log line; RefusePlain delivers it instead as
// workflows.SignalRefusedInput, naming the signal and nothing of its payload, which the
// collaboration records and tells ops of. An update with such a payload is rejected by the
// SDK before any interceptor, and the codec logs it.
//
// Whether a signal is refused depends only on its payload in the history and on the
// converter, so a replay decides the same: every replayer of collabflow's workflows must
// carry it with the converter the workers use (audit does).
type RefusePlain struct {
	interceptor.WorkerInterceptorBase
	// DataConverter is the process's converter; nil refuses nothing.
	DataConverter converter.DataConverter
}

// InterceptWorkflow wraps each workflow execution's inbound calls.
func (r *RefusePlain) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &refuseInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}, dc: r.DataConverter}
}

type refuseInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	dc converter.DataConverter
}

// maxSignalName bounds the sender's signal name in the log.
const maxSignalName = 100

func (i *refuseInbound) HandleSignal(ctx workflow.Context, in *interceptor.HandleSignalInput) error {
	if !Refuses(i.dc, in.Arg) {
		return i.Next.HandleSignal(ctx, in)
	}
	name := in.SignalName
	if len(name) > maxSignalName {
		name = name[:maxSignalName]
	}
	// The workflow's logger and metrics are silent on replay: one line per refusal.
	workflow.GetLogger(ctx).Warn("refused a signal whose payload is not encrypted: sent around the API, not applied", "signal", name)
	workflow.GetMetricsHandler(ctx).Counter(RefusedSignalsMetric).Inc(1)
	arg, err := i.dc.ToPayloads(workflows.RefusedInput{Signal: name})
	if err != nil {
		return fmt.Errorf("encode the refusal of signal %q: %w", name, err)
	}
	return i.Next.HandleSignal(ctx, &interceptor.HandleSignalInput{SignalName: workflows.SignalRefusedInput, Arg: arg})
}

// RefusedSignalsMetric counts the signals refused for a payload that is not encrypted.
const RefusedSignalsMetric = "collabflow_signals_refused"

// Refuses reports whether dc refuses payloads: some of them are not encrypted and dc
// cannot decode them (codec keys set, COLLABFLOW_CODEC_ACCEPT_PLAIN off). Encrypted
// payloads and none at all are never refused here.
func Refuses(dc converter.DataConverter, payloads *commonpb.Payloads) bool {
	if dc == nil {
		return false
	}
	for _, p := range payloads.GetPayloads() {
		if p != nil && !codec.Encrypted(p) {
			raws := make([]any, len(payloads.GetPayloads()))
			for j := range raws {
				raws[j] = new(converter.RawValue)
			}
			return dc.FromPayloads(payloads, raws...) != nil
		}
	}
	return false
}
