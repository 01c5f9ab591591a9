package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/collabflow/collabflow/api"
)

// config is every setting, read from the environment once at start. Defaults suit
// `collabflow dev` on one machine; production sets the addresses and secrets.
type config struct {
	TemporalAddress   string        // TEMPORAL_ADDRESS
	TemporalNamespace string        // TEMPORAL_NAMESPACE
	DatabaseURL       string        // DATABASE_URL
	Addr              string        // COLLABFLOW_ADDR
	APIKeys           []api.Key     // COLLABFLOW_API_KEYS
	DataDir           string        // COLLABFLOW_DATA_DIR
	LogLevel          slog.Level    // COLLABFLOW_LOG_LEVEL
	LogFormat         string        // COLLABFLOW_LOG_FORMAT
	RateLimit         float64       // COLLABFLOW_RATE_LIMIT
	Retention         time.Duration // COLLABFLOW_RETENTION
}

func loadConfig(getenv func(string) string) (config, error) {
	cfg := config{
		TemporalAddress:   or(getenv("TEMPORAL_ADDRESS"), "127.0.0.1:7233"),
		TemporalNamespace: or(getenv("TEMPORAL_NAMESPACE"), "default"),
		DatabaseURL:       getenv("DATABASE_URL"),
		Addr:              or(getenv("COLLABFLOW_ADDR"), "127.0.0.1:8080"),
		DataDir:           or(getenv("COLLABFLOW_DATA_DIR"), ".data"),
		LogFormat:         or(getenv("COLLABFLOW_LOG_FORMAT"), "text"),
		RateLimit:         50,
		Retention:         365 * 24 * time.Hour,
	}
	var err error
	if cfg.APIKeys, err = api.ParseKeys(getenv("COLLABFLOW_API_KEYS")); err != nil {
		return cfg, fmt.Errorf("COLLABFLOW_API_KEYS: %w", err)
	}
	if v := getenv("COLLABFLOW_LOG_LEVEL"); v != "" {
		if err := cfg.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return cfg, fmt.Errorf("COLLABFLOW_LOG_LEVEL: %w", err)
		}
	}
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		return cfg, fmt.Errorf("COLLABFLOW_LOG_FORMAT: %q is neither text nor json", cfg.LogFormat)
	}
	if v := getenv("COLLABFLOW_RATE_LIMIT"); v != "" {
		if cfg.RateLimit, err = strconv.ParseFloat(v, 64); err != nil || cfg.RateLimit <= 0 {
			return cfg, fmt.Errorf("COLLABFLOW_RATE_LIMIT: %q is not a positive number of requests per second", v)
		}
	}
	if v := getenv("COLLABFLOW_RETENTION"); v != "" {
		if cfg.Retention, err = time.ParseDuration(v); err != nil || cfg.Retention < 24*time.Hour {
			return cfg, fmt.Errorf("COLLABFLOW_RETENTION: %q is not a duration of at least 24h", v)
		}
	}
	return cfg, nil
}

// logValue lists the effective settings with secrets masked, for the start-up log.
func (c config) logValue() []any {
	keys := make([]string, len(c.APIKeys))
	for i, k := range c.APIKeys {
		keys[i] = k.Name + ":" + k.Role + ":***"
	}
	return []any{
		"temporal_address", c.TemporalAddress, "temporal_namespace", c.TemporalNamespace,
		"database_url", maskURL(c.DatabaseURL), "addr", c.Addr, "api_keys", strings.Join(keys, ","),
		"data_dir", c.DataDir, "rate_limit", c.RateLimit, "retention", c.Retention,
	}
}

func (c config) logger() *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// maskURL hides a password in a connection URL.
func maskURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok {
		return u
	}
	if name, _, hasPass := strings.Cut(userinfo, ":"); hasPass {
		return scheme + "://" + name + ":***@" + host
	}
	return u
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
