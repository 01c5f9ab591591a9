package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
	sdklog "go.temporal.io/sdk/log"
	"golang.org/x/sync/errgroup"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/api"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/worker"
)

// telemetry is what a process reports about itself: Prometheus metrics (HTTP, Temporal
// SDK, business) on COLLABFLOW_METRICS_ADDR, and OpenTelemetry traces to
// OTEL_EXPORTER_OTLP_ENDPOINT. Either may be off; the zero value reports nothing.
type telemetry struct {
	// registry holds every metric the process serves; nil without COLLABFLOW_METRICS_ADDR.
	registry *prometheus.Registry
	// sdkMetrics is the Temporal SDK's metrics handler (temporal_* series); nil leaves
	// the SDK's default, which records nothing.
	sdkMetrics client.MetricsHandler
	// activities counts the side effects the activities confirm; nil counts nothing.
	activities *activities.Metrics
	// tracer traces API requests; nil when tracing is off.
	tracer *sdktrace.TracerProvider
	// interceptors carry the trace through Temporal: the client's calls put the span in
	// the workflow's headers, and workers created from the client start workflow,
	// update and activity spans under it.
	interceptors []interceptor.ClientInterceptor
	// closers flush and stop the exporters, newest first.
	closers []func(context.Context) error
}

// newSpanExporter is where spans go: the OTLP/gRPC endpoint configured. Tests replace it
// with an in-memory exporter.
var newSpanExporter = func(ctx context.Context, cfg config) (sdktrace.SpanExporter, error) {
	return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(cfg.OTLPEndpoint))
}

// newTelemetry sets up what cfg asks for. Call close when the process ends: it flushes
// the spans still batched.
func newTelemetry(ctx context.Context, cfg config, logger *slog.Logger, st *atomic.Pointer[store.Store]) (*telemetry, error) {
	t := &telemetry{}
	if cfg.MetricsAddr != "" {
		if err := t.setupMetrics(logger, st); err != nil {
			_ = t.close(ctx)
			return nil, err
		}
	}
	if cfg.OTLPEndpoint != "" {
		if err := t.setupTracing(ctx, cfg); err != nil {
			_ = t.close(ctx)
			return nil, err
		}
	}
	return t, nil
}

func (t *telemetry) setupMetrics(logger *slog.Logger, st *atomic.Pointer[store.Store]) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The SDK reports through OpenTelemetry's metrics API; this reader turns its
	// instruments into Prometheus series on the same registry. Its latencies are in
	// seconds, so histograms take Prometheus' default buckets (OpenTelemetry's default
	// ones are for milliseconds).
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(),
		otelprom.WithAggregationSelector(func(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
			if k == sdkmetric.InstrumentKindHistogram {
				return sdkmetric.AggregationExplicitBucketHistogram{Boundaries: prometheus.DefBuckets}
			}
			return sdkmetric.DefaultAggregationSelector(k)
		}))
	if err != nil {
		return fmt.Errorf("prometheus exporter: %w", err)
	}
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	t.closers = append(t.closers, provider.Shutdown)
	t.sdkMetrics = temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter: provider.Meter("temporal-sdk-go"),
		// Counters as Prometheus counters (temporal_request_total), which rate() is for;
		// the default up-down counters are exported as gauges.
		UseMonotonicCounters: true,
		// The handler's default panics; a metric the SDK cannot record is no reason to
		// stop a worker.
		OnError: func(err error) { logger.Warn("temporal sdk metric", "err", err) },
	})
	if t.activities, err = activities.NewMetrics(reg); err != nil {
		return fmt.Errorf("activity metrics: %w", err)
	}
	if err := reg.Register(escalations{store: st, logger: logger}); err != nil {
		return fmt.Errorf("escalation metric: %w", err)
	}
	t.registry = reg
	return nil
}

func (t *telemetry) setupTracing(ctx context.Context, cfg config) error {
	exporter, err := newSpanExporter(ctx, cfg)
	if err != nil {
		return fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", cfg.ServiceName)))
	if err != nil {
		return fmt.Errorf("trace resource: %w", err)
	}
	t.tracer = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	t.closers = append(t.closers, t.tracer.Shutdown)
	// Libraries that trace through the global provider (and propagate through the
	// global propagator) join the same traces.
	otel.SetTracerProvider(t.tracer)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	tracing, err := temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{Tracer: t.tracer.Tracer("temporal-sdk-go"),
		// The key worker.UpdateCause reads an update's span by, to put the activities the
		// update causes in its trace.
		SpanContextKey: worker.SpanContextKey})
	if err != nil {
		return fmt.Errorf("temporal tracing interceptor: %w", err)
	}
	t.interceptors = append(t.interceptors, tracing)
	return nil
}

