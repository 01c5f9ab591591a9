package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/collabflow/collabflow/verify"
	"github.com/collabflow/collabflow/worker"
)

func TestLoadConfig(t *testing.T) {
	defaults, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if defaults.TemporalAddress != "127.0.0.1:7233" || defaults.Addr != "127.0.0.1:8080" || defaults.TemporalNamespace != "default" ||
		defaults.DataDir != ".data" || defaults.Retention != 365*24*time.Hour || len(defaults.APIKeys) != 0 ||
		defaults.ProviderEventWait != 2*time.Minute || defaults.NoticesPerSecond != 10 || defaults.WebhookTolerance != 10*time.Minute ||
		defaults.CodecAddr != "127.0.0.1:8081" || strings.Join(defaults.CodecOrigins, ",") != "http://127.0.0.1:8233,http://localhost:8233" ||
		defaults.PlatformHosts.String() != verify.DefaultPlatformHosts().String() || defaults.UIAddr != "127.0.0.1:8233" {
		t.Fatalf("defaults %+v", defaults)
	}

	bad := []struct{ name, value, want string }{
		{"COLLABFLOW_API_KEYS", "a:root:0123456789abcdef", "COLLABFLOW_API_KEYS"},
		{"COLLABFLOW_LOG_LEVEL", "chatty", "COLLABFLOW_LOG_LEVEL"},
		{"COLLABFLOW_LOG_FORMAT", "xml", "COLLABFLOW_LOG_FORMAT"},
		{"COLLABFLOW_RATE_LIMIT", "-3", "COLLABFLOW_RATE_LIMIT"},
		{"COLLABFLOW_RETENTION", "1h", "COLLABFLOW_RETENTION"},
		{"COLLABFLOW_TRUSTED_PROXIES", "10.0.0.1", "COLLABFLOW_TRUSTED_PROXIES"},
		{"COLLABFLOW_VERIFY_ALLOW_PRIVATE", "maybe", "COLLABFLOW_VERIFY_ALLOW_PRIVATE"},
		{"COLLABFLOW_PLATFORM_HOSTS", "myspace=myspace.com", "COLLABFLOW_PLATFORM_HOSTS"},
		{"COLLABFLOW_PLATFORM_HOSTS", "instagram=https://instagram.com/", "COLLABFLOW_PLATFORM_HOSTS"},
		{"COLLABFLOW_PLATFORM_HOSTS", "instagram=", "COLLABFLOW_PLATFORM_HOSTS"},
		{"COLLABFLOW_EMAIL_RATE", "0", "COLLABFLOW_EMAIL_RATE"},
		{"COLLABFLOW_NOTICE_RATE", "-1", "COLLABFLOW_NOTICE_RATE"},
		{"COLLABFLOW_NOTICE_RATE", "fast", "COLLABFLOW_NOTICE_RATE"},
		{"COLLABFLOW_PROVIDER_EVENT_WAIT", "10ms", "COLLABFLOW_PROVIDER_EVENT_WAIT"},
		{"SENDGRID_WEBHOOK_TOLERANCE", "5s", "SENDGRID_WEBHOOK_TOLERANCE"},
		{"SENDGRID_WEBHOOK_TOLERANCE", "forever", "SENDGRID_WEBHOOK_TOLERANCE"},
		{"COLLABFLOW_LINK_SECRET", "short", "COLLABFLOW_LINK_SECRET"},
		{"COLLABFLOW_PUBLIC_URL", "ftp://x", "COLLABFLOW_PUBLIC_URL"},
		{"SENDGRID_WEBHOOK_PUBLIC_KEY", "bm90IGEga2V5", "SENDGRID_WEBHOOK_PUBLIC_KEY"},
		{"COLLABFLOW_CODEC_KEYS", "k1:c2hvcnQ=", "COLLABFLOW_CODEC_KEYS"},
		{"COLLABFLOW_CODEC_CORS_ORIGINS", "temporal.example.com", "COLLABFLOW_CODEC_CORS_ORIGINS"},
		{"COLLABFLOW_CODEC_CORS_ORIGINS", "https://temporal.example.com/ui", "COLLABFLOW_CODEC_CORS_ORIGINS"},
		{"COLLABFLOW_UI_ADDR", "8233", "COLLABFLOW_UI_ADDR"},
		{"COLLABFLOW_UI_ADDR", "no", "COLLABFLOW_UI_ADDR"},
	}
	for _, tt := range bad {
		_, err := loadConfig(func(k string) string {
			if k == tt.name {
				return tt.value
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s=%s: %v", tt.name, tt.value, err)
		}
	}
}

// TestUIAddrOff: COLLABFLOW_UI_ADDR set to off, in any case, or to the empty string runs
// dev without the Web UI; unset, it is on 8233.
func TestUIAddrOff(t *testing.T) {
	for _, tc := range []struct {
		set         bool
		value, want string
	}{
		{false, "", "127.0.0.1:8233"},
		{true, "", ""},
		{true, "off", ""},
		{true, "OFF", ""},
		{true, "0.0.0.0:9233", "0.0.0.0:9233"},
	} {
		t.Run(fmt.Sprintf("%v %q", tc.set, tc.value), func(t *testing.T) {
			if tc.set {
				t.Setenv("COLLABFLOW_UI_ADDR", tc.value)
			} else {
				// t.Setenv restores the variable afterwards; Unsetenv then removes it.
				t.Setenv("COLLABFLOW_UI_ADDR", "")
				if err := os.Unsetenv("COLLABFLOW_UI_ADDR"); err != nil {
					t.Fatal(err)
				}
			}
			// Only this variable from the process's environment: the others stay defaults.
			cfg, err := loadConfig(func(k string) string {
				if k == "COLLABFLOW_UI_ADDR" {
					return getenv(k)
				}
				return ""
			})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.UIAddr != tc.want {
				t.Fatalf("UIAddr %q, want %q", cfg.UIAddr, tc.want)
			}
		})
	}
}

// TestPlatformHostsReplaceOnePlatform: a platform named in COLLABFLOW_PLATFORM_HOSTS gets
// exactly the domains given (a test's or dev's post host); the others keep the defaults.
func TestPlatformHostsReplaceOnePlatform(t *testing.T) {
	cfg, err := loadConfig(func(k string) string {
		if k == "COLLABFLOW_PLATFORM_HOSTS" {
			return "instagram=127.0.0.1:18299;x=X.com"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.PlatformHosts; fmt.Sprint(got["instagram"]) != "[127.0.0.1:18299]" || fmt.Sprint(got["x"]) != "[x.com]" ||
		fmt.Sprint(got["tiktok"]) != "[tiktok.com]" {
		t.Fatalf("platform hosts %v", got)
	}
}

func TestLogValueMasksSecrets(t *testing.T) {
	cfg, err := loadConfig(func(k string) string {
		return map[string]string{
			"COLLABFLOW_API_KEYS": "ops:ops:supersecretvalue123",
			"DATABASE_URL":        "postgres://app:hunter2hunter2@db:5432/collabflow",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, v := range cfg.logValue() {
		parts = append(parts, fmt.Sprint(v))
	}
	joined := strings.Join(parts, " ")
	if strings.Contains(joined, "supersecretvalue123") || strings.Contains(joined, "hunter2") {
		t.Fatalf("secret in log values: %s", joined)
	}
	if !strings.Contains(joined, "postgres://app:***@db:5432/collabflow") || !strings.Contains(joined, "ops:ops:***") {
		t.Fatalf("log values lost their shape: %s", joined)
	}
}

func TestRunRefusesIncompleteProductionConfig(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "no command"},
		{[]string{"serve"}, nil, "unknown command"},
		{[]string{"api"}, nil, "DATABASE_URL"},
		{[]string{"worker"}, nil, "DATABASE_URL"},
		{[]string{"migrate"}, nil, "DATABASE_URL"},
		{[]string{"api"}, map[string]string{"DATABASE_URL": "postgres://x@127.0.0.1:1/x"}, "COLLABFLOW_API_KEYS"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run %v: %v, want %q", tt.args, err, tt.want)
		}
	}
}

// TestVerifyPrivateDefaults (M6): post verification refuses private addresses in
// production unless COLLABFLOW_VERIFY_ALLOW_PRIVATE=true is given; dev allows them unless
// told otherwise.
func TestVerifyPrivateDefaults(t *testing.T) {
	for _, tc := range []struct {
		env       string
		prod, dev bool
	}{
		{"", false, true},
		{"true", true, true},
		{"false", false, false},
		{"1", true, true},
		{"0", false, false},
	} {
		cfg, err := loadConfig(func(k string) string {
			if k == "COLLABFLOW_VERIFY_ALLOW_PRIVATE" {
				return tc.env
			}
			return ""
		})
		if err != nil {
			t.Fatal(err)
		}
		if tc.env == "" && cfg.VerifyPrivate {
			t.Errorf("unset: loaded as allowed")
		}
		if got := cfg.allowPrivateFetches(false); got != tc.prod {
			t.Errorf("%q in production: %v, want %v", tc.env, got, tc.prod)
		}
		if got := cfg.allowPrivateFetches(true); got != tc.dev {
			t.Errorf("%q in dev: %v, want %v", tc.env, got, tc.dev)
		}
	}
}

// TestProductionWarnsOfPrivateFetches: a production worker allowed to fetch private
// addresses says so at warn level when it starts; the API, which fetches nothing, and a
// worker without the setting do not.
func TestProductionWarnsOfPrivateFetches(t *testing.T) {
	for _, tc := range []struct {
		name    string
		private bool
		r       role
		want    bool
	}{
		{"worker allowed", true, roleWorker, true},
		{"api and worker allowed", true, roleAPI | roleWorker, true},
		{"worker refusing", false, roleWorker, false},
		{"api allowed", true, roleAPI, false},
	} {
		var logs strings.Builder
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		warnProduction(logger, config{VerifyPrivate: tc.private, InboundSecret: "x"}, tc.r)
		line := ""
		for l := range strings.Lines(logs.String()) {
			if strings.Contains(l, "post verification may fetch private addresses") {
				line = l
			}
		}
		if (line != "") != tc.want || (line != "" && !strings.Contains(line, "level=WARN")) {
			t.Errorf("%s: log %q", tc.name, logs.String())
		}
	}
}

// TestWorkerTuning: the worker's concurrency settings reach worker.Options, unset ones
// are the worker package's defaults, and anything but a positive whole number is refused
// with the setting's name.
func TestWorkerTuning(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    worker.Options
		wantErr string
	}{
		{name: "defaults", want: worker.Options{MaxConcurrentActivities: worker.DefaultMaxConcurrentActivities,
			MaxConcurrentWorkflowTasks: worker.DefaultMaxConcurrentWorkflowTasks, MaxPollers: worker.DefaultMaxPollers, StopTimeout: 5 * time.Minute}},
		{name: "set", env: map[string]string{"COLLABFLOW_WORKER_ACTIVITIES": "64", "COLLABFLOW_WORKER_WORKFLOW_TASKS": "32", "COLLABFLOW_WORKER_POLLERS": "4",
			"COLLABFLOW_WORKER_STOP_TIMEOUT": "90s"},
			want: worker.Options{MaxConcurrentActivities: 64, MaxConcurrentWorkflowTasks: 32, MaxPollers: 4, StopTimeout: 90 * time.Second}},
		{name: "stop at once", env: map[string]string{"COLLABFLOW_WORKER_STOP_TIMEOUT": "0s"},
			want: worker.Options{MaxConcurrentActivities: worker.DefaultMaxConcurrentActivities,
				MaxConcurrentWorkflowTasks: worker.DefaultMaxConcurrentWorkflowTasks, MaxPollers: worker.DefaultMaxPollers}},
		{name: "stop timeout too long", env: map[string]string{"COLLABFLOW_WORKER_STOP_TIMEOUT": "2h"},
			wantErr: `COLLABFLOW_WORKER_STOP_TIMEOUT: "2h" is not a duration between 0s and 1h`},
		{name: "stop timeout negative", env: map[string]string{"COLLABFLOW_WORKER_STOP_TIMEOUT": "-1s"},
			wantErr: `COLLABFLOW_WORKER_STOP_TIMEOUT: "-1s" is not a duration between 0s and 1h`},
		{name: "zero activities", env: map[string]string{"COLLABFLOW_WORKER_ACTIVITIES": "0"},
			wantErr: `COLLABFLOW_WORKER_ACTIVITIES: "0" is not a positive whole number of activities`},
		{name: "negative workflow tasks", env: map[string]string{"COLLABFLOW_WORKER_WORKFLOW_TASKS": "-5"},
			wantErr: `COLLABFLOW_WORKER_WORKFLOW_TASKS: "-5" is not a positive whole number of workflow tasks`},
		{name: "fractional pollers", env: map[string]string{"COLLABFLOW_WORKER_POLLERS": "2.5"},
			wantErr: `COLLABFLOW_WORKER_POLLERS: "2.5" is not a positive whole number of pollers`},
		{name: "words", env: map[string]string{"COLLABFLOW_WORKER_ACTIVITIES": "many"},
			wantErr: `COLLABFLOW_WORKER_ACTIVITIES: "many" is not a positive whole number of activities`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.workerOptions()
			if got.MaxConcurrentActivities != tc.want.MaxConcurrentActivities || got.MaxConcurrentWorkflowTasks != tc.want.MaxConcurrentWorkflowTasks ||
				got.MaxPollers != tc.want.MaxPollers || got.StopTimeout != tc.want.StopTimeout {
				t.Fatalf("worker options %+v, want %+v", got, tc.want)
			}
			if got.EmailsPerSecond != cfg.EmailsPerSecond || got.NoticesPerSecond != cfg.NoticesPerSecond || got.WorkflowCache != cfg.WorkflowCache {
				t.Fatalf("worker options %+v lost the rates or the cache of %+v", got, cfg)
			}
		})
	}
}

// TestRefusesPlaceholderSecrets (issue 18 item 12): the example secrets of deploy/ and any
// secret made of one word repeated are refused at start, naming the setting, although
// they are long enough; generated secrets pass.
func TestRefusesPlaceholderSecrets(t *testing.T) {
	good := map[string]string{
		"DATABASE_URL":              "postgres://collabflow:Qx7vN2pL9rT4@db:5432/collabflow",
		"COLLABFLOW_LINK_SECRET":    "b7Q2mX9pL4vR8nT1kW6zY3cF5hJ0dG2s",
		"COLLABFLOW_API_KEYS":       "ops:ops:Zk3pQ8vLr2Nw7Xb5Tq9M",
		"SENDGRID_INBOUND_SECRET":   "h4Jk9Lm2Pq7Rs1Tv",
		"SENDGRID_API_KEY":          "SG.k2Jd9Qw.Xp4Lm7Nz",
		"INBOUND_REPLY_DOMAIN":      "reply.example.com",
		"COLLABFLOW_POSTAL_ADDRESS": "1 Main Street",
	}
	for _, tc := range []struct {
		setting, value string
		r              role
		want           string // "" accepted
	}{
		{"", "", roleAPI | roleWorker, ""},
		{"COLLABFLOW_LINK_SECRET", "change-me-change-me-change-me-change-me", roleWorker, "COLLABFLOW_LINK_SECRET"},
		{"COLLABFLOW_LINK_SECRET", "change-me-to-at-least-32-characters", roleAPI, "COLLABFLOW_LINK_SECRET"},
		{"COLLABFLOW_LINK_SECRET", "secretsecretsecretsecretsecretsecret", roleAPI, "COLLABFLOW_LINK_SECRET"},
		{"COLLABFLOW_LINK_SECRET", "0123456789abcdef0123456789abcdef", roleAPI, "COLLABFLOW_LINK_SECRET"},
		{"COLLABFLOW_LINK_SECRET", strings.Repeat("a", 40), roleAPI, "COLLABFLOW_LINK_SECRET"},
		{"COLLABFLOW_API_KEYS", "ops:ops:change-me-change-me", roleAPI, "COLLABFLOW_API_KEYS (key ops)"},
		{"COLLABFLOW_API_KEYS", "ops:ops:Zk3pQ8vLr2Nw7Xb5Tq9M,fin:finance:CHANGEME-16-chars-or-more", roleAPI, "COLLABFLOW_API_KEYS (key fin)"},
		{"COLLABFLOW_API_KEYS", "ops:ops:password_password_password", roleAPI, "COLLABFLOW_API_KEYS (key ops)"},
		{"SENDGRID_INBOUND_SECRET", "change-me", roleAPI, "SENDGRID_INBOUND_SECRET"},
		{"SENDGRID_API_KEY", "SG.change-me", roleWorker, "SENDGRID_API_KEY"},
		{"DATABASE_URL", "postgres://collabflow:change-me@postgres.example.internal:5432/collabflow", roleWorker, "DATABASE_URL (its password)"},
		// Read by the other role only: not this process's concern.
		{"SENDGRID_API_KEY", "SG.change-me", roleAPI, ""},
	} {
		t.Run(tc.setting+" "+tc.value, func(t *testing.T) {
			env := maps.Clone(good)
			if tc.setting != "" {
				env[tc.setting] = tc.value
			}
			cfg, err := loadConfig(func(k string) string { return env[k] })
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.checkProduction(tc.r)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want a refusal naming %s", err, tc.want)
			}
		})
	}
}
