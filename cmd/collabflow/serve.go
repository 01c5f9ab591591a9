package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/api"
	"github.com/collabflow/collabflow/collabstart"
	"github.com/collabflow/collabflow/links"
	"github.com/collabflow/collabflow/mailer"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/verify"
	"github.com/collabflow/collabflow/worker"
)

// role selects which parts a process runs.
type role int

const (
	roleAPI role = 1 << iota
	roleWorker
	// roleCodec serves the codec endpoint under codecPath on the API's listener (dev).
	roleCodec
)

// runProduction runs the API or the worker against external Temporal and PostgreSQL.
func runProduction(ctx context.Context, cfg config, r role) error {
	logger := cfg.logger()
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is required (collabflow dev starts a local PostgreSQL instead)")
	}
	if err := cfg.checkProduction(r); err != nil {
		return err
	}
	cfg.VerifyPrivate = cfg.allowPrivateFetches(false)
	warnProduction(logger, cfg, r)
	logger.Info("starting", cfg.logValue()...)
	if _, err := pgxpool.ParseConfig(cfg.DatabaseURL); err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	var st *store.Store
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	return serve(ctx, cfg, logger, func(ctx context.Context) (*store.Store, error) {
		var err error
		st, err = openStore(ctx, cfg, logger)
		return st, err
	}, r, nil)
}

// openStore opens the database, retrying with backoff while it does not answer (a first
// install or a failover): the process waits unready instead of exiting into a crash loop.
func openStore(ctx context.Context, cfg config, logger *slog.Logger) (*store.Store, error) {
	for wait := 500 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		st, err := store.Open(ctx, cfg.DatabaseURL)
		if err == nil {
			return st, nil
		}
		logger.Warn("database not reachable yet", "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to the database: %w", err)
		case <-time.After(wait):
		}
	}
}

// warnProduction logs, at start-up, the settings a production process runs with that
// are allowed but weaken it, so that they show in the log beside the effective config.
func warnProduction(logger *slog.Logger, cfg config, r role) {
	if r&roleAPI != 0 && cfg.WebhookKey == nil {
		logger.Warn("SENDGRID_WEBHOOK_PUBLIC_KEY unset: every Event Webhook post will be refused")
	}
	if r&roleAPI != 0 && cfg.InboundSecret == "" {
		logger.Warn("SENDGRID_INBOUND_SECRET unset: every Inbound Parse post will be refused")
	}
	// Only the worker fetches posts. With private addresses allowed, a post URL a creator
	// submits can reach the internal network (cloud metadata, admin ports).
	if r&roleWorker != 0 && cfg.VerifyPrivate {
		logger.Warn("post verification may fetch private addresses: a submitted post URL can reach the internal network",
			"setting", "COLLABFLOW_VERIFY_ALLOW_PRIVATE=true")
	}
}

