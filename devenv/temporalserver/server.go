// Package temporalserver runs a Temporal server inside the current process, backed by
// SQLite: a file under .data/ for `collabflow dev`, or memory for tests.
//
// It is the only package that imports go.temporal.io/server, so that packages which only
// need a client compile and test without the server's large dependency tree.
package temporalserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	namespacepb "go.temporal.io/api/namespace/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/membership/static"
	"go.temporal.io/server/common/metrics"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	"go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Options configures an embedded server. The zero value is an in-memory server on a free
// loopback port with the namespace "default".
type Options struct {
	// DatabaseFile is the SQLite file that holds all state. Empty means in memory, which
	// loses everything on Stop: right for tests, wrong for `collabflow dev`.
	DatabaseFile string
	// FrontendAddress is host:port for the gRPC frontend; empty picks a free loopback port.
	FrontendAddress string
	// Namespace is created on start when missing; empty means "default".
	Namespace string
	// Retention is how long closed workflows' histories are kept; zero means 365 days,
	// long enough for an audit of the past year.
	Retention time.Duration
	// SearchAttributes are registered on the namespace at start, for new and existing
	// database files alike.
	SearchAttributes map[string]enumspb.IndexedValueType
	// Synchronous is SQLite's synchronous mode for a database file, "NORMAL" or "FULL";
	// empty means NORMAL (see the decision at the pragma in Start).
	Synchronous string
	// LogLevel is the server's own log level ("debug", "info", "warn", "error");
	// empty means "error": below that the server reports routine conditions of a
	// single-process setup (no Nexus HTTP port, membership churn) as if they mattered.
	LogLevel string
}

// Server is a running embedded Temporal server.
type Server struct {
	srv       temporal.Server
	address   string
	namespace string
}

