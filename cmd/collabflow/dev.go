package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/collabflow/collabflow/api"
	"github.com/collabflow/collabflow/devenv/pgserver"
	"github.com/collabflow/collabflow/devenv/temporalserver"
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
	// World-traversable so that the postgres user can reach its cluster inside.
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data directory: %w", err)
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
		key, err := devKey(filepath.Join(cfg.DataDir, "api-key"))
		if err != nil {
			return err
		}
		cfg.APIKeys = []api.Key{key}
		fmt.Fprintf(stdout, "API key (ops, saved in %s): %s\n", filepath.Join(cfg.DataDir, "api-key"), key.Secret)
	}
	logger.Info("starting", cfg.logValue()...)
	return serve(ctx, cfg, logger, st, roleAPI|roleWorker, ready)
}

// devKey reads the dev ops key from path, or makes one and saves it there (mode 0600)
// so that it survives restarts.
func devKey(path string) (api.Key, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		secret := strings.TrimSpace(string(b))
		if len(secret) < api.MinSecretLength {
			return api.Key{}, fmt.Errorf("%s holds a key shorter than %d characters: delete it to get a new one", path, api.MinSecretLength)
		}
		return api.Key{Name: "dev", Role: api.RoleOps, Secret: secret}, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return api.Key{}, fmt.Errorf("read dev API key: %w", err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return api.Key{}, fmt.Errorf("generate dev API key: %w", err)
	}
	secret := "cf_" + base64.RawURLEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return api.Key{}, fmt.Errorf("save dev API key: %w", err)
	}
	return api.Key{Name: "dev", Role: api.RoleOps, Secret: secret}, nil
}
