//go:build dev

package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/collabflow/collabflow/api"
	"github.com/collabflow/collabflow/codec"
	"github.com/collabflow/collabflow/devenv/pgserver"
	"github.com/collabflow/collabflow/devenv/sendgridsink"
	"github.com/collabflow/collabflow/devenv/temporalserver"
	"github.com/collabflow/collabflow/devenv/webui"
	"github.com/collabflow/collabflow/links"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

// runDev starts everything collabflow needs in this process, keeping state under
// cfg.DataDir so that a restart finds its creators and collaborations again.
func runDev(ctx context.Context, cfg config, stdout io.Writer) error {
	return runDevReady(ctx, cfg, stdout, nil)
}

func runDevReady(ctx context.Context, cfg config, stdout io.Writer, ready func(addr string)) error {
	logger := cfg.logger()
	if cfg.TemporalTLS != nil || cfg.TemporalAPIKey != "" {
		// The embedded server listens in plaintext on loopback; TLS to it would never connect.
		logger.Warn("dev ignores TEMPORAL_TLS, TEMPORAL_TLS_* and TEMPORAL_API_KEY: its embedded Temporal listens without TLS")
		cfg.TemporalTLS, cfg.TemporalAPIKey = nil, ""
	}
	// World-traversable so that the postgres user can reach its cluster inside.
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if cfg.Codec == nil {
		// Payloads are encrypted in dev too, with a key kept beside the data.
		var err error
		if cfg.Codec, err = devCodec(filepath.Join(cfg.DataDir, "codec-keys")); err != nil {
			return err
		}
	}
	// The Web UI first: its port is the likeliest to be taken (by another `make run` or
	// `temporal server start-dev`), and claiming it before PostgreSQL and Temporal start
	// makes that an error at once. Until Temporal answers, the UI shows it unreachable.
	if cfg.UIAddr != "" {
		ui, err := webui.Start(ctx, webui.Options{
			Addr:            cfg.UIAddr,
			FrontendAddress: cfg.TemporalAddress,
			Namespace:       cfg.TemporalNamespace,
			Codec:           webUICodec(cfg, logger),
			WriteActions:    cfg.UIWriteActions,
			Logger:          logger.With("component", "webui"),
		})
		if err != nil {
			return fmt.Errorf("COLLABFLOW_UI_ADDR (set it to off to run without the Web UI): %w", err)
		}
		defer func() {
			if err := ui.Stop(); err != nil {
				logger.Error("stop the Web UI", "err", err)
			}
		}()
		if host, _, _ := net.SplitHostPort(ui.Addr()); !isLoopback(host) {
			logger.Warn("the Temporal Web UI shows decrypted payloads to whoever reaches it, and it listens beyond this machine", "addr", ui.Addr())
		}
		fmt.Fprintf(stdout, "Temporal Web UI: %s (payloads decrypted through its %s; COLLABFLOW_UI_ADDR=off turns it off)\n", ui.URL(), webui.CodecPath)
	}

	// The embedded Temporal's frontend port next, for the same reason: the server exits
	// the whole process when it cannot listen (its logger is fatal), which would leave the
	// local PostgreSQL running. temporalserver.Start checks it again just before.
	if err := temporalserver.CheckFree(cfg.TemporalAddress); err != nil {
		return fmt.Errorf("TEMPORAL_ADDRESS (stop what holds it, e.g. another collabflow dev or temporal server start-dev, or choose a free port): %w", err)
	}

	if cfg.DatabaseURL == "" {
		logger.Info("starting local PostgreSQL", "dir", filepath.Join(cfg.DataDir, "postgres"))
		pg, err := pgserver.Start(ctx, pgserver.Options{Dir: filepath.Join(cfg.DataDir, "postgres")})
		if err != nil {
			return err
		}
		defer func() {
			if err := pg.Stop(); err != nil {
				logger.Error("stop PostgreSQL", "err", err)
			}
		}()
		cfg.DatabaseURL = pg.URL()
		// No password (trust authentication, loopback only), and a new port each start:
		// printed for psql, and as DATABASE_URL for the production binary's api or worker
		// run beside dev.
		fmt.Fprintf(stdout, "PostgreSQL: %s\n", cfg.DatabaseURL)
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx, logger); err != nil {
		return err
	}

	logger.Info("starting embedded Temporal", "address", cfg.TemporalAddress, "file", filepath.Join(cfg.DataDir, "temporal.db"))
	ts, err := temporalserver.Start(ctx, temporalserver.Options{
		DatabaseFile:     filepath.Join(cfg.DataDir, "temporal.db"),
		FrontendAddress:  cfg.TemporalAddress,
		Namespace:        cfg.TemporalNamespace,
		Retention:        cfg.Retention,
		SearchAttributes: workflows.SearchAttributeTypes(),
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := ts.Stop(); err != nil {
			logger.Error("stop Temporal", "err", err)
		}
	}()

	if len(cfg.APIKeys) == 0 {
		if cfg.APIKeys, err = devKeys(cfg.DataDir); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "API key (ops, saved in %s): %s\n", filepath.Join(cfg.DataDir, "api-key"), cfg.APIKeys[0].Secret)
		fmt.Fprintf(stdout, "API keys of the other roles (saved with ops's in %s, role:key lines):\n", filepath.Join(cfg.DataDir, "api-keys"))
		for _, k := range cfg.APIKeys[1:] {
			fmt.Fprintf(stdout, "  %-8s %s\n", k.Role, k.Secret)
		}
	}
	if cfg.LinkSecret == "" {
		if cfg.LinkSecret, err = devSecret(filepath.Join(cfg.DataDir, "link-secret"), "links_"); err != nil {
			return err
		}
	}
	if cfg.InboundSecret == "" {
		if cfg.InboundSecret, err = devSecret(filepath.Join(cfg.DataDir, "inbound-secret"), "in_"); err != nil {
			return err
		}
	}
	if cfg.ReplyDomain == "" {
		cfg.ReplyDomain = "inbound.collabflow.localhost"
	}
	cfg.VerifyPrivate = cfg.allowPrivateFetches(true)
	if cfg.PostalAddress == "" {
		cfg.PostalAddress = "collabflow dev (set COLLABFLOW_POSTAL_ADDRESS), 1 Example Street, Springfield"
	}
	fmt.Fprintf(stdout, "Console: %s/console (sign in with the API key)\n", cfg.PublicURL)
	fmt.Fprintf(stdout, "Inbound Parse: POST %s/webhooks/sendgrid/inbound with basic auth dev:%s\n", cfg.PublicURL, cfg.InboundSecret)

	if cfg.SendGridAPIKey == "" {
		sink := sendgridsink.New()
		ln, err := net.Listen("tcp", cfg.SinkAddr)
		if err != nil {
			return fmt.Errorf("listen for the SendGrid sink on COLLABFLOW_SENDGRID_SINK_ADDR %s: %w", cfg.SinkAddr, err)
		}
		// ReadTimeout: a trickled body must not hold a connection open for good.
		srv := &http.Server{Handler: sink, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer func() { _ = srv.Close() }()
		cfg.SendGridAPIKey, cfg.SendGridBaseURL = "SG.dev-sink", "http://"+ln.Addr().String()
		fmt.Fprintf(stdout, "No SENDGRID_API_KEY: emails go to the local sink; list them at %s/messages\n", cfg.SendGridBaseURL)
	}
	fmt.Fprintf(stdout, "Codec server (temporal --codec-endpoint, or a Web UI of your own): %s%s with --codec-auth 'Bearer <API key>'\n", cfg.PublicURL, codecPath)
	// Ctrl-C stops dev at once: its embedded server and PostgreSQL stop with it, so
	// activities would have nothing to finish against.
	cfg.WorkerStopTimeout = 0
	logger.Info("starting", cfg.logValue()...)
	return serve(ctx, cfg, logger, func(context.Context) (*store.Store, error) { return st, nil }, roleAPI|roleWorker|roleCodec, ready)
}

// isLoopback is whether host is a loopback IP address or localhost.
func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback() || host == "localhost"
}

