package main

import (
	"crypto/ecdsa"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.temporal.io/sdk/converter"

	"github.com/collabflow/collabflow/api"
	"github.com/collabflow/collabflow/codec"
	"github.com/collabflow/collabflow/links"
	"github.com/collabflow/collabflow/verify"
	"github.com/collabflow/collabflow/worker"
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

	// TemporalTLS is how to reach Temporal over TLS (with a client certificate for mTLS);
	// nil dials in plaintext.
	TemporalTLS *tls.Config // TEMPORAL_TLS, TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY, TEMPORAL_TLS_CA, TEMPORAL_TLS_SERVER_NAME
	// TemporalAPIKey authenticates to Temporal Cloud; it implies TLS.
	TemporalAPIKey string // TEMPORAL_API_KEY

	SendGridAPIKey  string           // SENDGRID_API_KEY
	SendGridBaseURL string           // SENDGRID_BASE_URL
	WebhookKey      *ecdsa.PublicKey // SENDGRID_WEBHOOK_PUBLIC_KEY
	InboundSecret   string           // SENDGRID_INBOUND_SECRET
	ReplyDomain     string           // INBOUND_REPLY_DOMAIN
	PostalAddress   string           // COLLABFLOW_POSTAL_ADDRESS
	PublicURL       string           // COLLABFLOW_PUBLIC_URL
	LinkSecret      string           // COLLABFLOW_LINK_SECRET
	EmailsPerSecond float64          // COLLABFLOW_EMAIL_RATE
	// NoticesPerSecond caps transactional notices apart from outreach, so that a launch's
	// outreach backlog never delays a contract or a brief.
	NoticesPerSecond float64 // COLLABFLOW_NOTICE_RATE
	// WorkflowCache is how many workflows the worker keeps in memory between their tasks;
	// the others replay their history when they next wake.
	WorkflowCache int // COLLABFLOW_WORKFLOW_CACHE
	// WorkerActivities, WorkerWorkflowTasks and WorkerPollers bound what one worker
	// process takes on at once: activities per worker, workflow tasks, pollers per queue.
	WorkerActivities    int // COLLABFLOW_WORKER_ACTIVITIES
	WorkerWorkflowTasks int // COLLABFLOW_WORKER_WORKFLOW_TASKS
	WorkerPollers       int // COLLABFLOW_WORKER_POLLERS
	// WorkerStopTimeout is how long a stopping worker lets running activities finish.
	WorkerStopTimeout time.Duration // COLLABFLOW_WORKER_STOP_TIMEOUT
	// ProviderEventWait is how long a send retry waits for SendGrid's events about an
	// attempt whose answer was lost before it sends again.
	ProviderEventWait time.Duration // COLLABFLOW_PROVIDER_EVENT_WAIT
	// WebhookTolerance is how far an Event Webhook timestamp may be from now, either way.
	WebhookTolerance time.Duration // SENDGRID_WEBHOOK_TOLERANCE
	OpsEmail         string        // COLLABFLOW_OPS_EMAIL
	TrustedProxies   []*net.IPNet  // COLLABFLOW_TRUSTED_PROXIES
	MetricsAddr      string        // COLLABFLOW_METRICS_ADDR
	// OTLPEndpoint is where traces go; empty traces nothing.
	OTLPEndpoint  string // OTEL_EXPORTER_OTLP_ENDPOINT
	ServiceName   string // OTEL_SERVICE_NAME
	VerifyPrivate bool   // COLLABFLOW_VERIFY_ALLOW_PRIVATE
	// VerifyPrivateSet is whether COLLABFLOW_VERIFY_ALLOW_PRIVATE was given: dev allows
	// private addresses unless told not to.
	VerifyPrivateSet bool
	// PlatformHosts are the domains each platform's posts may be on: the defaults, with
	// the platforms COLLABFLOW_PLATFORM_HOSTS names replaced.
	PlatformHosts verify.PlatformHosts // COLLABFLOW_PLATFORM_HOSTS
	SinkAddr      string               // COLLABFLOW_SENDGRID_SINK_ADDR (dev only)
	// Codec encrypts Temporal payloads; nil stores them in clear.
	Codec *codec.Codec // COLLABFLOW_CODEC_KEYS
	// CodecAcceptPlain lets the codec pass payloads that are not encrypted: the migration
	// switch for histories written before encryption. Off, they are refused.
	CodecAcceptPlain bool // COLLABFLOW_CODEC_ACCEPT_PLAIN
	// CodecAddr is where `collabflow codec-server` listens.
	CodecAddr string // COLLABFLOW_CODEC_ADDR
	// CodecOrigins are the browser origins (the Temporal Web UI's) allowed to call the
	// codec endpoint.
	CodecOrigins []string // COLLABFLOW_CODEC_CORS_ORIGINS
	// UIAddr is where `collabflow dev` serves Temporal's Web UI; empty runs none.
	UIAddr string // COLLABFLOW_UI_ADDR (dev only)
	// UIWriteActions lets dev's Web UI signal, update, cancel, terminate and reset
	// workflows; off, it only shows them.
	UIWriteActions bool // COLLABFLOW_UI_WRITE_ACTIONS (dev only)
}

