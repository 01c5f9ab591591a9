// Package api is collabflow's HTTP API: a thin Echo server that validates input, keeps the
// roster and campaigns in the store, and starts, updates and queries collaboration
// workflows.
package api

import (
	"cmp"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"golang.org/x/time/rate"

	"github.com/collabflow/collabflow/links"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

// Config is what the server needs from outside.
type Config struct {
	Store    *store.Store
	Temporal client.Client
	Keys     []Key
	Logger   *slog.Logger
	// RateLimit is requests per second per API key (per client IP before authentication);
	// zero means 50.
	RateLimit float64
	// RequestTimeout bounds a request's work; zero means 30 seconds.
	RequestTimeout time.Duration
	// UpdateWait is how long a change waits for its accepted workflow update to finish
	// before answering 202 Accepted; zero means DefaultUpdateWait.
	UpdateWait time.Duration
	// Links checks the signed tokens in unsubscribe links.
	Links *links.Signer
	// WebhookKey verifies SendGrid Event Webhook signatures; nil refuses every event post.
	WebhookKey *ecdsa.PublicKey
	// InboundSecret is the basic-auth password SendGrid Inbound Parse posts with; empty
	// refuses every inbound post.
	InboundSecret string
	// WebhookTolerance is how far an Event Webhook timestamp may be from now, either way;
	// zero means DefaultWebhookTolerance.
	WebhookTolerance time.Duration
	// DataConverter decodes the payloads of histories the audit endpoints replay: the
	// Temporal client's own (with the payload codec); nil is Temporal's default.
	DataConverter converter.DataConverter
	// ReplyDomain is the domain of reply+<token>@ addresses.
	ReplyDomain string
	// SecureCookies marks portal cookies Secure and sends HSTS on every answer: set when
	// the public URL is https.
	SecureCookies bool
	// Metrics, when set, receives the HTTP request metrics.
	Metrics prometheus.Registerer
	// TracerProvider, when set, traces every request (see tracing); the Temporal client
	// needs the SDK's tracing interceptor for the trace to reach the workflows.
	TracerProvider trace.TracerProvider
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed. Without
	// them the client address is the connection's: headers a client sets are not trusted
	// for rate limits or for the IP a contract signature records.
	TrustedProxies []*net.IPNet
	// LaunchRate is how many collaborations per second a campaign launch starts: the email
	// rate, so that first emails go out as they are started instead of queueing. Zero
	// means DefaultLaunchRate.
	LaunchRate float64
}

// DefaultLaunchRate is the worker's default email rate.
const DefaultLaunchRate = 10

// Server holds the handlers' dependencies.
type Server struct {
	store         *store.Store
	temporal      client.Client
	keys          []Key
	logger        *slog.Logger
	validate      *validator.Validate
	links         *links.Signer
	webhookKey    *ecdsa.PublicKey
	inboundSecret string
	replyDomain   string
	secureCookies bool
	updateWait    time.Duration

	// dataConverter: see Config.DataConverter.
	dataConverter converter.DataConverter
	// webhookTolerance: see Config.WebhookTolerance.
	webhookTolerance time.Duration
	// launchRate: see Config.LaunchRate.
	launchRate float64
	// echo is the instance serving the routes: the console dispatches its actions to it.
	echo *echo.Echo
}

// MaxBody bounds request bodies; campaign briefs are the largest at a few kilobytes.
const MaxBody = "1M"

// New builds the Echo instance with every route.
func New(cfg Config) (*echo.Echo, error) {
	if cfg.Store == nil || cfg.Temporal == nil || cfg.Links == nil {
		return nil, errors.New("api: store, temporal client and link signer are required")
	}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("api: at least one API key is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 50
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.UpdateWait == 0 {
		cfg.UpdateWait = DefaultUpdateWait
	}
	if cfg.LaunchRate == 0 {
		cfg.LaunchRate = DefaultLaunchRate
	}
	s := &Server{store: cfg.Store, temporal: cfg.Temporal, keys: cfg.Keys, logger: cfg.Logger, validate: newValidator(),
		links: cfg.Links, webhookKey: cfg.WebhookKey, inboundSecret: cfg.InboundSecret, replyDomain: cfg.ReplyDomain,
		secureCookies: cfg.SecureCookies, updateWait: cfg.UpdateWait, webhookTolerance: cfg.WebhookTolerance,
		dataConverter: cfg.DataConverter, launchRate: cfg.LaunchRate}

	e := echo.New()
	s.echo = e
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(cfg.TrustedProxies)
	e.HTTPErrorHandler = s.errorHandler
	// Before routing, the metrics and the request log: a made-up method must cost nothing.
	e.Pre(standardMethodsOnly)
	e.Use(
		requestIDs,
		middleware.RecoverWithConfig(middleware.RecoverConfig{LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.logger.Error("panic in handler", "path", c.Path(), "err", err, "stack", string(stack))
			return err
		}}),
		middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
			// HandleError runs the error handler first, so the logged status is the one sent.
			HandleError: true,
			// Paths are logged with link tokens cut out: a token is a creator's credential.
			LogMethod: true, LogURIPath: true, LogStatus: true, LogLatency: true,
			LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
				attrs := []any{"method", v.Method, "route", c.Path(), "path", logPath(v.URIPath), "status", v.Status,
					"latency", v.Latency, "request_id", requestID(c), "actor", actor(c).Name}
				if id := routeCollaboration(c); id != "" {
					attrs = append(attrs, "collaboration_id", id)
				}
				if id := traceID(c); id != "" {
					attrs = append(attrs, "trace_id", id)
				}
				if id, ok := c.Get(clientRequestIDKey).(string); ok {
					attrs = append(attrs, "client_request_id", id)
				}
				if h, ok := c.Get(linkHashKey).(string); ok {
					attrs = append(attrs, "link", h)
				}
				s.logger.Info("request", attrs...)
				return nil
			},
		}),
	)
	if cfg.TracerProvider != nil {
		e.Use(tracing(cfg.TracerProvider))
	}
	e.Use(
		securityHeaders(),
		middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{Timeout: cfg.RequestTimeout}),
	)
	if cfg.SecureCookies {
		e.Use(strictTransport)
	}
	if cfg.Metrics != nil {
		m, err := newHTTPMetrics(cfg.Metrics)
		if err != nil {
			return nil, fmt.Errorf("api metrics: %w", err)
		}
		e.Use(m.middleware)
	}
	// Per client IP before authentication, so guessing keys is slow too; per key after it,
	// so one busy ops team behind a shared address does not starve another.
	s.routes(e, rateLimiter(10*cfg.RateLimit), rateLimiter(cfg.RateLimit))
	return e, nil
}

