package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/sdk/client"

	"github.com/collabflow/collabflow/store"
)

// Readiness answers whether a process can do its work: PostgreSQL answers, its schema has
// every migration this binary embeds, and Temporal answers. The API serves it at /readyz,
// and every process at /readyz on COLLABFLOW_METRICS_ADDR, for Kubernetes' readiness
// probe: a replica that is not ready is taken out of the Service but not restarted.
type Readiness struct {
	// Store is nil while the process is still connecting: not ready.
	Store *store.Store
	// Temporal is nil while the process is still connecting: not ready.
	Temporal client.Client
	Logger   *slog.Logger
	// TemporalOptional is the API's: webhooks, unsubscribe links, portal pages and reads
	// need only PostgreSQL, so Temporal being down leaves the process ready with temporal
	// listed as degraded (routes that need it answer 503 with Retry-After) instead of
	// taking every replica out of the Service. The worker needs Temporal for everything.
	TemporalOptional bool
}

// Readiness check names and outcomes, as the answer shows them.
const (
	checkDatabase   = "database"
	checkMigrations = "migrations"
	checkTemporal   = "temporal"

	checkOK          = "ok"
	checkUnavailable = "unavailable"
	// checkBehind is a schema missing migrations this binary embeds.
	checkBehind = "behind"
)

// ReadyAnswer is the body of /readyz.
type ReadyAnswer struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	// Failed names the checks that are not ok and make the process unready, sorted;
	// empty when ready.
	Failed []string `json:"failed"`
	// Degraded names the checks that are not ok but leave the process ready (Temporal,
	// for the API): what needs it answers 503 meanwhile.
	Degraded []string `json:"degraded"`
}

// Check runs the checks, each bounded so that a hung dependency answers within the
// probe's timeout. The answer is unauthenticated: it names what failed, never why (the
// errors hold addresses, users and database names); the reasons go to the log.
func (r Readiness) Check(ctx context.Context) (int, ReadyAnswer) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	logger := r.Logger
	if logger == nil {
		logger = slog.Default()
	}
	a := ReadyAnswer{Checks: map[string]string{checkDatabase: checkOK, checkMigrations: checkOK, checkTemporal: checkOK},
		Failed: []string{}, Degraded: []string{}}
	fail := func(check, outcome string, err error, attrs ...any) {
		logger.Warn("readiness check failed", append([]any{"check", check, "err", err}, attrs...)...)
		a.Checks[check] = outcome
		if check == checkTemporal && r.TemporalOptional {
			a.Degraded = append(a.Degraded, check)
			return
		}
		a.Failed = append(a.Failed, check)
	}
	if r.Store == nil {
		// A process still connecting to PostgreSQL at start.
		err := errors.New("not connected yet")
		fail(checkDatabase, checkUnavailable, err)
		fail(checkMigrations, checkUnavailable, err)
	} else if err := r.Store.Ping(ctx); err != nil {
		fail(checkDatabase, checkUnavailable, err)
		// Without the database the schema cannot be read either.
		fail(checkMigrations, checkUnavailable, err)
	} else if m, err := r.Store.Migrations(ctx); err != nil {
		fail(checkMigrations, checkUnavailable, err)
	} else if !m.Current() {
		fail(checkMigrations, checkBehind, nil, "applied", m.Applied, "latest", m.Latest)
	}
	if r.Temporal == nil {
		// A process still dialling Temporal at start.
		fail(checkTemporal, checkUnavailable, errors.New("not connected yet"))
	} else if _, err := r.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		fail(checkTemporal, checkUnavailable, err)
	}
	slices.Sort(a.Failed)
	status := http.StatusOK
	if len(a.Failed) > 0 {
		status = http.StatusServiceUnavailable
	}
	a.Status = http.StatusText(status)
	return status, a
}

// ServeHTTP answers /readyz: 200 when every check passes, else 503, with the checks.
func (r Readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	status, a := r.Check(req.Context())
	writeJSON(w, status, a)
}

// ReadyTTL is how long a readiness answer is reused: probes come every few seconds, while
// an unauthenticated flood of /readyz would otherwise cost a PostgreSQL round trip and a
// Temporal call each (review L-N5).
const ReadyTTL = time.Second

// ReadyCache answers readiness from the last check while it is younger than its TTL.
// Callers that arrive while a check runs wait for it and share its answer, so at most one
// check runs per TTL however many requests come.
type ReadyCache struct {
	check func(context.Context) (int, ReadyAnswer)
	ttl   time.Duration
	now   func() time.Time

	mu     sync.Mutex
	at     time.Time
	status int
	answer ReadyAnswer
}

// NewReadyCache caches check's answers for ttl.
func NewReadyCache(check func(context.Context) (int, ReadyAnswer), ttl time.Duration) *ReadyCache {
	return &ReadyCache{check: check, ttl: ttl, now: time.Now}
}

// Check answers from the cache, or runs the check when the cached answer is too old. The
// check does not end with the request that ran it: its answer is kept for the others.
func (c *ReadyCache) Check(ctx context.Context) (int, ReadyAnswer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.status != 0 && c.now().Sub(c.at) < c.ttl {
		return c.status, c.answer
	}
	c.status, c.answer = c.check(context.WithoutCancel(ctx))
	c.at = c.now()
	return c.status, c.answer
}

// ServeHTTP answers /readyz from the cache.
func (c *ReadyCache) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	status, a := c.Check(req.Context())
	writeJSON(w, status, a)
}

// AliveAnswer is the body of /healthz.
type AliveAnswer struct {
	Status string `json:"status"`
}

// Alive answers /healthz, Kubernetes' liveness probe: 200 whenever the process can answer
// at all. It touches no dependency, so that an outage of PostgreSQL or Temporal takes
// replicas out of service (/readyz) instead of restarting every one of them.
func Alive(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, AliveAnswer{Status: http.StatusText(http.StatusOK)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// healthz is Alive on the API's routes.
func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, AliveAnswer{Status: http.StatusText(http.StatusOK)})
}

// readyz is Readiness on the API's routes, Temporal optional (see Readiness), from a
// cache.
func (s *Server) readyz() echo.HandlerFunc {
	ready := NewReadyCache(Readiness{Store: s.store, Temporal: s.temporal, Logger: s.logger, TemporalOptional: true}.Check, ReadyTTL)
	return func(c echo.Context) error {
		status, a := ready.Check(c.Request().Context())
		return c.JSON(status, a)
	}
}