// close flushes and stops the exporters.
func (t *telemetry) close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var errs []error
	for i := len(t.closers) - 1; i >= 0; i-- {
		errs = append(errs, t.closers[i](ctx))
	}
	return errors.Join(errs...)
}

// registerer is where the API registers its HTTP metrics; nil without a registry.
func (t *telemetry) registerer() prometheus.Registerer {
	if t.registry == nil {
		return nil
	}
	return t.registry
}

// tracerProvider traces the API's requests; nil when tracing is off.
func (t *telemetry) tracerProvider() trace.TracerProvider {
	if t.tracer == nil {
		return nil
	}
	return t.tracer
}

// clientOptions adds the SDK's metrics handler, tracing interceptor and logger to opts.
func (t *telemetry) clientOptions(opts client.Options, logger *slog.Logger) client.Options {
	opts.MetricsHandler = t.sdkMetrics
	opts.Interceptors = append(opts.Interceptors, t.interceptors...)
	opts.Logger = sdkLogger(logger)
	return opts
}

// serveOps serves /metrics, /healthz and /readyz on COLLABFLOW_METRICS_ADDR in g until
// ctx ends. It starts before PostgreSQL and Temporal are connected, so that a liveness
// probe answers while the process waits for them; ready says what is not connected yet.
func (t *telemetry) serveOps(ctx context.Context, g *errgroup.Group, addr string, logger *slog.Logger, ready http.Handler) error {
	if t.registry == nil {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on COLLABFLOW_METRICS_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("GET /healthz", api.Alive)
	mux.Handle("GET /readyz", ready)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	logger.Info("metrics listening", "addr", "http://"+ln.Addr().String()+"/metrics")
	serveHTTP(ctx, g, srv, ln, "metrics")
	return nil
}

// escalations is collabflow_escalations_open, read from the read model at each scrape:
// every process reports the same number (take max, not sum, across them), and it is
// right after a restart, which a per-process gauge would not be.
type escalations struct {
	// store is nil until the process has connected to the database.
	store  *atomic.Pointer[store.Store]
	logger *slog.Logger
}

var escalationsDesc = prometheus.NewDesc("collabflow_escalations_open",
	"Collaborations waiting for ops (an open escalation), from the read model; the same in every process.", nil, nil)

// Describe implements prometheus.Collector.
func (e escalations) Describe(ch chan<- *prometheus.Desc) { ch <- escalationsDesc }

// Collect implements prometheus.Collector. A database that does not answer leaves the
// series out of this scrape (logged) rather than failing the whole scrape.
func (e escalations) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st := e.store.Load()
	if st == nil {
		return
	}
	n, err := st.OpenEscalations(ctx)
	if err != nil {
		e.logger.Warn("collabflow_escalations_open not collected", "err", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(escalationsDesc, prometheus.GaugeValue, float64(n))
}

// sdkLogger is the Temporal SDK's logger. The SDK names the workflow WorkflowID and its
// run RunID in its own logs and in activity.GetLogger's; they are renamed to the keys the
// API's request logs use (collaboration_id: a collaboration's workflow ID is its id;
// run_id), so that one query finds a collaboration's requests, workflow and activities.
func sdkLogger(logger *slog.Logger) sdklog.Logger {
	return sdklog.NewStructuredLogger(slog.New(renameKeys{logger.Handler()}).With("component", "temporal-sdk"))
}

// sdkKeys are the SDK's log keys renamed, and their names in collabflow's logs.
var sdkKeys = map[string]string{"WorkflowID": "collaboration_id", "RunID": "run_id"}

// renameKeys is a slog.Handler renaming sdkKeys.
type renameKeys struct{ slog.Handler }

func rename(a slog.Attr) slog.Attr {
	if to, ok := sdkKeys[a.Key]; ok {
		a.Key = to
	}
	return a
}

// Handle implements slog.Handler.
func (h renameKeys) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(rename(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

// WithAttrs implements slog.Handler.
func (h renameKeys) WithAttrs(attrs []slog.Attr) slog.Handler {
	renamed := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		renamed[i] = rename(a)
	}
	return renameKeys{h.Handler.WithAttrs(renamed)}
}

// WithGroup implements slog.Handler.
func (h renameKeys) WithGroup(name string) slog.Handler {
	return renameKeys{h.Handler.WithGroup(name)}
}
