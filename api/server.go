// Package api is collabflow's HTTP API: a thin Echo server that validates input, keeps the
// roster and campaigns in the store, and starts, updates and queries collaboration
// workflows.
package api

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-playground/validator/v10"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	"golang.org/x/time/rate"

	"github.com/collabflow/collabflow/links"
	"github.com/collabflow/collabflow/store"
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
	// ReplyDomain is the domain of reply+<token>@ addresses.
	ReplyDomain string
	// SecureCookies marks portal cookies Secure: set when the public URL is https.
	SecureCookies bool
	// Metrics, when set, receives the HTTP request metrics.
	Metrics prometheus.Registerer
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed. Without
	// them the client address is the connection's: headers a client sets are not trusted
	// for rate limits or for the IP a contract signature records.
	TrustedProxies []*net.IPNet
}

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

	// webhookTolerance: see Config.WebhookTolerance.
	webhookTolerance time.Duration
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
	s := &Server{store: cfg.Store, temporal: cfg.Temporal, keys: cfg.Keys, logger: cfg.Logger, validate: newValidator(),
		links: cfg.Links, webhookKey: cfg.WebhookKey, inboundSecret: cfg.InboundSecret, replyDomain: cfg.ReplyDomain,
		secureCookies: cfg.SecureCookies, updateWait: cfg.UpdateWait, webhookTolerance: cfg.WebhookTolerance}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = echo.ExtractIPDirect()
	if len(cfg.TrustedProxies) > 0 {
		opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
		for _, n := range cfg.TrustedProxies {
			opts = append(opts, echo.TrustIPRange(n))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(opts...)
	}
	e.HTTPErrorHandler = s.errorHandler
	e.Use(
		middleware.RequestID(),
		middleware.RecoverWithConfig(middleware.RecoverConfig{LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.logger.Error("panic in handler", "path", c.Path(), "err", err, "stack", string(stack))
			return err
		}}),
		middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
			// HandleError runs the error handler first, so the logged status is the one sent.
			HandleError: true,
			LogMethod:   true, LogURIPath: true, LogStatus: true, LogLatency: true, LogRequestID: true,
			LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
				s.logger.Info("request", "method", v.Method, "path", v.URIPath, "status", v.Status,
					"latency", v.Latency, "request_id", v.RequestID, "actor", actor(c).Name)
				return nil
			},
		}),
		middleware.Secure(),
		middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{Timeout: cfg.RequestTimeout}),
	)
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
			return &Error{Status: http.StatusTooManyRequests, Msg: "rate limit exceeded; retry shortly"}
		},
	})
}

// healthz answers 200 when the database and Temporal answer, 503 otherwise.
func (s *Server) healthz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 5*time.Second)
	defer cancel()
	checks := map[string]string{"database": "ok", "temporal": "ok"}
	status := http.StatusOK
	if err := s.store.Ping(ctx); err != nil {
		checks["database"], status = err.Error(), http.StatusServiceUnavailable
	}
	if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"], status = err.Error(), http.StatusServiceUnavailable
	}
	return c.JSON(status, map[string]any{"status": http.StatusText(status), "checks": checks})
}