func runMigrate(ctx context.Context, cfg config) error {
	if cfg.DatabaseURL == "" {
		return errors.New("DATABASE_URL is required")
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	return st.Migrate(ctx, cfg.logger())
}

// connections is what a starting process has connected to so far: its probes answer from
// it while start-up retries PostgreSQL and Temporal.
type connections struct {
	store    atomic.Pointer[store.Store]
	temporal atomic.Pointer[client.Client]
}

// readiness is /readyz over what is connected, from a cache (api.ReadyCache);
// temporalOptional is the API's (api.Readiness).
func (c *connections) readiness(logger *slog.Logger, temporalOptional bool) *api.ReadyCache {
	return api.NewReadyCache(func(ctx context.Context) (int, api.ReadyAnswer) {
		var tc client.Client
		if p := c.temporal.Load(); p != nil {
			tc = *p
		}
		return api.Readiness{Store: c.store.Load(), Temporal: tc, Logger: logger, TemporalOptional: temporalOptional}.Check(ctx)
	}, api.ReadyTTL)
}

// startingHandler is the API's listener until the API is built: /healthz answers, /readyz
// says what is not connected yet, and everything else is 503 with Retry-After.
func startingHandler(ready http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", api.Alive)
	mux.Handle("GET /readyz", ready)
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"starting: not connected to the database yet; retry shortly"}` + "\n"))
	})
	return mux
}

// serve runs the chosen parts until ctx ends or one fails. The probes answer at once (the
// API's on COLLABFLOW_ADDR too), while open gets the database and the worker dials
// Temporal, both retrying; the API's other routes follow when the database is there. The
// API does not wait for Temporal: what needs it answers 503 until it is reachable. ready,
// when set, is called with the API's listening address once the API serves.
func serve(ctx context.Context, cfg config, logger *slog.Logger, open func(context.Context) (*store.Store, error), r role, ready func(addr string)) (err error) {
	var conns connections
	tel, err := newTelemetry(ctx, cfg, logger, &conns.store)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, tel.close(ctx)) }()
	stopped := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	fail := func(err error) error {
		if stopped.Err() != nil {
			// Told to stop while still connecting: a clean stop, not a failure.
			err = nil
		}
		cancel()
		return errors.Join(err, g.Wait())
	}
	if err := tel.serveOps(ctx, g, cfg.MetricsAddr, logger, conns.readiness(logger, r&roleWorker == 0)); err != nil {
		return err
	}
	var apiHandler atomic.Pointer[http.Handler]
	var apiAddr string
	if r&roleAPI != 0 {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			return fail(fmt.Errorf("listen on COLLABFLOW_ADDR %s: %w", cfg.Addr, err))
		}
		apiAddr = ln.Addr().String()
		starting := startingHandler(conns.readiness(logger, true))
		apiHandler.Store(&starting)
		srv := newAPIServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			(*apiHandler.Load()).ServeHTTP(w, req)
		}), logger, defaultAPITimeouts)
		serveHTTP(ctx, g, srv, ln, "API")
	}
	st, err := open(ctx)
	if err != nil {
		return fail(err)
	}
	conns.store.Store(st)
	var tc client.Client
	if r&roleWorker != 0 {
		tc, err = dialTemporal(ctx, cfg, logger, tel)
	} else {
		// The client connects when Temporal answers; until then the calls that need it
		// fail as unavailable (503 with Retry-After).
		tc, err = client.NewLazyClient(tel.clientOptions(cfg.temporalClientOptions(logger), logger))
	}
	if err != nil {
		return fail(err)
	}
	defer tc.Close()
	conns.temporal.Store(&tc)

	signer, err := links.NewSigner([]byte(cfg.LinkSecret))
	if err != nil {
		return fail(fmt.Errorf("COLLABFLOW_LINK_SECRET: %w", err))
	}
	if r&roleWorker != 0 {
		sg, err := mailer.NewSendGrid(cfg.SendGridAPIKey, cfg.SendGridBaseURL, 30*time.Second)
		if err != nil {
			return fail(err)
		}
		acts := &activities.Activities{
			Store: st, Mailer: sg, Links: signer,
			PublicURL: cfg.PublicURL, PostalAddress: cfg.PostalAddress, ReplyDomain: cfg.ReplyDomain,
			OpsEmail: cfg.OpsEmail,
			Verifier: verify.NewFetcher(cfg.VerifyPrivate, 15*time.Second), PlatformHosts: cfg.PlatformHosts, Payouts: activities.ManualPayouts{},
			Collaborations: activities.TemporalCollaborations{Client: tc}, ProviderEventWait: cfg.ProviderEventWait,
			Starter: collabstart.Starter{Client: tc, Store: st}, Steerer: collabstart.Starter{Client: tc, Store: st},
			Metrics: tel.activities,
		}
		g.Go(func() error {
			opts := cfg.workerOptions()
			opts.DataConverter = cfg.dataConverter() // the client's: what it refuses is recorded
			return worker.Run(ctx, tc, acts, opts)
		})
	}
	if r&roleAPI != 0 {
		e, err := api.New(api.Config{
			Metrics: tel.registerer(), TracerProvider: tel.tracerProvider(),
			Store: st, Temporal: tc, Keys: cfg.APIKeys, Logger: logger, RateLimit: cfg.RateLimit, Links: signer,
			WebhookKey: cfg.WebhookKey, InboundSecret: cfg.InboundSecret, ReplyDomain: cfg.ReplyDomain, WebhookTolerance: cfg.WebhookTolerance,
			LaunchRate:    cfg.EmailsPerSecond,
			SecureCookies: strings.HasPrefix(cfg.PublicURL, "https://"), TrustedProxies: cfg.TrustedProxies,
			DataConverter: cfg.dataConverter(),
		})
		if err != nil {
			return fail(err)
		}
		var h http.Handler = e
		if r&roleCodec != 0 {
			h = withCodec(e, codecHandler(cfg, logger))
		}
		apiHandler.Store(&h)
		logger.Info("API listening", "addr", "http://"+apiAddr)
		if ready != nil {
			ready(apiAddr)
		}
	}
	return g.Wait()
}

// serveHTTP serves srv on ln in g until ctx ends, then shuts it down, giving requests in
// flight ten seconds to finish; what names the server in an error.
func serveHTTP(ctx context.Context, g *errgroup.Group, srv *http.Server, ln net.Listener, what string) {
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve %s: %w", what, err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	})
}

// apiTimeouts are the API's connection timeouts.
type apiTimeouts struct {
	ReadHeader, Read, Write, Idle time.Duration
}

// defaultAPITimeouts suit the routes: every body is at most 1 MB except Inbound Parse
// posts (up to 30 MB, from SendGrid's network), so a minute reads any honest request; a
// connection trickling its body is dropped then. The write timeout runs from the end of
// the headers, so it covers reading the body, the request's work (the API's 30-second
// request timeout) and the answer.
var defaultAPITimeouts = apiTimeouts{
	ReadHeader: 10 * time.Second,
	Read:       time.Minute,
	Write:      time.Minute + 30*time.Second + 15*time.Second,
	Idle:       2 * time.Minute,
}

// newAPIServer is the API's HTTP server.
func newAPIServer(h http.Handler, logger *slog.Logger, t apiTimeouts) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// dialTemporal connects, retrying while the server starts up (a worker may come up first).
func dialTemporal(ctx context.Context, cfg config, logger *slog.Logger, tel *telemetry) (client.Client, error) {
	for wait := 500 * time.Millisecond; ; wait = min(2*wait, 10*time.Second) {
		tc, err := client.DialContext(ctx, tel.clientOptions(cfg.temporalClientOptions(logger), logger))
		if err == nil {
			return tc, nil
		}
		logger.Warn("temporal not reachable yet", "address", cfg.TemporalAddress, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to temporal at %s: %w", cfg.TemporalAddress, err)
		case <-time.After(wait):
		}
	}
}