// dataConverter is the converter every Temporal client and replayer of this process uses.
func (c config) dataConverter() converter.DataConverter {
	if c.Codec == nil {
		return converter.GetDefaultDataConverter()
	}
	cd := c.Codec
	if c.CodecAcceptPlain {
		cd = cd.AcceptingPlain()
	}
	return cd.LoggingRefusals(c.logger().With("component", "codec")).DataConverter()
}

func loadConfig(getenv func(string) string) (config, error) {
	e := env{getenv: getenv}
	cfg := config{
		TemporalAddress:   e.get("TEMPORAL_ADDRESS"),
		TemporalNamespace: e.get("TEMPORAL_NAMESPACE"),
		DatabaseURL:       e.raw("DATABASE_URL"),
		Addr:              e.get("COLLABFLOW_ADDR"),
		DataDir:           e.get("COLLABFLOW_DATA_DIR"),
		LogFormat:         e.get("COLLABFLOW_LOG_FORMAT"),
		SendGridAPIKey:    e.raw("SENDGRID_API_KEY"),
		SendGridBaseURL:   e.get("SENDGRID_BASE_URL"),
		InboundSecret:     e.raw("SENDGRID_INBOUND_SECRET"),
		ReplyDomain:       e.raw("INBOUND_REPLY_DOMAIN"),
		PostalAddress:     e.raw("COLLABFLOW_POSTAL_ADDRESS"),
		LinkSecret:        e.raw("COLLABFLOW_LINK_SECRET"),
		OpsEmail:          e.raw("COLLABFLOW_OPS_EMAIL"),
		MetricsAddr:       e.raw("COLLABFLOW_METRICS_ADDR"),
		OTLPEndpoint:      e.raw("OTEL_EXPORTER_OTLP_ENDPOINT"),
		ServiceName:       e.get("OTEL_SERVICE_NAME"),
		SinkAddr:          e.get("COLLABFLOW_SENDGRID_SINK_ADDR"),
		CodecAddr:         e.get("COLLABFLOW_CODEC_ADDR"),
	}
	cfg.PublicURL = strings.TrimRight(or(e.raw("COLLABFLOW_PUBLIC_URL"), "http://"+cfg.Addr), "/")
	var err error
	if cfg.TemporalTLS, cfg.TemporalAPIKey, err = loadTemporalConn(e); err != nil {
		return cfg, err
	}
	if cfg.APIKeys, err = api.ParseKeys(e.raw("COLLABFLOW_API_KEYS")); err != nil {
		return cfg, fmt.Errorf("COLLABFLOW_API_KEYS: %w", err)
	}
	if v := e.get("COLLABFLOW_LOG_LEVEL"); v != "" {
		if err := cfg.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return cfg, fmt.Errorf("COLLABFLOW_LOG_LEVEL: %w", err)
		}
	}
	if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
		return cfg, fmt.Errorf("COLLABFLOW_LOG_FORMAT: %q is neither text nor json", cfg.LogFormat)
	}
	if v := e.get("COLLABFLOW_RATE_LIMIT"); v != "" {
		if cfg.RateLimit, err = strconv.ParseFloat(v, 64); err != nil || cfg.RateLimit <= 0 {
			return cfg, fmt.Errorf("COLLABFLOW_RATE_LIMIT: %q is not a positive number of requests per second", v)
		}
	}
	if v := e.raw("SENDGRID_WEBHOOK_PUBLIC_KEY"); v != "" {
		if cfg.WebhookKey, err = api.ParseWebhookKey(v); err != nil {
			return cfg, fmt.Errorf("SENDGRID_WEBHOOK_PUBLIC_KEY: %w", err)
		}
	}
	if cfg.LinkSecret != "" && len(cfg.LinkSecret) < links.MinKeyLength {
		return cfg, fmt.Errorf("COLLABFLOW_LINK_SECRET: at least %d characters", links.MinKeyLength)
	}
	for _, cidr := range strings.Split(e.raw("COLLABFLOW_TRUSTED_PROXIES"), ",") {
		if cidr = strings.TrimSpace(cidr); cidr == "" {
			continue
		}
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			return cfg, fmt.Errorf("COLLABFLOW_TRUSTED_PROXIES: %q is not a CIDR such as 10.0.0.0/8", cidr)
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, n)
	}
	if v := e.raw("COLLABFLOW_VERIFY_ALLOW_PRIVATE"); v != "" {
		cfg.VerifyPrivateSet = true
		if cfg.VerifyPrivate, err = strconv.ParseBool(v); err != nil {
			return cfg, fmt.Errorf("COLLABFLOW_VERIFY_ALLOW_PRIVATE: %q is not true or false", v)
		}
	}
	if cfg.PlatformHosts, err = verify.ParsePlatformHosts(e.raw("COLLABFLOW_PLATFORM_HOSTS")); err != nil {
		return cfg, fmt.Errorf("COLLABFLOW_PLATFORM_HOSTS: %w", err)
	}
	if v := e.get("COLLABFLOW_EMAIL_RATE"); v != "" {
		if cfg.EmailsPerSecond, err = strconv.ParseFloat(v, 64); err != nil || cfg.EmailsPerSecond <= 0 {
			return cfg, fmt.Errorf("COLLABFLOW_EMAIL_RATE: %q is not a positive number of emails per second", v)
		}
	}
	if v := e.get("COLLABFLOW_WORKFLOW_CACHE"); v != "" {
		if cfg.WorkflowCache, err = strconv.Atoi(v); err != nil || cfg.WorkflowCache < 1 {
			return cfg, fmt.Errorf("COLLABFLOW_WORKFLOW_CACHE: %q is not a positive number of workflows", v)
		}
	}
	for _, n := range []struct {
		name, what string
		to         *int
	}{
		{"COLLABFLOW_WORKER_ACTIVITIES", "activities", &cfg.WorkerActivities},
		{"COLLABFLOW_WORKER_WORKFLOW_TASKS", "workflow tasks", &cfg.WorkerWorkflowTasks},
		{"COLLABFLOW_WORKER_POLLERS", "pollers", &cfg.WorkerPollers},
	} {
		v := e.get(n.name)
		if *n.to, err = strconv.Atoi(v); err != nil || *n.to < 1 {
			return cfg, fmt.Errorf("%s: %q is not a positive whole number of %s", n.name, v, n.what)
		}
	}
	if v := e.get("COLLABFLOW_WORKER_STOP_TIMEOUT"); v != "" {
		if cfg.WorkerStopTimeout, err = time.ParseDuration(v); err != nil || cfg.WorkerStopTimeout < 0 || cfg.WorkerStopTimeout > time.Hour {
			return cfg, fmt.Errorf("COLLABFLOW_WORKER_STOP_TIMEOUT: %q is not a duration between 0s and 1h", v)
		}
	}
	if v := e.get("COLLABFLOW_NOTICE_RATE"); v != "" {
		if cfg.NoticesPerSecond, err = strconv.ParseFloat(v, 64); err != nil || cfg.NoticesPerSecond <= 0 {
			return cfg, fmt.Errorf("COLLABFLOW_NOTICE_RATE: %q is not a positive number of notices per second", v)
		}
	}
	if v := e.get("SENDGRID_WEBHOOK_TOLERANCE"); v != "" {
		if cfg.WebhookTolerance, err = time.ParseDuration(v); err != nil || cfg.WebhookTolerance < time.Minute || cfg.WebhookTolerance > 24*time.Hour {
			return cfg, fmt.Errorf("SENDGRID_WEBHOOK_TOLERANCE: %q is not a duration between 1m and 24h", v)
		}
	}
	if v := e.get("COLLABFLOW_PROVIDER_EVENT_WAIT"); v != "" {
		if cfg.ProviderEventWait, err = time.ParseDuration(v); err != nil || cfg.ProviderEventWait < time.Second {
			return cfg, fmt.Errorf("COLLABFLOW_PROVIDER_EVENT_WAIT: %q is not a duration of at least 1s", v)
		}
	}
	if u, err := url.Parse(cfg.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, fmt.Errorf("COLLABFLOW_PUBLIC_URL: %q is not an http(s) URL", cfg.PublicURL)
	}
	if v := e.raw("COLLABFLOW_CODEC_KEYS"); v != "" {
		if cfg.Codec, err = codec.Parse(v); err != nil {
			return cfg, fmt.Errorf("COLLABFLOW_CODEC_KEYS: %w", err)
		}
	}
	if v := e.raw("COLLABFLOW_CODEC_ACCEPT_PLAIN"); v != "" {
		if cfg.CodecAcceptPlain, err = strconv.ParseBool(v); err != nil {
			return cfg, fmt.Errorf("COLLABFLOW_CODEC_ACCEPT_PLAIN: %q is not true or false", v)
		}
	}
	// The Web UI of a local Temporal (temporal server start-dev) by default.
	for _, o := range strings.Split(e.get("COLLABFLOW_CODEC_CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if !validOrigin(o) {
			return cfg, fmt.Errorf("COLLABFLOW_CODEC_CORS_ORIGINS: %q is not an origin such as https://temporal.example.com", o)
		}
		cfg.CodecOrigins = append(cfg.CodecOrigins, o)
	}
	// 8233 is where `temporal server start-dev` serves its UI, next to frontend 7233, and
	// the origin COLLABFLOW_CODEC_CORS_ORIGINS allows by default.
	if v := e.get("COLLABFLOW_UI_ADDR"); !strings.EqualFold(v, "off") {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return cfg, fmt.Errorf("COLLABFLOW_UI_ADDR: %q is neither host:port nor off", v)
		}
		cfg.UIAddr = v
	}
	if v := e.raw("COLLABFLOW_UI_WRITE_ACTIONS"); v != "" {
		if cfg.UIWriteActions, err = strconv.ParseBool(v); err != nil {
			return cfg, fmt.Errorf("COLLABFLOW_UI_WRITE_ACTIONS: %q is not true or false", v)
		}
	}
	if v := e.get("COLLABFLOW_RETENTION"); v != "" {
		if cfg.Retention, err = time.ParseDuration(v); err != nil || cfg.Retention < 24*time.Hour {
			return cfg, fmt.Errorf("COLLABFLOW_RETENTION: %q is not a duration of at least 24h", v)
		}
	}
	return cfg, nil
}

