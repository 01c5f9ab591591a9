// Package webui serves Temporal's Web UI (github.com/temporalio/ui-server/v2, its assets
// embedded in the binary) inside the current process, for `collabflow dev`.
//
// Start assembles the UI server from ui-server's exported route and middleware packages,
// in the order server.NewServer of v2.55.0 does, instead of calling NewServer: NewServer
// binds its own port when started and, when that port is taken, ends the whole process
// (echo's Logger.Fatal), and it keeps its gRPC connection to Temporal open for good. Here
// the port is claimed first, so a busy one is an error returned to the caller; the UI is
// served from that listener; and Stop closes the connection. When upgrading ui-server,
// compare assemble with the new server/server.go and route/api.go.
package webui

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/temporalio/ui-server/v2/server/api"
	"github.com/temporalio/ui-server/v2/server/auth"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/cors"
	"github.com/temporalio/ui-server/v2/server/csrf"
	"github.com/temporalio/ui-server/v2/server/headers"
	"github.com/temporalio/ui-server/v2/server/route"
	"github.com/temporalio/ui-server/v2/ui"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
)

// CodecPath is where the UI's own listener serves Options.Codec. The UI is configured
// with this path rather than a full URL so that its pages call the codec on whatever
// host they were loaded from (127.0.0.1, localhost, a LAN address): always same-origin,
// with no CORS to configure.
const CodecPath = "/codec"

// Options configures Start.
type Options struct {
	// Addr is host:port to listen on; port 0 picks a free one.
	Addr string
	// FrontendAddress is the Temporal frontend's gRPC host:port the UI reads from.
	FrontendAddress string
	// Namespace is the namespace the UI opens on; empty means Temporal's "default".
	Namespace string
	// Codec, when set, is Temporal's codec-server protocol (POST /encode, /decode) that
	// the UI decodes payloads through, served at CodecPath to the UI's own pages only.
	// Nil shows payloads as Temporal stores them.
	Codec http.Handler
	// WriteActions lets the UI signal, update, cancel, terminate, reset and start
	// workflows; off (the default) it only shows them and answers queries.
	WriteActions bool
	// Logger receives the UI server's errors; nil discards them.
	Logger *slog.Logger
}

// Server is a running Web UI.
type Server struct {
	srv    *http.Server
	conn   *grpc.ClientConn
	addr   string
	served chan struct{}

	stopOnce sync.Once
	stopErr  error
	// stopOnCancel undoes the context hook, so a server stopped by hand leaves nothing
	// waiting on the context.
	stopOnCancel func() bool
}

// Start listens on opts.Addr and serves the Web UI there until ctx ends or Stop is
// called. A busy port is an error returned here, before anything is served.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.FrontendAddress == "" {
		return nil, errors.New("webui: no Temporal frontend address")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen for the Temporal Web UI on %s: %w", opts.Addr, err)
	}
	s := &Server{addr: ln.Addr().String(), served: make(chan struct{})}
	e, err := s.assemble(opts)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	var h http.Handler = e
	if opts.Codec != nil {
		h = withCodec(e, opts.Codec)
	}
	_, port, _ := net.SplitHostPort(s.addr)
	s.srv = &http.Server{
		Handler:           ownHostOnly(h, port),
		ReadHeaderTimeout: 10 * time.Second,
		// A trickled body would otherwise hold a connection (and the codec's work) open
		// for good; the UI's requests are small.
		ReadTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute,
		ErrorLog:    slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(s.served)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			opts.Logger.Error("serve the Temporal Web UI", "addr", s.addr, "err", err)
		}
	}()
	s.stopOnCancel = context.AfterFunc(ctx, func() {
		if err := s.shutdown(); err != nil {
			opts.Logger.Error("stop the Temporal Web UI", "err", err)
		}
	})
	return s, nil
}

