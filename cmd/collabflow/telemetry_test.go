//go:build dev

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestTelemetry runs `collabflow dev` with metrics and tracing on, tracing into memory,
// and drives a collaboration's start and one update through the API:
//   - the start request's span, the workflow's (RunWorkflow) and its activities'
//     (RunActivity) share one trace, as do the update request's span, the workflow's
//     HandleUpdate and the activity the update caused;
//   - COLLABFLOW_METRICS_ADDR serves the SDK's temporal_* series and the business series
//     on /metrics, and /healthz and /readyz.
func TestTelemetry(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	saved := newSpanExporter
	newSpanExporter = func(context.Context, config) (sdktrace.SpanExporter, error) { return spans, nil }
	t.Cleanup(func() { newSpanExporter = saved })

	metricsAddr := freeAddr(t)
	env := map[string]string{
		"COLLABFLOW_DATA_DIR":           filepath.Join(t.TempDir(), ".data"),
		"TEMPORAL_ADDRESS":              freeAddr(t),
		"COLLABFLOW_ADDR":               freeAddr(t),
		"COLLABFLOW_LOG_LEVEL":          "warn",
		"COLLABFLOW_SENDGRID_SINK_ADDR": freeAddr(t),
		"COLLABFLOW_UI_ADDR":            freeAddr(t),
		"COLLABFLOW_METRICS_ADDR":       metricsAddr,
		// Never dialled: the exporter above replaces OTLP.
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1",
	}
	runDevDuring(t, env, func(base, key string) {
		creator := post(t, base, key, "/v1/creators", `{"name":"Grace Hopper","email":"grace@example.com","timezone":"America/New_York","handles":{"instagram":"grace.codes"},"followers":52000}`, 201)
		campaign := post(t, base, key, "/v1/campaigns", `{"name":"Tracing","brand":"Acme","sender_email":"collabs@acme.test"}`, 201)
		collab := post(t, base, key, "/v1/collaborations", fmt.Sprintf(`{"campaign_id":%q,"creator_id":%q}`, campaign["id"], creator["id"]), 201)
		id := collab["id"].(string)
		// The start's trace: the request, the workflow run it started (ended by the
		// cancel below) and an activity it ran. Waited for before the cancel: activities
		// scheduled in a workflow task that handled an update join the update's trace.
		// The run's own span is exported when the run ends.
		waitForTrace(t, spans, "POST /v1/collaborations", "StartWorkflow:", "RunActivity:")
		post(t, base, key, "/v1/collaborations/"+id+"/cancel", `{"reason":"tracing test"}`, 200)
		start := waitForTrace(t, spans, "POST /v1/collaborations", "StartWorkflow:", "RunWorkflow:", "RunActivity:")

		// The update's trace: the request, the handler, and the activity the cancel
		// caused (the stage written to the read model), through worker.UpdateCause.
		update := waitForTrace(t, spans, "POST /v1/collaborations/:id/cancel", "UpdateWorkflow:", "HandleUpdate:", "RunActivity:RecordStage")
		for _, s := range append(start, update...) {
			t.Logf("trace %s span %s parent %s %s", s.SpanContext.TraceID(), s.SpanContext.SpanID(), s.Parent.SpanID(), s.Name)
		}

		metrics := "http://" + metricsAddr
		var body string
		want := []string{
			"temporal_request_total", "temporal_workflow_task_execution_latency_seconds_bucket",
			// The collaboration's first activities are local (read model, send time).
			"temporal_local_activity_execution_latency_seconds_bucket",
			"collabflow_http_requests_total", `collabflow_verifications_total{result="passed"}`,
			`collabflow_payouts_total{event="created"}`, "collabflow_escalations_open 0",
		}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			body = getText(t, metrics+"/metrics", 200)
			if !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(body, w) }) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/metrics lacks some of %q:\n%s", want, body)
			}
		}
		for _, line := range strings.Split(body, "\n") {
			if strings.Contains(line, "_bucket{") {
				continue
			}
			if strings.HasPrefix(line, "collabflow_") || strings.HasPrefix(line, "temporal_request_total") ||
				strings.HasPrefix(line, "temporal_workflow_completed") || strings.HasPrefix(line, "temporal_local_activity_execution_latency_seconds_count") {
				t.Log(line)
			}
		}
		if got := getText(t, metrics+"/healthz", 200); !strings.Contains(got, `"OK"`) {
			t.Fatalf("/healthz: %s", got)
		}
		if got := getText(t, metrics+"/readyz", 200); !strings.Contains(got, `"failed":[]`) {
			t.Fatalf("/readyz: %s", got)
		}
	})
}

// waitForTrace waits until the exporter holds a trace with a span named first and spans
// whose names start with each of the others, and returns that trace's spans.
func waitForTrace(t *testing.T, exp *tracetest.InMemoryExporter, first string, others ...string) tracetest.SpanStubs {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		all := exp.GetSpans()
		for _, root := range all {
			if root.Name != first {
				continue
			}
			var trace tracetest.SpanStubs
			for _, s := range all {
				if s.SpanContext.TraceID() == root.SpanContext.TraceID() {
					trace = append(trace, s)
				}
			}
			if !slices.ContainsFunc(others, func(prefix string) bool {
				return !slices.ContainsFunc(trace, func(s tracetest.SpanStub) bool { return strings.HasPrefix(s.Name, prefix) })
			}) {
				return trace
			}
		}
		if time.Now().After(deadline) {
			var names []string
			for _, s := range all {
				names = append(names, s.SpanContext.TraceID().String()+" "+s.Name)
			}
			t.Fatalf("no trace of %s with %q; spans:\n%s", first, others, strings.Join(names, "\n"))
		}
	}
}

func getText(t *testing.T, url string, want int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d %s, want %d", url, resp.StatusCode, raw, want)
	}
	return string(raw)
}