// workerOptions are the worker's tuning from the settings.
func (c config) workerOptions() worker.Options {
	return worker.Options{
		EmailsPerSecond: c.EmailsPerSecond, NoticesPerSecond: c.NoticesPerSecond, WorkflowCache: c.WorkflowCache,
		MaxConcurrentActivities: c.WorkerActivities, MaxConcurrentWorkflowTasks: c.WorkerWorkflowTasks, MaxPollers: c.WorkerPollers,
		StopTimeout: c.WorkerStopTimeout,
	}
}

// logValue lists the effective settings with secrets masked, for the start-up log.
func (c config) logValue() []any {
	keys := make([]string, len(c.APIKeys))
	for i, k := range c.APIKeys {
		keys[i] = k.Name + ":" + k.Role + ":***"
	}
	return []any{
		"temporal_address", c.TemporalAddress, "temporal_namespace", c.TemporalNamespace,
		"temporal_security", c.temporalSecurity(), "temporal_api_key", mask(c.TemporalAPIKey),
		"database_url", maskURL(c.DatabaseURL), "addr", c.Addr, "api_keys", strings.Join(keys, ","),
		"data_dir", c.DataDir, "rate_limit", c.RateLimit, "retention", c.Retention,
		"sendgrid_base_url", c.SendGridBaseURL, "sendgrid_api_key", mask(c.SendGridAPIKey),
		"webhook_key_set", c.WebhookKey != nil, "inbound_secret", mask(c.InboundSecret),
		"reply_domain", c.ReplyDomain, "public_url", c.PublicURL, "postal_address", c.PostalAddress,
		"link_secret", mask(c.LinkSecret), "emails_per_second", c.EmailsPerSecond, "notices_per_second", c.NoticesPerSecond, "workflow_cache", c.WorkflowCache,
		"worker_activities", c.WorkerActivities, "worker_workflow_tasks", c.WorkerWorkflowTasks, "worker_pollers", c.WorkerPollers, "worker_stop_timeout", c.WorkerStopTimeout,
		"provider_event_wait", c.ProviderEventWait, "ops_email", c.OpsEmail, "verify_allow_private", c.VerifyPrivate, "metrics_addr", c.MetricsAddr,
		"platform_hosts", c.PlatformHosts.String(),
		"payload_encryption", c.Codec != nil, "codec_accept_plain", c.CodecAcceptPlain, "codec_addr", c.CodecAddr, "codec_cors_origins", strings.Join(c.CodecOrigins, ","),
		"ui_addr", or(c.UIAddr, "off"), "ui_write_actions", c.UIWriteActions,
	}
}

