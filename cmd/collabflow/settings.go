package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/api"
	"github.com/collabflow/collabflow/mailer"
	"github.com/collabflow/collabflow/worker"
)

// setting is one environment variable collabflow reads. The table below is the one
// list: loadConfig reads settings only through it (env.get panics on a name it lacks),
// the deploy manifests are checked against it, and README's environment table is
// generated from it.
type setting struct {
	name string
	// def is the value used when the variable is unset or empty; "" when there is none or
	// the default is derived (doc says from what).
	def string
	// cmds are the subcommands that read the setting, space-separated.
	cmds string
	// required are the production subcommands that refuse to start without it.
	required string
	// secret settings go in a Secret, never a ConfigMap, and are masked in the start log.
	secret bool
	doc    string
}

// readBy reports whether subcommand cmd reads the setting.
func (s setting) readBy(cmd string) bool { return slices.Contains(strings.Fields(s.cmds), cmd) }

// requiredBy reports whether production subcommand cmd refuses to start without it.
func (s setting) requiredBy(cmd string) bool {
	return slices.Contains(strings.Fields(s.required), cmd)
}

// settings is every environment variable, in the order README lists them.
var settings = []setting{
	{name: "TEMPORAL_ADDRESS", def: "127.0.0.1:7233", cmds: "api worker audit dev", doc: "Temporal frontend; `dev` serves its embedded server here"},
	{name: "TEMPORAL_NAMESPACE", def: "default", cmds: "api worker audit dev", doc: "Temporal namespace"},
	{name: "TEMPORAL_TLS", cmds: "api worker audit", doc: "`true`: reach Temporal over TLS, verifying its certificate against the system's roots or `TEMPORAL_TLS_CA`; default `false`, or `true` when any setting below is set (an explicit `false` beside them is an error)"},
	{name: "TEMPORAL_TLS_CERT", cmds: "api worker audit", doc: "client certificate file (PEM) for mTLS, with `TEMPORAL_TLS_KEY`; checked at start (readable, matches the key, not expired); read once, so restart after rotating it"},
	{name: "TEMPORAL_TLS_KEY", cmds: "api worker audit", doc: "private key file (PEM) of `TEMPORAL_TLS_CERT`"},
	{name: "TEMPORAL_TLS_CA", cmds: "api worker audit", doc: "CA bundle file (PEM) that Temporal's server certificate must chain to, instead of the system's roots"},
	{name: "TEMPORAL_TLS_SERVER_NAME", cmds: "api worker audit", doc: "name to verify Temporal's server certificate against, when it is not the host of `TEMPORAL_ADDRESS`"},
	{name: "TEMPORAL_API_KEY", cmds: "api worker audit", secret: true, doc: "Temporal Cloud API key, sent as a bearer token on every call; implies TLS"},
	{name: "DATABASE_URL", cmds: "api worker migrate audit", required: "api worker migrate audit", secret: true,
		doc: "PostgreSQL URL, e.g. `postgres://user:pass@host:5432/collabflow`; `?pool_max_conns=N` sizes the connection pool (default 20, opened as needed); dev: local cluster"},
	{name: "COLLABFLOW_ADDR", def: "127.0.0.1:8080", cmds: "api dev", doc: "API listen address"},
	{name: "COLLABFLOW_API_KEYS", cmds: "api codec-server dev", required: "api codec-server", secret: true,
		doc: "`name:role:secret,…`; roles `ops`, `reviewer`, `finance`, `auditor`; secrets ≥ 16 characters; dev: generated"},
	{name: "COLLABFLOW_DATA_DIR", def: ".data", cmds: "dev", doc: "where `dev` keeps Temporal's SQLite file, the PostgreSQL cluster and the API key"},
	{name: "COLLABFLOW_LOG_LEVEL", def: "info", cmds: "api worker migrate audit codec-server dev", doc: "`debug`, `info`, `warn`, `error`"},
	{name: "COLLABFLOW_LOG_FORMAT", def: "text", cmds: "api worker migrate audit codec-server dev", doc: "`text` or `json`"},
	{name: "COLLABFLOW_RATE_LIMIT", def: "50", cmds: "api codec-server dev", doc: "API requests per second per key (ten times that per client IP); the codec endpoint has the same limits"},
	{name: "COLLABFLOW_RETENTION", def: "8760h", cmds: "dev", doc: "how long the embedded server keeps closed workflows' histories (≥ 24h)"},
	{name: "SENDGRID_API_KEY", cmds: "worker dev", required: "worker", secret: true, doc: "SendGrid API key; required by `worker`; dev: local sink"},
	{name: "SENDGRID_BASE_URL", def: mailer.DefaultBaseURL, cmds: "worker dev", doc: "SendGrid API base URL"},
	{name: "SENDGRID_WEBHOOK_PUBLIC_KEY", cmds: "api dev", doc: "Event Webhook verification key, base64 as SendGrid shows it; checked at start; unset: events refused"},
	{name: "SENDGRID_WEBHOOK_TOLERANCE", def: api.DefaultWebhookTolerance.String(), cmds: "api dev", doc: "how far an Event Webhook batch's signed timestamp may be from now, either way, before it is refused as a replay (1m–24h)"},
	{name: "SENDGRID_INBOUND_SECRET", cmds: "api dev", secret: true, doc: "Inbound Parse basic-auth password (`https://user:secret@host/webhooks/sendgrid/inbound`); dev: generated"},
	{name: "INBOUND_REPLY_DOMAIN", cmds: "api worker dev", required: "api worker", doc: "domain of reply addresses, routed to Inbound Parse; required by `api` and `worker`; dev: `inbound.collabflow.localhost`"},
	{name: "COLLABFLOW_POSTAL_ADDRESS", cmds: "worker dev", required: "worker", doc: "the sender's postal address in every email; required by `worker`; dev: a placeholder"},
	{name: "COLLABFLOW_PUBLIC_URL", cmds: "api worker dev", doc: "base of links in emails; default `http://` + `COLLABFLOW_ADDR`"},
	{name: "COLLABFLOW_LINK_SECRET", cmds: "api worker dev", required: "api worker", secret: true,
		doc: "HMAC key (≥ 32 characters) for the links in emails (unsubscribe, contract, content portal); the same on every `api` and `worker`; required; dev: generated"},
	{name: "COLLABFLOW_EMAIL_RATE", def: "10", cmds: "api worker dev", doc: "emails per second across all workers"},
	{name: "COLLABFLOW_NOTICE_RATE", def: "10", cmds: "worker dev", doc: "transactional notices (contract, brief, reminders, ops) per second across all workers, apart from outreach"},
	{name: "COLLABFLOW_WORKFLOW_CACHE", def: strconv.Itoa(worker.DefaultWorkflowCache), cmds: "worker dev", doc: "workflows a worker process keeps in memory between their tasks (the SDK's sticky cache); the others replay their history when they wake. Each open collaboration held costs about 0.2 MiB"},
	{name: "COLLABFLOW_WORKER_ACTIVITIES", def: strconv.Itoa(worker.DefaultMaxConcurrentActivities), cmds: "worker dev", doc: "activities each of a worker process's three workers (main, email, notice queue) runs at once (the SDK's default); lower it to bound memory and the database connections a process asks for"},
	{name: "COLLABFLOW_WORKER_WORKFLOW_TASKS", def: strconv.Itoa(worker.DefaultMaxConcurrentWorkflowTasks), cmds: "worker dev", doc: "workflow tasks a worker process runs at once (the SDK's default)"},
	{name: "COLLABFLOW_WORKER_POLLERS", def: strconv.Itoa(worker.DefaultMaxPollers), cmds: "worker dev", doc: "ceiling of the autoscaling pollers a worker process keeps open per queue (workflow tasks on the main queue, activities on the email and notice queues; the SDK's default); each is a long poll on the frontend"},
	{name: "COLLABFLOW_WORKER_STOP_TIMEOUT", def: "5m", cmds: "worker",
		doc: "how long a stopping worker (SIGTERM) lets running activities finish before cancelling them (0s to 1h); keep a pod's terminationGracePeriodSeconds above it. dev stops at once"},
	{name: "COLLABFLOW_PROVIDER_EVENT_WAIT", def: activities.DefaultProviderEventWait.String(), cmds: "worker dev",
		doc: "how long a send retry waits for SendGrid's events about an attempt whose answer was lost before it sends again (at least `1s`)"},
	{name: "COLLABFLOW_OPS_EMAIL", cmds: "worker dev", doc: "where overdue drafts, overdue reviews and escalations are emailed"},
	{name: "COLLABFLOW_TRUSTED_PROXIES", cmds: "api codec-server dev", doc: "CIDRs of reverse proxies whose `X-Forwarded-For` is believed; otherwise the connection's address is the client's (rate limits, signature IPs)"},
	{name: "COLLABFLOW_METRICS_ADDR", cmds: "api worker dev", doc: "where to serve Prometheus metrics and the probes, e.g. `127.0.0.1:9464`: `/metrics` (HTTP requests, the Temporal SDK's `temporal_*`, business counters, Go runtime; see Observability), `/healthz` (liveness) and `/readyz` (PostgreSQL, migrations, Temporal); unset serves none"},
	{name: "OTEL_EXPORTER_OTLP_ENDPOINT", cmds: "api worker dev", doc: "OTLP/gRPC endpoint traces are sent to, e.g. `http://otel-collector:4317` (`http://` sends without TLS); API requests, workflow updates and activities share one trace; unset traces nothing"},
	{name: "OTEL_SERVICE_NAME", def: "collabflow", cmds: "api worker dev", doc: "`service.name` of the traces this process sends"},
	{name: "COLLABFLOW_VERIFY_ALLOW_PRIVATE", cmds: "worker dev", doc: "let post verification fetch private and loopback addresses; a production worker logs a warning at start when it is true; default `false` (dev: `true`)"},
	{name: "COLLABFLOW_PLATFORM_HOSTS", cmds: "worker dev", doc: "replace a platform's post domains for `platform_account`: `platform=domain[,domain…][;platform=…]`, e.g. `instagram=127.0.0.1:18299` for a test post host; a domain also matches its subdomains, and any port unless it names one; checked at start; unset: the built-in list"},
	{name: "COLLABFLOW_SENDGRID_SINK_ADDR", def: "127.0.0.1:8025", cmds: "dev", doc: "where `dev` serves the SendGrid sink"},
	{name: "COLLABFLOW_CODEC_KEYS", cmds: "api worker audit codec-server dev", required: "codec-server", secret: true,
		doc: "payload encryption in Temporal: `id:base64key[,id:base64key…]`, 32-byte AES-256-GCM keys; the first encrypts, all decrypt (rotate by putting a new key first). Set the same keys on the API, the worker and the audit command; unset stores payloads in clear; dev: a key saved in `.data/codec-keys`"},
	{name: "COLLABFLOW_CODEC_ACCEPT_PLAIN", def: "false", cmds: "api worker audit dev",
		doc: "with `COLLABFLOW_CODEC_KEYS` set, accept payloads that are not encrypted: only to run histories written before encryption was turned on. Off, a plain payload was written around the API (a signal or update sent straight to Temporal with any actor): a plain signal is refused and recorded in the collaboration (`input_refused`, ops emailed), a plain update rejected, both logged. Turning it on while histories hold such a refusal makes them fail to replay"},
	{name: "COLLABFLOW_CODEC_ADDR", def: "127.0.0.1:8081", cmds: "codec-server", doc: "where `codec-server` listens (`dev` serves the codec endpoint at `/codec` on the API's address instead)"},
	{name: "COLLABFLOW_CODEC_CORS_ORIGINS", def: "http://127.0.0.1:8233,http://localhost:8233", cmds: "codec-server dev",
		doc: "browser origins (the Temporal Web UI's, `scheme://host[:port]`) allowed to call the codec endpoint"},
	{name: "COLLABFLOW_UI_ADDR", def: "127.0.0.1:8233", cmds: "dev", doc: "where `dev` serves Temporal's Web UI; `off` or empty runs without it"},
	{name: "COLLABFLOW_UI_WRITE_ACTIONS", def: "false", cmds: "dev",
		doc: "let dev's Web UI signal, update, cancel, terminate and reset workflows; off it only shows them (a page that rebinds a name of its own to the UI's address could otherwise act on every workflow)"},
}