// ipExtractor finds the client's address: the connection's, or behind the trusted
// proxies the last X-Forwarded-For entry they did not add.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// LimitOptions configure RateLimited.
type LimitOptions struct {
	// RateLimit is what each API key may send per second, as Config.RateLimit; zero
	// means 50. Each client IP may send ten times that.
	RateLimit float64
	// Keys are the API keys; a request bearing one is limited as that key.
	Keys []Key
	// TrustedProxies are as Config.TrustedProxies.
	TrustedProxies []*net.IPNet
}

// RateLimited serves h, an endpoint beside the API that authenticates on its own (the
// codec server), behind the API's limits and with its answers: each client IP at ten
// times the rate limit before authentication, each API key at the rate limit after it,
// 429 with Retry-After past either, and the API's security headers and request IDs. A
// request without a known key meets only the per-IP limit here; h refuses it.
func RateLimited(h http.Handler, opts LimitOptions) http.Handler {
	limit := cmp.Or(opts.RateLimit, 50)
	s := &Server{keys: opts.Keys, logger: slog.New(slog.DiscardHandler)}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(opts.TrustedProxies)
	e.HTTPErrorHandler = s.errorHandler
	e.Pre(standardMethodsOnly)
	limitKey := rateLimiter(limit)
	e.Use(requestIDs, securityHeaders(), rateLimiter(10*limit), func(next echo.HandlerFunc) echo.HandlerFunc {
		limited := limitKey(next)
		return func(c echo.Context) error {
			scheme, secret, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				return next(c)
			}
			k := s.keyFor(secret)
			if k == nil {
				return next(c)
			}
			c.Set(actorKey, workflows.Actor{Name: k.Name, Role: k.Role})
			return limited(c)
		}
	})
	e.Any("/*", echo.WrapHandler(h))
	return e
}

