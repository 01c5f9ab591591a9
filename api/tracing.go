package api

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// propagator reads a caller's W3C trace context, so that a request a traced client sends
// joins its trace; the Temporal SDK's tracing interceptor uses the same format.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// tracing starts a server span per request, named by method and route (the pattern, so
// that ids do not make every name unique), and puts it in the request's context: the
// Temporal client's tracing interceptor then carries it into the workflow's headers, and
// the workflow's and activities' spans join the request's trace.
func tracing(tp trace.TracerProvider) echo.MiddlewareFunc {
	tracer := tp.Tracer("github.com/collabflow/collabflow/api")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			ctx := propagator.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
			ctx, span := tracer.Start(ctx, req.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(
					attribute.String("http.request.method", req.Method),
					attribute.String("http.route", route),
					attribute.String("collabflow.request_id", requestID(c)),
				))
			defer span.End()
			if id := routeCollaboration(c); id != "" {
				span.SetAttributes(attribute.String("collabflow.collaboration_id", id))
			}
			c.SetRequest(req.WithContext(ctx))
			if err := next(c); err != nil {
				// Answered here, so that the span records the status sent; the error
				// handler answers once (it skips a committed response).
				span.RecordError(err)
				c.Error(err)
			}
			status := c.Response().Status
			span.SetAttributes(attribute.Int("http.response.status_code", status))
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
			return nil
		}
	}
}

// routeCollaboration is the collaboration a request concerns, from its route, "" for none.
// Request logs and spans carry it, so that one collaboration's requests, workflow and
// activity logs are found by one id.
func routeCollaboration(c echo.Context) string {
	if strings.HasPrefix(c.Path(), "/v1/collaborations/:id") {
		return c.Param("id")
	}
	return ""
}

// traceID is the request's trace id, "" when it is not traced.
func traceID(c echo.Context) string {
	if sc := trace.SpanContextFromContext(c.Request().Context()); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}