// lookupSetting returns the table's entry for name.
func lookupSetting(name string) (setting, bool) {
	i := slices.IndexFunc(settings, func(s setting) bool { return s.name == name })
	if i < 0 {
		return setting{}, false
	}
	return settings[i], true
}

// env reads settings from the environment through the table.
type env struct {
	getenv func(string) string
}

// raw is the variable's value as set, "" when unset. Reading a name the table lacks is a
// programming error, caught by any test that loads the configuration.
func (e env) raw(name string) string {
	if _, ok := lookupSetting(name); !ok {
		panic(fmt.Sprintf("setting %s is not in the settings table", name))
	}
	return e.getenv(name)
}

// get is the variable's value, or the table's default when it is unset or empty.
func (e env) get(name string) string {
	if v := e.raw(name); v != "" {
		return v
	}
	s, _ := lookupSetting(name)
	return s.def
}

// settingsMarkdown is README's environment table.
func settingsMarkdown() string {
	var b strings.Builder
	b.WriteString("| Variable | Default | Read by | Required by | Meaning |\n|---|---|---|---|---|\n")
	for _, s := range settings {
		def := "—"
		if s.def != "" {
			def = "`" + s.def + "`"
		}
		req := s.required
		if req == "" {
			req = "—"
		}
		doc := s.doc
		if s.secret {
			doc += " (secret)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", s.name, def, s.cmds, req, strings.ReplaceAll(doc, "|", "\\|"))
	}
	return b.String()
}