func mask(secret string) string {
	if secret == "" {
		return "(unset)"
	}
	return "***"
}

// allowPrivateFetches is whether post verification may fetch private and loopback
// addresses: what COLLABFLOW_VERIFY_ALLOW_PRIVATE says when it is given, else yes in dev
// (a test post on this machine must be verifiable) and no in production, where a creator's
// URL must not reach the internal network.
func (c config) allowPrivateFetches(dev bool) bool {
	if c.VerifyPrivateSet {
		return c.VerifyPrivate
	}
	return dev
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

// validOrigin is whether o is a browser origin as sent in the Origin header: scheme and
// host, no path, which is the only form that can ever match one.
func validOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil && o == u.Scheme+"://"+u.Host
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// checkProduction names the settings a role cannot run without outside `collabflow dev`,
// which provides its own.
func (c config) checkProduction(r role) error {
	var missing []string
	need := func(ok bool, name string) {
		if !ok {
			missing = append(missing, name)
		}
	}
	need(c.LinkSecret != "", "COLLABFLOW_LINK_SECRET")
	if r&roleAPI != 0 {
		need(len(c.APIKeys) > 0, "COLLABFLOW_API_KEYS")
		need(c.ReplyDomain != "", "INBOUND_REPLY_DOMAIN")
	}
	if r&roleWorker != 0 {
		need(c.SendGridAPIKey != "", "SENDGRID_API_KEY")
		need(c.PostalAddress != "", "COLLABFLOW_POSTAL_ADDRESS")
		need(c.ReplyDomain != "", "INBOUND_REPLY_DOMAIN")
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("missing settings: %s", strings.Join(slices.Compact(missing), ", "))
	}
	return c.checkPlaceholders(r)
}

// checkPlaceholders refuses the example secrets of deploy/ (change-me…) and any secret
// made of one word repeated, which pass the length checks but are public: an unedited
// `kubectl apply` must not run with a known API key or link-signing key.
func (c config) checkPlaceholders(r role) error {
	secrets := []struct{ name, value string }{
		{"COLLABFLOW_LINK_SECRET", c.LinkSecret},
		{"TEMPORAL_API_KEY", c.TemporalAPIKey},
	}
	if u, err := url.Parse(c.DatabaseURL); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			secrets = append(secrets, struct{ name, value string }{"DATABASE_URL (its password)", pw})
		}
	}
	if r&roleAPI != 0 {
		secrets = append(secrets, struct{ name, value string }{"SENDGRID_INBOUND_SECRET", c.InboundSecret})
		for _, k := range c.APIKeys {
			secrets = append(secrets, struct{ name, value string }{"COLLABFLOW_API_KEYS (key " + k.Name + ")", k.Secret})
		}
	}
	if r&roleWorker != 0 {
		secrets = append(secrets, struct{ name, value string }{"SENDGRID_API_KEY", c.SendGridAPIKey})
	}
	var bad []string
	for _, s := range secrets {
		if placeholder(s.value) {
			bad = append(bad, s.name)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("placeholder secrets (change-me, or one word repeated): %s; generate real ones, e.g. openssl rand -hex 32",
			strings.Join(bad, ", "))
	}
	return nil
}

// placeholder reports a secret that is an example rather than a secret: it says
// change-me, or it is one word repeated ("abcabc", "word-word-word"), which no generator
// produces. The empty string is not one: a missing setting is reported as missing.
func placeholder(secret string) bool {
	s := strings.ToLower(secret)
	if s == "" {
		return false
	}
	for _, p := range []string{"change-me", "changeme", "change_me", "change me"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	words := strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(words) > 1 && len(slices.Compact(slices.Clone(words))) == 1 {
		return true
	}
	for n := 1; n <= len(s)/2; n++ {
		if len(s)%n == 0 && strings.Repeat(s[:n], len(s)/n) == s {
			return true
		}
	}
	return false
}