// Start creates the schema when the database file is new, starts every Temporal service in
// this process, and returns once the frontend answers and the namespace is ready.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Retention == 0 {
		opts.Retention = 365 * 24 * time.Hour
	}
	if opts.LogLevel == "" {
		opts.LogLevel = "error"
	}
	switch opts.Synchronous = strings.ToUpper(opts.Synchronous); opts.Synchronous {
	case "":
		opts.Synchronous = "NORMAL"
	case "NORMAL", "FULL":
	default:
		return nil, fmt.Errorf("synchronous mode %q: want NORMAL or FULL", opts.Synchronous)
	}
	host, frontendPort, err := frontendHostPort(opts.FrontendAddress)
	if err != nil {
		return nil, err
	}

	sqlCfg := &config.SQL{
		PluginName:        sqliteplugin.PluginName,
		ConnectAttributes: map[string]string{},
	}
	if opts.DatabaseFile == "" {
		sqlCfg.ConnectAttributes["mode"] = "memory"
		sqlCfg.ConnectAttributes["cache"] = "shared"
		// A distinct name per server keeps two in-memory servers in one test binary apart.
		sqlCfg.DatabaseName = "mem-" + strconv.Itoa(frontendPort)
	} else {
		sqlCfg.ConnectAttributes["mode"] = "rwc"
		// WAL with synchronous=NORMAL stays durable across a process crash (only an OS
		// crash or a power loss can lose the last transactions) and spares an fsync per
		// commit. FULL measured 0-3 % slower one workflow at a time
		// (BenchmarkWorkflowRoundTrip: 86-93 ms vs 86-96 ms) and 4-18 % with many in
		// flight (performance review of 2026-11-28): NORMAL is the default for a dev
		// server, whose production counterpart is a real cluster. The plugin
		// passes every attribute that is not a URI parameter as a pragma under its own
		// name: "journal_mode", not the driver-specific "_journal_mode", which it ignored
		// (TestFileServerRegistersAttributesOnReopen reads the file's header).
		sqlCfg.ConnectAttributes["journal_mode"] = "wal"
		sqlCfg.ConnectAttributes["synchronous"] = opts.Synchronous
		sqlCfg.DatabaseName = opts.DatabaseFile
		if err := os.MkdirAll(filepath.Dir(opts.DatabaseFile), 0o750); err != nil {
			return nil, fmt.Errorf("create directory for %s: %w", opts.DatabaseFile, err)
		}
	}
	if err := prepareSchema(sqlCfg, opts); err != nil {
		return nil, err
	}

	cfg, hosts, err := serverConfig(sqlCfg, host, frontendPort)
	if err != nil {
		return nil, err
	}
	// The server's own listen failure is fatal to the process (its logger exits), which
	// would skip every deferred clean-up of the caller: find a taken port here instead.
	if err := CheckFree(net.JoinHostPort(host, strconv.Itoa(frontendPort))); err != nil {
		return nil, err
	}
	logger := log.NewZapLogger(log.BuildZapLogger(log.Config{Stdout: true, Level: opts.LogLevel}))
	srv, err := temporal.NewServer(
		temporal.WithConfig(cfg),
		temporal.ForServices(temporal.DefaultServices),
		// Static membership: ringpop would remember the previous run's random ports in the
		// database file and refuse calls ("Not enough hosts") after a restart.
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(logger),
		temporal.WithDynamicConfigClient(dynamicConfig()),
	)
	if err != nil {
		return nil, fmt.Errorf("build temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	s := &Server{srv: srv, address: net.JoinHostPort(host, strconv.Itoa(frontendPort)), namespace: opts.Namespace}
	if err := s.configureNamespace(ctx, opts); err != nil {
		_ = srv.Stop()
		return nil, err
	}
	return s, nil
}

// namespaceRefresh is how often each service reloads the namespaces (with their search
// attribute aliases) from the database.
const namespaceRefresh = time.Second

// dynamicConfig is the server's dynamic configuration. The search-attribute caches are not
// refreshed on every read: that re-read the cluster metadata and the namespace for each
// start, upsert and visibility call (-11 % lifecycles per second in the performance
// review of 2026-11-28). A search attribute added at start reaches every service with
// their next namespace refresh instead, which configureNamespace waits for.
// historyCacheSize is how many workflows' mutable state the embedded history service
// keeps in memory.
const historyCacheSize = 2048

func dynamicConfig() dynamicconfig.StaticClient {
	return dynamicconfig.StaticClient{
		dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(): []dynamicconfig.ConstrainedValue{{Value: false}},
		dynamicconfig.NamespaceCacheRefreshInterval.Key():           []dynamicconfig.ConstrainedValue{{Value: namespaceRefresh}},
		// The history service keeps up to 128,000 workflows' mutable state in memory by
		// default, sized for a cluster: with 10,000 collaborations open, most of them
		// waiting days for a person, this one process held 1.9 GiB. The busy ones stay
		// cached; the rest are read from SQLite when they wake.
		dynamicconfig.HistoryCacheHostLevelMaxSize.Key(): []dynamicconfig.ConstrainedValue{{Value: historyCacheSize}},
	}
}

// Address is the frontend's host:port for clients.
func (s *Server) Address() string { return s.address }

// Namespace is the namespace created at start.
func (s *Server) Namespace() string { return s.namespace }

// Stop shuts every service down and closes the database.
func (s *Server) Stop() error {
	if err := s.srv.Stop(); err != nil {
		return fmt.Errorf("stop temporal server: %w", err)
	}
	return nil
}

// prepareSchema creates the schema in a new file (or memory) and the namespace when missing.
func prepareSchema(sqlCfg *config.SQL, opts Options) error {
	// In memory, the SQLite plugin creates the schema itself on first connection.
	if opts.DatabaseFile != "" {
		_, err := os.Stat(opts.DatabaseFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if err := sqlite.SetupSchema(sqlCfg); err != nil {
				return fmt.Errorf("create temporal schema: %w", err)
			}
		case err != nil:
			return fmt.Errorf("inspect %s: %w", opts.DatabaseFile, err)
		}
	}
	ns, err := sqlite.NewNamespaceConfig(clusterName, opts.Namespace, false, nil)
	if err != nil {
		return fmt.Errorf("namespace config: %w", err)
	}
	ns.Detail.Config.Retention = durationpb.New(opts.Retention)
	if err := sqlite.CreateNamespaces(sqlCfg, ns); err != nil {
		return fmt.Errorf("create namespace %q: %w", opts.Namespace, err)
	}
	return nil
}

// configureNamespace applies retention and search attributes through the public API, so an
// existing .data/ file picks up attributes and retention added after it was created.
func (s *Server) configureNamespace(ctx context.Context, opts Options) error {
	c, err := s.waitForFrontend(ctx)
	if err != nil {
		return err
	}
	defer c.Close()

	if _, err := c.WorkflowService().UpdateNamespace(ctx, &workflowservice.UpdateNamespaceRequest{
		Namespace: opts.Namespace,
		Config:    &namespacepb.NamespaceConfig{WorkflowExecutionRetentionTtl: durationpb.New(opts.Retention)},
	}); err != nil {
		return fmt.Errorf("set retention on namespace %q: %w", opts.Namespace, err)
	}

	existing, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: opts.Namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range opts.SearchAttributes {
		if _, ok := existing.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace:        opts.Namespace,
		SearchAttributes: missing,
	}); err != nil {
		return fmt.Errorf("add search attributes: %w", err)
	}
	// The aliases are in the database now; the services see them once each has reloaded
	// the namespaces, within a refresh interval (and the time a reload takes). Only a new
	// database or new attributes pay this wait.
	select {
	case <-ctx.Done():
		return fmt.Errorf("wait for search attributes: %w", ctx.Err())
	case <-time.After(2 * namespaceRefresh):
	}
	return nil
}