// assemble builds the UI's echo instance as ui-server's server.NewServer does, keeping the
// gRPC connection in s so that Stop can close it.
func (s *Server) assemble(opts Options) (*echo.Echo, error) {
	host, portStr, err := net.SplitHostPort(s.addr)
	if err != nil {
		return nil, fmt.Errorf("webui: listener address %s: %w", s.addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("webui: listener port %s: %w", portStr, err)
	}
	cfg := &uiconfig.Config{
		TemporalGRPCAddress: opts.FrontendAddress,
		Host:                host,
		Port:                port,
		EnableUI:            true,
		DefaultNamespace:    opts.Namespace,
		// Plain HTTP on loopback: a Secure CSRF cookie would never come back and every
		// action in the UI would fail the CSRF check.
		CORS:     uiconfig.CORS{CookieInsecure: true},
		HideLogs: true,
		// The news feed is fetched from temporal.io; dev runs offline and tells no one
		// it is running.
		DisableNewsFetch: true,
		// Changes to workflows go through collabflow's API, which checks roles and
		// records who acted; the UI is for looking unless asked otherwise.
		DisableWriteActions: !opts.WriteActions,
	}
	if opts.Codec != nil {
		cfg.Codec = uiconfig.Codec{Endpoint: CodecPath}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("webui: UI server configuration: %w", err)
	}
	// A zero RefreshInterval starts no refresh goroutine: the configuration is fixed.
	provider, err := uiconfig.NewConfigProviderWithRefresh(cfg)
	if err != nil {
		return nil, fmt.Errorf("webui: UI server configuration: %w", err)
	}
	if s.conn, err = api.CreateGRPCConnection(provider); err != nil {
		return nil, fmt.Errorf("webui: connection to Temporal at %s: %w", opts.FrontendAddress, err)
	}
	if s.conn == nil {
		return nil, fmt.Errorf("webui: no connection to Temporal at %s", opts.FrontendAddress)
	}
	apiMiddleware := []api.Middleware{headers.WithForwardHeaders([]string{auth.AuthorizationExtrasHeader, "Caller-Type"})}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Use(middleware.Recover())
	e.Use(middleware.Gzip())
	e.Use(cors.CORSMiddleware(cors.CORSConfig{
		AllowHeaders: []string{
			echo.HeaderOrigin, echo.HeaderContentType, echo.HeaderAccept,
			echo.HeaderXCSRFToken, echo.HeaderAuthorization, auth.AuthorizationExtrasHeader,
			"Caller-Type",
		},
		AllowCredentials: true,
		ConfigProvider:   provider,
	}))
	e.Use(middleware.Secure())
	cookieSecure := !cfg.CORS.CookieInsecure
	e.Use(csrf.EnsureTokenCookie(cookieSecure))
	e.Use(middleware.CSRFWithConfig(csrf.MiddlewareConfig(provider, cookieSecure)))
	e.Pre(route.PublicPath(cfg.PublicPath))
	route.SetHealthRoute(e)

	// route.SetAPIRoutes, with the connection made above instead of its own.
	v1 := e.Group("/api/v1")
	v1.GET("/settings", api.GetSettings(provider))
	v1.GET("/releases", api.GetLatestReleases(provider, api.NewReleaseChecker()))
	v1.GET("/ui-extensions", api.GetUIExtensions(provider, api.TemporalAccessCheck(s.conn, apiMiddleware)))
	writeControl := route.DisableWriteMiddleware(provider)
	v1.GET(api.WorkflowRawHistoryUrl, api.WorkflowRawHistoryHandler(workflowservice.NewWorkflowServiceClient(s.conn)), writeControl)
	v1.Match([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, "/*", api.TemporalAPIHandler(provider, apiMiddleware, s.conn), writeControl)

	route.SetAuthRoutes(e, provider)
	assets, err := ui.Assets()
	if err == nil {
		assets, err = fs.Sub(assets, "local")
	}
	if err != nil {
		_ = s.conn.Close()
		return nil, fmt.Errorf("webui: embedded UI assets: %w", err)
	}
	if err := route.SetUIRoutes(e, cfg.PublicPath, assets, provider); err != nil {
		_ = s.conn.Close()
		return nil, fmt.Errorf("webui: UI routes: %w", err)
	}
	route.SetRenderRoute(e, "/")
	return e, nil
}

// ownHostOnly answers only requests whose Host names this listener by IP address or as
// localhost, with its port: a page under a DNS name of its own that it rebinds to this
// address (DNS rebinding) reaches the listener with that name in Host, and would
// otherwise be same-origin with the UI, its API and its codec.
func ownHostOnly(h http.Handler, port string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !literalHost(r.Host, port) {
			http.Error(w, "the Web UI answers only at an IP address or localhost, with its port", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// withCodec serves codecH at CodecPath for the UI's own pages and everything else with ui.
//
// The codec answers payloads in clear, so it refuses a request whose Origin is another
// site's (a browser sends Origin on every POST); ownHostOnly has already refused a DNS
// name that could be rebound. The UI's pages are same-origin, which needs no CORS answer,
// so Origin is dropped once checked and codecH sees what a non-browser client would send.
func withCodec(uiH, codecH http.Handler) http.Handler {
	stripped := http.StripPrefix(CodecPath, codecH)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, CodecPath+"/") {
			uiH.ServeHTTP(w, r)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && origin != "http://"+r.Host {
			http.Error(w, "the codec answers only the Web UI's own pages", http.StatusForbidden)
			return
		}
		r = r.Clone(r.Context())
		r.Header.Del("Origin")
		stripped.ServeHTTP(w, r)
	})
}

// literalHost is whether hostport names its host by IP address or as localhost, and
// names port.
func literalHost(hostport, port string) bool {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil || p != port {
		return false
	}
	return net.ParseIP(host) != nil || strings.EqualFold(host, "localhost")
}

// Addr is the host:port the UI listens on.
func (s *Server) Addr() string { return s.addr }

// URL is the UI's base URL, http://host:port.
func (s *Server) URL() string { return "http://" + s.addr }

// Stop shuts the UI down, giving requests in flight five seconds, and closes its
// connection to Temporal. It is safe to call more than once and after ctx ended.
func (s *Server) Stop() error {
	s.stopOnCancel()
	return s.shutdown()
}

// shutdown is Stop without undoing the context hook, which is what calls it on cancel.
func (s *Server) shutdown() error {
	s.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := s.srv.Shutdown(ctx)
		<-s.served
		s.stopErr = errors.Join(err, s.conn.Close())
		if s.stopErr != nil {
			s.stopErr = fmt.Errorf("stop the Temporal Web UI: %w", s.stopErr)
		}
	})
	return s.stopErr
}

// WorkflowURL is the page of workflowID in namespace on the Web UI at base
// (http://host:port): the link a console gives for a collaboration.
func WorkflowURL(base, namespace, workflowID string) string {
	return strings.TrimRight(base, "/") + "/namespaces/" + url.PathEscape(namespace) + "/workflows/" + url.PathEscape(workflowID)
}