// rateLimiter limits each API key (or, before authentication, each client IP) to limit
// requests per second with a burst of twice that.
func rateLimiter(limit float64) echo.MiddlewareFunc {
	return middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store: middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate: rate.Limit(limit), Burst: int(2 * limit), ExpiresIn: 3 * time.Minute,
		}),
		IdentifierExtractor: func(c echo.Context) (string, error) {
			if a := actor(c); a.Name != "" {
				return "key:" + a.Name, nil
			}
			return "ip:" + c.RealIP(), nil
		},
		ErrorHandler: func(c echo.Context, err error) error {
			return &Error{Status: http.StatusForbidden, Msg: "cannot identify client for rate limiting"}
		},
		DenyHandler: func(c echo.Context, _ string, _ error) error {
			// The bucket refills limit tokens a second: one second always brings the next.
			c.Response().Header().Set("Retry-After", "1")
			return &Error{Status: http.StatusTooManyRequests, Msg: "rate limit exceeded; retry shortly"}
		},
	})
}

// standardMethods are the HTTP methods the API (and any route it may grow) answers.
var standardMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions}

// standardMethodsOnly answers any other method with 501 before anything records it: Go's
// server takes any token up to a megabyte as a method, and each one would otherwise
// become new metric series and a log line, unauthenticated and never dropped.
func standardMethodsOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !slices.Contains(standardMethods, c.Request().Method) {
			return &Error{Status: http.StatusNotImplemented, Msg: "method not implemented"}
		}
		return next(c)
	}
}

// clientRequestIDKey holds the client's own X-Request-ID, kept for the log only.
const clientRequestIDKey = "client_request_id"

// maxClientRequestID bounds a client's X-Request-ID; a longer one is dropped.
const maxClientRequestID = 128

// requestIDs gives every request an ID the server made, answered in X-Request-ID and
// recorded as the actor's request ID. A client's X-Request-ID is never used as the ID (it
// would let callers forge the audit trail); when it is at most 128 printable ASCII
// characters it is kept apart and logged as client_request_id, otherwise dropped.
func requestIDs(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if id := req.Header.Get(echo.HeaderXRequestID); validClientRequestID(id) {
			c.Set(clientRequestIDKey, id)
		}
		req.Header.Del(echo.HeaderXRequestID) // nothing downstream may read the client's
		c.Response().Header().Set(echo.HeaderXRequestID, uuid.NewString())
		return next(c)
	}
}

// validClientRequestID is 1 to 128 printable ASCII characters.
func validClientRequestID(id string) bool {
	if id == "" || len(id) > maxClientRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// requestID is the server's ID of this request.
func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// linkRedacted replaces a link token wherever one would otherwise be shown or logged.
const linkRedacted = "[link redacted]"

// logPath is a request path fit for the log: everything after /portal/ or /u/ (where link
// tokens sit) is cut, wherever in the path it appears.
func logPath(p string) string {
	lower := strings.ToLower(p)
	cut := -1
	for _, prefix := range []string{"/portal/", "/u/"} {
		if i := strings.Index(lower, prefix); i >= 0 && (cut < 0 || i < cut) {
			cut = i + len(prefix)
		}
	}
	if cut < 0 || cut == len(p) {
		return p
	}
	return p[:cut] + linkRedacted
}
