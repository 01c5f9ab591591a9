package api_test

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/collabflow/collabflow/api"
)

// TestRequestSpanAndLogFields: with a tracer provider, a request joins the caller's W3C
// trace in a span named by its route, with the status sent; the JSON request log carries
// the same trace_id beside request_id and the collaboration_id of the route.
func TestRequestSpanAndLogFields(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	logs := &logBuffer{}
	base := loggingAPI(t, logs, func(cfg *api.Config) { cfg.TracerProvider = tp })

	const id = "01a22047-fe95-7c2d-9b1d-1367eab1508b"
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	r := callAt(t, base, "GET", "/v1/collaborations/"+id, opsKey, nil, "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	must(t, 404, r)

	var line map[string]any
	eventually(t, "the request line", func() bool {
		for _, l := range logs.requestLines(t) {
			if l["route"] == "/v1/collaborations/:id" {
				line = l
				return true
			}
		}
		return false
	})
	for key, want := range map[string]any{"collaboration_id": id, "request_id": r.Header.Get("X-Request-ID"), "trace_id": traceID} {
		if line[key] != want {
			t.Errorf("log %s = %v, want %v: %v", key, line[key], want, line)
		}
	}

	var span *tracetest.SpanStub
	for _, s := range spans.GetSpans() {
		if s.Name == "GET /v1/collaborations/:id" {
			span = &s
		}
	}
	if span == nil {
		t.Fatalf("no span for the request: %v", spans.GetSpans())
	}
	if got := span.SpanContext.TraceID().String(); got != traceID {
		t.Errorf("span trace %s, want the caller's %s", got, traceID)
	}
	attrs := attribute.NewSet(span.Attributes...)
	if v, _ := attrs.Value("http.response.status_code"); v.AsInt64() != 404 {
		t.Errorf("span status attribute %v, want 404", v.Emit())
	}
	if v, _ := attrs.Value("collabflow.collaboration_id"); v.AsString() != id {
		t.Errorf("span collaboration %q, want %s", v.Emit(), id)
	}
}