// waitForFrontend dials until the frontend answers a namespace lookup: the services start
// asynchronously and the first seconds may refuse calls.
func (s *Server) waitForFrontend(ctx context.Context) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var lastErr error
	for {
		c, err := client.DialContext(ctx, client.Options{HostPort: s.address, Namespace: s.namespace, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
		if err == nil {
			_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.namespace})
			if err == nil {
				return c, nil
			}
			c.Close()
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("temporal frontend at %s not ready: %w", s.address, lastErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

const clusterName = "active"

func serverConfig(sqlCfg *config.SQL, host string, frontendPort int) (*config.Config, map[primitives.ServiceName]static.Hosts, error) {
	ports, err := freePorts(host, 8)
	if err != nil {
		return nil, nil, err
	}
	addr := func(port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
	hosts := map[primitives.ServiceName]static.Hosts{
		primitives.FrontendService: static.SingleLocalHost(addr(frontendPort)),
		primitives.HistoryService:  static.SingleLocalHost(addr(ports[2])),
		primitives.MatchingService: static.SingleLocalHost(addr(ports[4])),
		primitives.WorkerService:   static.SingleLocalHost(addr(ports[6])),
	}
	service := func(grpcPort, membershipPort int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: grpcPort, MembershipPort: membershipPort, BindOnIP: host}}
	}
	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{MaxJoinDuration: 30 * time.Second, BroadcastAddress: host},
			Metrics: &metrics.Config{Prometheus: &metrics.PrometheusConfig{
				ListenAddress: net.JoinHostPort(host, strconv.Itoa(ports[0])),
				HandlerPath:   "/metrics",
			}},
		},
		Persistence: config.Persistence{
			DefaultStore:     sqliteplugin.PluginName,
			VisibilityStore:  sqliteplugin.PluginName,
			NumHistoryShards: 1,
			DataStores:       map[string]config.DataStore{sqliteplugin.PluginName: {SQL: sqlCfg}},
		},
		ClusterMetadata: &cluster.Config{
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{clusterName: {
				Enabled:                true,
				InitialFailoverVersion: 1,
				RPCAddress:             net.JoinHostPort(host, strconv.Itoa(frontendPort)),
			}},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			"frontend": service(frontendPort, ports[1]),
			"history":  service(ports[2], ports[3]),
			"matching": service(ports[4], ports[5]),
			"worker":   service(ports[6], ports[7]),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{Archival: config.ArchivalNamespaceDefaults{
			History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
			Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
		}},
		PublicClient: config.PublicClient{HostPort: net.JoinHostPort(host, strconv.Itoa(frontendPort))},
	}, hosts, nil
}

func frontendHostPort(addr string) (string, int, error) {
	if addr == "" {
		ports, err := freePorts("127.0.0.1", 1)
		if err != nil {
			return "", 0, err
		}
		return "127.0.0.1", ports[0], nil
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("temporal frontend address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("temporal frontend address %q: bad port", addr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return host, port, nil
}

// freePorts asks the kernel for n distinct free ports by holding them all open at once.
func freePorts(host string, n int) ([]int, error) {
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries == 2000 {
			return nil, fmt.Errorf("find %d free ports on %s between %d and %d", n, host, portsFrom, portsTo)
		}
		port := portsFrom + rand.IntN(portsTo-portsFrom)
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			continue
		}
		listeners = append(listeners, l)
		ports = append(ports, port)
	}
	return ports, nil
}

// Ports are picked below Linux's ephemeral range (32768 and up by default): a port the
// kernel handed out for ":0" can be given to any outgoing connection (a database pool, a
// gRPC client of a test running beside this one) between our check and the server's bind.
const (
	portsFrom = 20000
	portsTo   = 32000
)

// CheckFree returns an error naming addr when nothing can listen there now (another
// server holds it); an empty addr, which Start replaces with a free port, passes. It
// listens and closes at once.
func CheckFree(addr string) error {
	if addr == "" {
		return nil
	}
	host, port, err := frontendHostPort(addr)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("temporal frontend address %s is taken: %w", addr, err)
	}
	return l.Close()
}

// FreeAddress is a loopback address whose port was free a moment ago, picked the same way
// as the server's own ports, for tests and tools that must name one before starting.
func FreeAddress() (string, error) {
	ports, err := freePorts("127.0.0.1", 1)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])), nil
}