// devCodec reads the dev payload key from path, or makes one and saves it there (mode
// 0600): histories written by an earlier `make run` stay readable.
func devCodec(path string) (*codec.Codec, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("generate %s: %w", path, err)
		}
		b = []byte("dev1:" + base64.StdEncoding.EncodeToString(raw))
		if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
			return nil, fmt.Errorf("save %s: %w", path, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	c, err := codec.Parse(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w (delete it to get a new key; histories written with it become unreadable)", path, err)
	}
	return c, nil
}

// devRoles are the roles dev makes a key for, ops first: a collaboration can be completed
// (a draft reviewed, a payout confirmed) without a restart.
var devRoles = []string{api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor}

// devKeys is one API key per role, ops first. The ops key is $DATA/api-key as before;
// $DATA/api-keys (mode 0600) holds every role's as role:key lines, kept across restarts.
// A key is named dev (ops, as events have always shown it) or dev-<role>.
func devKeys(dataDir string) ([]api.Key, error) {
	ops, err := devSecret(filepath.Join(dataDir, "api-key"), "cf_")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, "api-keys")
	saved := map[string]string{}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	for line := range strings.Lines(string(b)) {
		if role, secret, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && len(secret) >= api.MinSecretLength {
			saved[role] = secret
		}
	}
	saved[api.RoleOps] = ops
	keys := make([]api.Key, 0, len(devRoles))
	var file strings.Builder
	for _, role := range devRoles {
		secret, ok := saved[role]
		if !ok {
			raw := make([]byte, 32)
			if _, err := rand.Read(raw); err != nil {
				return nil, fmt.Errorf("generate the %s key: %w", role, err)
			}
			secret = "cf_" + base64.RawURLEncoding.EncodeToString(raw)
		}
		name := "dev"
		if role != api.RoleOps {
			name = "dev-" + role
		}
		keys = append(keys, api.Key{Name: name, Role: role, Secret: secret})
		fmt.Fprintf(&file, "%s:%s\n", role, secret)
	}
	if file.String() != string(b) {
		if err := os.WriteFile(path, []byte(file.String()), 0o600); err != nil {
			return nil, fmt.Errorf("save %s: %w", path, err)
		}
	}
	return keys, nil
}

// devSecret reads a dev secret from path, or makes one and saves it there (mode 0600) so
// that it survives restarts: keys, links in sent emails and webhook URLs keep working.
func devSecret(path, prefix string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		secret := strings.TrimSpace(string(b))
		if len(secret) < links.MinKeyLength {
			return "", fmt.Errorf("%s holds a secret shorter than %d characters: delete it to get a new one", path, links.MinKeyLength)
		}
		return secret, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate %s: %w", path, err)
	}
	secret := prefix + base64.RawURLEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save %s: %w", path, err)
	}
	return secret, nil
}
