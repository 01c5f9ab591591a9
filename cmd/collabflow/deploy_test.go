package main

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsyaml "sigs.k8s.io/yaml"
)

// The deploy manifests are checked against the code they deploy: the settings table (which
// variables exist, who reads them, who requires them, which are secret) and the
// subcommands. Kubernetes documents are decoded strictly into the Kubernetes API's own Go
// types (k8s.io/api), so an unknown or misspelt field fails as the API server would refuse
// it: that is the schema check, without kubeconform's downloaded schemas.

const deployDir = "../../deploy"

// TestDeployManifests checks deploy/compose.yaml and deploy/kubernetes/*.yaml.
func TestDeployManifests(t *testing.T) {
	compose, err := os.ReadFile(filepath.Join(deployDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	k8s := map[string][]byte{}
	paths, err := filepath.Glob(filepath.Join(deployDir, "kubernetes", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no Kubernetes manifests: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		k8s[filepath.Base(p)] = b
	}
	readFile := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(deployDir, name)) }
	for _, p := range checkDeploy(compose, readFile, k8s) {
		t.Error(p)
	}
}

// TestShippedPlaceholdersRefused (issue 18 item 12): applied unedited, deploy/'s example
// secrets stop api and worker at start, naming each setting still holding one.
func TestShippedPlaceholdersRefused(t *testing.T) {
	files := map[string][]byte{}
	for _, f := range []string{"secret.yaml", "config.yaml"} {
		b, err := os.ReadFile(filepath.Join(deployDir, "kubernetes", f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = b
	}
	objs, problems := decodeKubernetes(files)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	k8s := map[string]string{}
	for _, cm := range objs.configMaps {
		maps.Copy(k8s, cm.Data)
	}
	for _, sec := range objs.secrets {
		maps.Copy(k8s, secretData(sec))
	}
	example, err := os.ReadFile(filepath.Join(deployDir, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	compose := map[string]string{}
	for line := range strings.Lines(string(example)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
			compose[k] = v
		}
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		r    role
		want []string
	}{
		{"kubernetes api", k8s, roleAPI, []string{"COLLABFLOW_LINK_SECRET", "COLLABFLOW_API_KEYS (key ops)", "SENDGRID_INBOUND_SECRET", "DATABASE_URL"}},
		{"kubernetes worker", k8s, roleWorker, []string{"COLLABFLOW_LINK_SECRET", "SENDGRID_API_KEY", "DATABASE_URL"}},
		{".env.example", compose, roleAPI | roleWorker, []string{"COLLABFLOW_LINK_SECRET", "COLLABFLOW_API_KEYS (key ops)", "SENDGRID_INBOUND_SECRET", "SENDGRID_API_KEY"}},
	} {
		cfg, err := loadConfig(func(k string) string { return tc.env[k] })
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		err = cfg.checkProduction(tc.r)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v, want %s named", tc.name, err, w)
			}
		}
	}
}

// TestDeployManifestsCatchMistakes: each check fails a manifest that breaks it.
func TestDeployManifestsCatchMistakes(t *testing.T) {
	files := func() map[string][]byte {
		return map[string][]byte{"k.yaml": []byte(goodKubernetes), "kustomization.yaml": []byte(goodKustomization)}
	}
	noFiles := func(string) ([]byte, error) { return nil, os.ErrNotExist }
	if p := checkDeploy([]byte(goodCompose), noFiles, files()); len(p) > 0 {
		t.Fatalf("the good manifests fail:\n%s", strings.Join(p, "\n"))
	}
	cases := []struct {
		name       string
		compose    bool // the change is to the compose file, else to the Kubernetes one
		old, new   string
		wantSubstr string
	}{
		{"k8s unknown field", false, "  maxReplicas: 4\n", "  maxReplica: 4\n", `unknown field "maxReplica"`},
		{"k8s replicas beside an HPA", false, "spec:\n  selector:\n    matchLabels: {app: worker}\n", "spec:\n  replicas: 2\n  selector:\n    matchLabels: {app: worker}\n", "Deployment worker: sets replicas"},
		{"k8s no migrate init container", false, "        - name: migrate\n          image: collabflow:0.1.0\n          args: [\"migrate\"]", "        - name: migrate\n          image: collabflow:0.1.0\n          args: [\"version\"]", "no init container runs collabflow migrate"},
		{"k8s named migrate Job", false, "---\napiVersion: v1\nkind: Service\n", "---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\nspec:\n  template:\n    spec:\n      restartPolicy: OnFailure\n      containers:\n        - {name: m, image: postgres:16.6}\n---\napiVersion: v1\nkind: Service\n", "Job migrate: a named Job"},
		{"k8s Ingress misses /u", false, "          - path: /u\n", "          - path: /users\n", "no Ingress routes /u"},
		{"k8s Ingress to another Service", false, "service: {name: api, port: {name: http}}\n          - path: /portal", "service: {name: apis, port: {name: http}}\n          - path: /portal", "no Ingress routes /webhooks"},
		{"k8s Ingress without TLS", false, "  tls:\n    - hosts: [cf.example.com]\n      secretName: cf-tls\n", "", "no TLS section"},
		{"k8s unknown kind", false, "kind: Service\n", "kind: Servise\n", "kind Servise"},
		{"k8s latest image", false, "image: postgres:16.6", "image: postgres:latest", "postgres:latest"},
		{"k8s untagged image", false, "image: postgres:16.6", "image: postgres", "pinned"},
		{"k8s other collabflow tag", false, "image: collabflow:0.1.0\n          args: [\"worker\"]", "image: collabflow:0.2.0\n          args: [\"worker\"]", "collabflow:0.2.0"},
		{"k8s unknown subcommand", false, `args: ["worker"]`, `args: ["wrker"]`, `"wrker"`},
		{"k8s worker grace below its stop timeout", false, "terminationGracePeriodSeconds: 330\n", "terminationGracePeriodSeconds: 60\n", "terminationGracePeriodSeconds 60 is not above COLLABFLOW_WORKER_STOP_TIMEOUT 5m"},
		{"k8s command replaces entrypoint", false, `args: ["worker"]`, `command: ["worker"]`, "entrypoint"},
		{"k8s not a setting", false, "  COLLABFLOW_EMAIL_RATE: \"10\"\n", "  COLLABFLOW_EMAIL_RAET: \"10\"\n", "COLLABFLOW_EMAIL_RAET is not in the settings table"},
		{"k8s not read by the subcommand", false, "  COLLABFLOW_EMAIL_RATE: \"10\"\n", "  COLLABFLOW_EMAIL_RATE: \"10\"\n  COLLABFLOW_ADDR: \":8080\"\n", "COLLABFLOW_ADDR is not read by worker"},
		{"k8s required missing", false, "  SENDGRID_API_KEY: SG.x\n", "", "SENDGRID_API_KEY"},
		{"k8s secret in ConfigMap", false, "  COLLABFLOW_EMAIL_RATE: \"10\"\n", "  COLLABFLOW_EMAIL_RATE: \"10\"\n  SENDGRID_API_KEY: SG.x\n", "secret SENDGRID_API_KEY"},
		{"k8s secret as a value", false, "          env:\n", "          env:\n            - {name: COLLABFLOW_CODEC_KEYS, value: \"k1:abc\"}\n", "secret COLLABFLOW_CODEC_KEYS"},
		{"k8s missing ConfigMap", false, "configMapRef: {name: worker}", "configMapRef: {name: wroker}", "ConfigMap wroker"},
		{"k8s metrics port", false, "containerPort: 9464", "containerPort: 9465", "9464"},
		{"k8s probe port", false, "httpGet: {path: /readyz, port: metrics}", "httpGet: {path: /readyz, port: 8080}", "port 8080"},
		{"k8s liveness path", false, "httpGet: {path: /healthz, port: metrics}", "httpGet: {path: /health, port: metrics}", "/health"},
		{"k8s readiness path", false, "httpGet: {path: /readyz, port: metrics}", "httpGet: {path: /healthz, port: metrics}", "readiness"},
		{"k8s no probe", false, "          livenessProbe:\n            httpGet: {path: /healthz, port: metrics}\n", "", "no liveness probe"},
		{"k8s loopback listener", false, "COLLABFLOW_METRICS_ADDR: \":9464\"", "COLLABFLOW_METRICS_ADDR: \"127.0.0.1:9464\"", "loopback"},
		{"k8s PDB selector", false, "  selector:\n    matchLabels: {app: worker}\n---\napiVersion: autoscaling/v2", "  selector:\n    matchLabels: {app: wroker}\n---\napiVersion: autoscaling/v2", "PodDisruptionBudget worker"},
		{"k8s HPA target", false, "name: worker}\n  minReplicas", "name: wroker}\n  minReplicas", "HorizontalPodAutoscaler worker"},
		{"k8s root filesystem", false, "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem"},
		{"k8s runs as root", false, "runAsNonRoot: true", "runAsNonRoot: false", "runAsNonRoot"},
		{"k8s no resources", false, "          resources:\n            requests: {cpu: 100m, memory: 128Mi}\n            limits: {memory: 512Mi}\n", "", "resources"},
		{"k8s TLS file not mounted", false, "  COLLABFLOW_EMAIL_RATE: \"10\"\n", "  COLLABFLOW_EMAIL_RATE: \"10\"\n  TEMPORAL_TLS_CERT: /etc/tls/tls.crt\n", "not under a volume mount"},
		{"k8s kustomization misses a file", false, "  - k.yaml\n", "", "k.yaml"},
		{"compose latest image", true, "image: postgres:16.6", "image: postgres:latest", "postgres:latest"},
		{"compose other collabflow tag", true, "  worker:\n    image: collabflow:0.1.0", "  worker:\n    image: collabflow:0.1.1", "collabflow:0.1.1"},
		{"compose unknown subcommand", true, `command: ["worker"]`, `command: ["workers"]`, `"workers"`},
		{"compose unknown field", true, "    restart: unless-stopped\n", "    restrat: unless-stopped\n", "restrat"},
		{"compose not a setting", true, "  COLLABFLOW_LOG_FORMAT: json\n", "  COLLABFLOW_LOG_FROMAT: json\n", "COLLABFLOW_LOG_FROMAT is not in the settings table"},
		{"compose not read by the subcommand", true, "      COLLABFLOW_LOG_FORMAT: json\n", "      COLLABFLOW_LOG_FORMAT: json\n      TEMPORAL_ADDRESS: temporal:7233\n", "TEMPORAL_ADDRESS is not read by migrate"},
		{"compose required missing", true, "      SENDGRID_API_KEY: ${SENDGRID_API_KEY:?}\n", "", "SENDGRID_API_KEY"},
		{"compose literal secret", true, "SENDGRID_API_KEY: ${SENDGRID_API_KEY:?}", "SENDGRID_API_KEY: SG.abc", "secret SENDGRID_API_KEY"},
		{"compose API port", true, `ports: ["127.0.0.1:8080:8080"]`, `ports: ["127.0.0.1:8080:8000"]`, "8080"},
		{"compose published on all interfaces", true, `ports: ["127.0.0.1:8080:8080"]`, `ports: ["8080:8080"]`, "all interfaces"},
		{"compose published on 0.0.0.0", true, `ports: ["127.0.0.1:8080:8080"]`, `ports: ["0.0.0.0:8080:8080"]`, "all interfaces"},
		{"compose published on a random host port", true, `ports: ["127.0.0.1:8080:8080"]`, `ports: ["8080"]`, "all interfaces"},
		{"compose long form on all interfaces", true, `ports: ["127.0.0.1:8080:8080"]`, `ports: [{target: 8080, published: "8080"}]`, "all interfaces"},
		{"compose other image on all interfaces", true, "    image: postgres:16.6\n", "    image: postgres:16.6\n    ports: [\"5432:5432\"]\n", "service db: port 5432:5432 is published on all interfaces"},
		{"compose local image not built", true, "    build: {context: .., dockerfile: deploy/Dockerfile}\n    pull_policy: build\n    command: [\"worker\"]", "    command: [\"worker\"]", "service worker: collabflow:0.1.0 is a local image"},
		{"compose local image pulled first", true, "    pull_policy: build\n    command: [\"worker\"]", "    pull_policy: missing\n    command: [\"worker\"]", "service worker: collabflow:0.1.0 is a local image"},
		{"compose waits for health no check gives", true, "    healthcheck:\n      test: [\"CMD-SHELL\", \"pg_isready\"]\n", "", "service migrate waits for db to be healthy, but db has no healthcheck"},
		{"compose loopback API", true, `COLLABFLOW_ADDR: ":8080"`, `COLLABFLOW_ADDR: "127.0.0.1:8080"`, "loopback"},
		{"compose no migrate dependency", true, "      migrate: {condition: service_completed_successfully}\n  api:", "      db: {condition: service_healthy}\n  api:", "worker does not wait for migrate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			compose, k8s := goodCompose, goodKubernetes
			kust := goodKustomization
			target := &k8s
			switch {
			case c.compose:
				target = &compose
			case strings.HasPrefix(c.name, "k8s kustomization"):
				target = &kust
			}
			if !strings.Contains(*target, c.old) {
				t.Fatalf("the good manifest lacks %q", c.old)
			}
			*target = strings.Replace(*target, c.old, c.new, 1)
			problems := checkDeploy([]byte(compose), noFiles, map[string][]byte{"k.yaml": []byte(k8s), "kustomization.yaml": []byte(kust)})
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.wantSubstr) }) {
				t.Errorf("no problem mentions %q; problems:\n%s", c.wantSubstr, strings.Join(problems, "\n"))
			}
		})
	}
}

// The good manifests of TestDeployManifestsCatchMistakes: small but complete (compose: a
// worker and an API; Kubernetes: a worker, then an API with its public Ingress), that each
// case breaks in one place.
const goodCompose = `name: t
x-env: &env
  COLLABFLOW_LOG_FORMAT: json
  TEMPORAL_ADDRESS: temporal:7233
  DATABASE_URL: postgres://u:${PW:?}@db/c
  COLLABFLOW_LINK_SECRET: ${LINK:?}
  INBOUND_REPLY_DOMAIN: reply.example.com
services:
  db:
    image: postgres:16.6
    healthcheck:
      test: ["CMD-SHELL", "pg_isready"]
    restart: unless-stopped
  migrate:
    image: collabflow:0.1.0
    build: {context: .., dockerfile: deploy/Dockerfile}
    pull_policy: build
    command: ["migrate"]
    environment:
      DATABASE_URL: postgres://u:${PW:?}@db/c
      COLLABFLOW_LOG_FORMAT: json
    depends_on:
      db: {condition: service_healthy}
  worker:
    image: collabflow:0.1.0
    build: {context: .., dockerfile: deploy/Dockerfile}
    pull_policy: build
    command: ["worker"]
    environment:
      <<: *env
      SENDGRID_API_KEY: ${SENDGRID_API_KEY:?}
      COLLABFLOW_POSTAL_ADDRESS: 1 Main Street
      COLLABFLOW_METRICS_ADDR: ":9464"
    expose: ["9464"]
    depends_on:
      migrate: {condition: service_completed_successfully}
  api:
    image: collabflow:0.1.0
    pull_policy: never
    command: ["api"]
    environment:
      <<: *env
      COLLABFLOW_ADDR: ":8080"
      COLLABFLOW_API_KEYS: ${KEYS:?}
    ports: ["127.0.0.1:8080:8080"]
    depends_on:
      migrate: {condition: service_completed_successfully}
`

const goodKustomization = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - k.yaml
images:
  - name: collabflow
    newTag: 0.1.0
`

const goodKubernetes = `apiVersion: v1
kind: ConfigMap
metadata: {name: worker}
data:
  TEMPORAL_ADDRESS: temporal:7233
  COLLABFLOW_METRICS_ADDR: ":9464"
  INBOUND_REPLY_DOMAIN: reply.example.com
  COLLABFLOW_POSTAL_ADDRESS: 1 Main Street
  COLLABFLOW_EMAIL_RATE: "10"
---
apiVersion: v1
kind: Secret
metadata: {name: worker}
stringData:
  DATABASE_URL: postgres://u:p@db/c
  COLLABFLOW_LINK_SECRET: 0123456789abcdef0123456789abcdef
  SENDGRID_API_KEY: SG.x
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker}
spec:
  selector:
    matchLabels: {app: worker}
  template:
    metadata:
      labels: {app: worker}
    spec:
      securityContext: {runAsNonRoot: true}
      terminationGracePeriodSeconds: 330
      initContainers:
        - name: wait
          image: postgres:16.6
          command: ["pg_isready", "-h", "db"]
        - name: migrate
          image: collabflow:0.1.0
          args: ["migrate"]
          env:
            - name: DATABASE_URL
              valueFrom:
                secretKeyRef: {name: worker, key: DATABASE_URL}
          resources:
            requests: {cpu: 50m, memory: 64Mi}
            limits: {memory: 128Mi}
          securityContext: {readOnlyRootFilesystem: true}
      containers:
        - name: worker
          image: collabflow:0.1.0
          args: ["worker"]
          ports:
            - {name: metrics, containerPort: 9464}
          env:
            - name: COLLABFLOW_LOG_FORMAT
              value: json
          envFrom:
            - configMapRef: {name: worker}
            - secretRef: {name: worker}
          readinessProbe:
            httpGet: {path: /readyz, port: metrics}
          livenessProbe:
            httpGet: {path: /healthz, port: metrics}
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {memory: 512Mi}
          securityContext: {readOnlyRootFilesystem: true}
---
apiVersion: v1
kind: Service
metadata: {name: worker}
spec:
  selector: {app: worker}
  ports:
    - {port: 9464, targetPort: metrics}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: worker}
spec:
  maxUnavailable: 1
  selector:
    matchLabels: {app: worker}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: worker}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: worker}
  minReplicas: 2
  maxReplicas: 4
---
apiVersion: v1
kind: ConfigMap
metadata: {name: api}
data:
  TEMPORAL_ADDRESS: temporal:7233
  COLLABFLOW_ADDR: ":8080"
  INBOUND_REPLY_DOMAIN: reply.example.com
---
apiVersion: v1
kind: Secret
metadata: {name: api}
stringData:
  DATABASE_URL: postgres://u:p@db/c
  COLLABFLOW_LINK_SECRET: 0123456789abcdef0123456789abcdef
  COLLABFLOW_API_KEYS: ops:ops:0123456789abcdef
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      securityContext: {runAsNonRoot: true}
      initContainers:
        - name: migrate
          image: collabflow:0.1.0
          args: ["migrate"]
          env:
            - name: DATABASE_URL
              valueFrom:
                secretKeyRef: {name: api, key: DATABASE_URL}
          resources:
            requests: {cpu: 50m, memory: 64Mi}
            limits: {memory: 128Mi}
          securityContext: {readOnlyRootFilesystem: true}
      containers:
        - name: api
          image: collabflow:0.1.0
          args: ["api"]
          ports:
            - {name: http, containerPort: 8080}
          envFrom:
            - configMapRef: {name: api}
            - secretRef: {name: api}
          readinessProbe:
            httpGet: {path: /readyz, port: http}
          livenessProbe:
            httpGet: {path: /healthz, port: http}
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {memory: 256Mi}
          securityContext: {readOnlyRootFilesystem: true}
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports:
    - {name: http, port: 80, targetPort: http}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: api}
spec:
  minAvailable: 1
  selector:
    matchLabels: {app: api}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  minReplicas: 2
  maxReplicas: 6
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: public}
spec:
  tls:
    - hosts: [cf.example.com]
      secretName: cf-tls
  rules:
    - host: cf.example.com
      http:
        paths:
          - path: /webhooks
            pathType: Prefix
            backend:
              service: {name: api, port: {name: http}}
          - path: /portal
            pathType: Prefix
            backend:
              service: {name: api, port: {name: http}}
          - path: /u
            pathType: Prefix
            backend:
              service: {name: api, port: {number: 80}}
`

// subcommands are the commands main's usage lists.
func subcommands() []string {
	var cmds []string
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z][a-z-]*)(?:\s|$)`).FindAllStringSubmatch(usage, -1) {
		cmds = append(cmds, m[1])
	}
	return cmds
}

// envVal is a variable set for a container and where its value comes from.
type envVal struct {
	value string
	from  string // for messages: "ConfigMap x", "Secret x", "a literal value"
	// secret is whether the value comes from a secret store: a Kubernetes Secret, or
	// interpolation from compose's environment.
	secret bool
}

// checkDeploy returns every problem of the compose file (env files read through
// readFile, relative to it) and the Kubernetes files (by name).
func checkDeploy(compose []byte, readFile func(string) ([]byte, error), k8s map[string][]byte) []string {
	images := map[string][]string{} // collabflow image → where it is used
	problems := checkCompose(compose, readFile, images)
	problems = append(problems, checkKubernetes(k8s, images)...)
	if len(images) > 1 {
		var all []string
		for img, where := range images {
			all = append(all, fmt.Sprintf("%s (%s)", img, strings.Join(where, ", ")))
		}
		slices.Sort(all)
		problems = append(problems, "the collabflow image differs between containers: "+strings.Join(all, "; "))
	}
	return problems
}

// collabflowImage reports whether image is collabflow's own.
func collabflowImage(image string) bool {
	name, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return name == "collabflow" || strings.HasSuffix(name, "/collabflow")
}

// checkImage records collabflow's image and requires a pinned tag on any other.
func checkImage(where, image string, images map[string][]string) []string {
	if image == "" {
		return []string{where + ": no image"}
	}
	if collabflowImage(image) {
		images[image] = append(images[image], where)
		if strings.HasSuffix(image, ":latest") {
			return []string{where + ": image " + image + " is not a release"}
		}
		return nil
	}
	if strings.Contains(image, "@sha256:") {
		return nil
	}
	i := strings.LastIndex(image, ":")
	if i < 0 || i < strings.LastIndex(image, "/") {
		return []string{where + ": image " + image + " is not pinned to a tag"}
	}
	if tag := image[i+1:]; tag == "latest" || tag == "" {
		return []string{where + ": image " + image + " is not pinned to a version"}
	}
	return nil
}

// checkSubcommand requires a subcommand main knows.
func checkSubcommand(where string, args []string) (string, []string) {
	if len(args) == 0 {
		return "", []string{where + ": no subcommand (api, worker, migrate, …)"}
	}
	if !slices.Contains(subcommands(), args[0]) {
		return "", []string{fmt.Sprintf("%s: %q is not a collabflow subcommand (%s)", where, args[0], strings.Join(subcommands(), ", "))}
	}
	return args[0], nil
}

// listeners are the settings that name an address a subcommand listens on.
var listeners = []string{"COLLABFLOW_ADDR", "COLLABFLOW_METRICS_ADDR", "COLLABFLOW_CODEC_ADDR"}

// checkEnv checks a collabflow container's variables against the settings table: each is
// a setting its subcommand reads, secrets come from a secret store, the subcommand's
// required settings are all there, and addresses it listens on are not loopback only.
func checkEnv(where, cmd string, env map[string]envVal) []string {
	var problems []string
	for _, name := range sortedKeys(env) {
		v := env[name]
		s, ok := lookupSetting(name)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: %s is not in the settings table", where, name))
			continue
		case !s.readBy(cmd):
			problems = append(problems, fmt.Sprintf("%s: %s is not read by %s (only by %s)", where, name, cmd, s.cmds))
		}
		if s.secret && !v.secret {
			problems = append(problems, fmt.Sprintf("%s: secret %s comes from %s, not a secret store", where, name, v.from))
		}
		if slices.Contains(listeners, name) && !strings.Contains(v.value, "${") {
			host, port, err := net.SplitHostPort(v.value)
			if _, perr := strconv.Atoi(port); err != nil || perr != nil {
				problems = append(problems, fmt.Sprintf("%s: %s %q is not host:port", where, name, v.value))
			} else if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
				problems = append(problems, fmt.Sprintf("%s: %s %q listens on loopback only, out of the container's reach", where, name, v.value))
			}
		}
	}
	for _, s := range settings {
		if _, ok := env[s.name]; s.requiredBy(cmd) && !ok {
			problems = append(problems, fmt.Sprintf("%s: %s refuses to start without %s", where, cmd, s.name))
		}
	}
	if _, ok := env["COLLABFLOW_ADDR"]; cmd == "api" && !ok {
		problems = append(problems, where+": api without COLLABFLOW_ADDR listens on 127.0.0.1, out of the container's reach")
	}
	return problems
}

// listenPort is the port of a listener setting set for a container, 0 when unset or not
// a plain host:port.
func listenPort(env map[string]envVal, name string) int {
	v, ok := env[name]
	if !ok {
		return 0
	}
	_, port, err := net.SplitHostPort(v.value)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// --- compose ---

type composeFile struct {
	Name       string                    `yaml:"name"`
	Services   map[string]composeService `yaml:"services"`
	Volumes    map[string]any            `yaml:"volumes"`
	Networks   map[string]any            `yaml:"networks"`
	Secrets    map[string]any            `yaml:"secrets"`
	Extensions map[string]any            `yaml:",inline"` // x-*
}

// composeService has the fields the files use; decoding with KnownFields refuses others,
// so that a misspelt key fails instead of being ignored.
type composeService struct {
	Image           string         `yaml:"image"`
	Build           any            `yaml:"build"`
	Command         any            `yaml:"command"`
	Entrypoint      any            `yaml:"entrypoint"`
	Environment     any            `yaml:"environment"`
	EnvFile         any            `yaml:"env_file"`
	Ports           []any          `yaml:"ports"`
	Expose          []any          `yaml:"expose"`
	DependsOn       map[string]any `yaml:"depends_on"`
	Healthcheck     map[string]any `yaml:"healthcheck"`
	PullPolicy      string         `yaml:"pull_policy"`
	Volumes         []any          `yaml:"volumes"`
	Restart         string         `yaml:"restart"`
	Profiles        []string       `yaml:"profiles"`
	StopGracePeriod string         `yaml:"stop_grace_period"`
	Secrets         []any          `yaml:"secrets"`
}

func checkCompose(data []byte, readFile func(string) ([]byte, error), images map[string][]string) []string {
	var f composeFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return []string{"compose.yaml: " + err.Error()}
	}
	var problems []string
	for k := range f.Extensions {
		if !strings.HasPrefix(k, "x-") {
			problems = append(problems, "compose.yaml: unknown top-level key "+k)
		}
	}
	if len(f.Services) == 0 {
		problems = append(problems, "compose.yaml: no services")
	}
	migrates := map[string]bool{}
	cmds := map[string]string{}
	for _, name := range sortedKeys(f.Services) {
		svc := f.Services[name]
		where := "compose.yaml service " + name
		problems = append(problems, checkImage(where, svc.Image, images)...)
		problems = append(problems, checkPublished(where, svc.Ports)...)
		for _, dep := range sortedKeys(svc.DependsOn) {
			c, _ := svc.DependsOn[dep].(map[string]any)
			if c["condition"] == "service_healthy" && f.Services[dep].Healthcheck == nil {
				problems = append(problems, fmt.Sprintf("%s waits for %s to be healthy, but %s has no healthcheck", where, dep, dep))
			}
		}
		if !collabflowImage(svc.Image) {
			continue
		}
		// collabflow's image is in no registry: a pull of it fails, or finds someone
		// else's.
		if svc.PullPolicy != "never" && (svc.Build == nil || svc.PullPolicy != "build") {
			problems = append(problems, fmt.Sprintf("%s: %s is a local image: give it build: with pull_policy: build, or pull_policy: never (built by another service), so that compose never pulls it", where, svc.Image))
		}
		if svc.Entrypoint != nil {
			problems = append(problems, where+": entrypoint replaces the image's collabflow binary")
		}
		cmd, p := checkSubcommand(where, words(svc.Command))
		problems = append(problems, p...)
		if cmd == "" {
			continue
		}
		cmds[name] = cmd
		if cmd == "migrate" {
			migrates[name] = true
		}
		env := map[string]envVal{}
		for k, v := range stringMap(svc.Environment) {
			// A value compose interpolates from its environment (or deploy/.env) is not
			// written in the file.
			env[k] = envVal{value: v, from: "a value written in compose.yaml", secret: strings.Contains(v, "${")}
		}
		for _, file := range envFiles(svc.EnvFile) {
			b, err := readFile(file)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: env_file %s: %v", where, file, err))
				continue
			}
			for _, line := range strings.Split(string(b), "\n") {
				line = strings.TrimSpace(line)
				if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
					env[k] = envVal{value: v, from: "env_file " + file}
				}
			}
		}
		problems = append(problems, checkEnv(where, cmd, env)...)
		ports := map[int]bool{}
		published := map[int]bool{}
		for _, p := range svc.Ports {
			n := composePort(p)
			ports[n], published[n] = true, true
		}
		for _, p := range svc.Expose {
			ports[composePort(p)] = true
		}
		for _, l := range listeners {
			if n := listenPort(env, l); n != 0 && !ports[n] {
				problems = append(problems, fmt.Sprintf("%s: %s is port %d, which it neither publishes nor exposes", where, l, n))
			}
		}
		if n := listenPort(env, "COLLABFLOW_ADDR"); n != 0 && !published[n] {
			problems = append(problems, fmt.Sprintf("%s: COLLABFLOW_ADDR is port %d, which it does not publish", where, n))
		}
	}
	// Whatever reads the database starts after the migrations.
	for _, name := range sortedKeys(cmds) {
		cmd := cmds[name]
		if cmd == "migrate" || !slices.ContainsFunc(settings, func(s setting) bool { return s.name == "DATABASE_URL" && s.readBy(cmd) }) {
			continue
		}
		waits := false
		for dep, cond := range f.Services[name].DependsOn {
			c, _ := cond.(map[string]any)
			waits = waits || migrates[dep] && c["condition"] == "service_completed_successfully"
		}
		if !waits {
			problems = append(problems, fmt.Sprintf("compose.yaml service %s does not wait for migrate (depends_on … condition: service_completed_successfully)", name))
		}
	}
	return problems
}

// checkPublished requires every port a compose service publishes to be bound to loopback:
// the stack speaks plain HTTP, so a server reaches it only through a TLS proxy or a tunnel.
func checkPublished(where string, ports []any) []string {
	var problems []string
	for _, p := range ports {
		var host string
		if m, ok := p.(map[string]any); ok {
			host, _ = m["host_ip"].(string)
		} else if s := fmt.Sprint(p); strings.HasPrefix(s, "[") {
			host, _, _ = strings.Cut(s[1:], "]")
		} else if parts := strings.Split(s, ":"); len(parts) == 3 {
			host = parts[0]
		}
		ip := net.ParseIP(host)
		switch {
		case ip == nil && host != "", ip != nil && !ip.IsLoopback() && !ip.IsUnspecified():
			problems = append(problems, fmt.Sprintf("%s: port %v is published on %s, not on 127.0.0.1 only", where, p, host))
		case ip == nil || !ip.IsLoopback():
			problems = append(problems, fmt.Sprintf("%s: port %v is published on all interfaces, not on 127.0.0.1 only", where, p))
		}
	}
	return problems
}

// words is a compose command: a list, or a string split on spaces.
func words(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var w []string
		for _, x := range v {
			w = append(w, fmt.Sprint(x))
		}
		return w
	}
	return nil
}

// stringMap is a compose environment: a map, or a list of NAME=value.
func stringMap(v any) map[string]string {
	m := map[string]string{}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if x == nil {
				m[k] = ""
			} else {
				m[k] = fmt.Sprint(x)
			}
		}
	case []any:
		for _, x := range v {
			k, val, _ := strings.Cut(fmt.Sprint(x), "=")
			m[k] = val
		}
	}
	return m
}

// envFiles are a compose env_file's paths.
func envFiles(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var files []string
		for _, x := range v {
			if m, ok := x.(map[string]any); ok {
				files = append(files, fmt.Sprint(m["path"]))
			} else {
				files = append(files, fmt.Sprint(x))
			}
		}
		return files
	}
	return nil
}

// composePort is the container port of a ports or expose entry: "8080", "8080:8080",
// "127.0.0.1:8080:8080", "8080/tcp" or {target: 8080}.
func composePort(v any) int {
	if m, ok := v.(map[string]any); ok {
		v = m["target"]
	}
	s := fmt.Sprint(v)
	s, _, _ = strings.Cut(s, "/")
	if i := strings.LastIndex(s, ":"); i >= 0 {
		s = s[i+1:]
	}
	n, _ := strconv.Atoi(s)
	return n
}

// --- Kubernetes ---

type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName"`
		NewTag  string `json:"newTag"`
	} `json:"images"`
}

type k8sObjects struct {
	deployments []*appsv1.Deployment
	jobs        []*batchv1.Job
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	services    []*corev1.Service
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
	ingresses   []*networkingv1.Ingress
	kustomize   []*kustomization
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// newK8sObject is the API type of a document, nil for a kind the manifests do not use.
func newK8sObject(apiVersion, kind string) any {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		return &corev1.Namespace{}
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}
	case "v1 Secret":
		return &corev1.Secret{}
	case "v1 Service":
		return &corev1.Service{}
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}
	case "batch/v1 Job":
		return &batchv1.Job{}
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}
	case "networking.k8s.io/v1 Ingress":
		return &networkingv1.Ingress{}
	case "kustomize.config.k8s.io/v1beta1 Kustomization":
		return &kustomization{}
	}
	return nil
}

// decodeKubernetes decodes every document strictly into its API type.
func decodeKubernetes(files map[string][]byte) (k8sObjects, []string) {
	objs := k8sObjects{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	var problems []string
	for _, file := range sortedKeys(files) {
		for i, doc := range docSeparator.Split(string(files[file]), -1) {
			where := fmt.Sprintf("%s document %d", file, i+1)
			var tm metav1.TypeMeta
			if err := sigsyaml.Unmarshal([]byte(doc), &tm); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", where, err))
				continue
			}
			if tm == (metav1.TypeMeta{}) {
				if j, _ := sigsyaml.YAMLToJSON([]byte(doc)); string(j) != "null" {
					problems = append(problems, where+": no apiVersion and kind")
				}
				continue
			}
			obj := newK8sObject(tm.APIVersion, tm.Kind)
			if obj == nil {
				problems = append(problems, fmt.Sprintf("%s: apiVersion %s kind %s is not one the manifests are checked for", where, tm.APIVersion, tm.Kind))
				continue
			}
			if err := sigsyaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				problems = append(problems, fmt.Sprintf("%s (%s): %v", where, tm.Kind, err))
				continue
			}
			switch o := obj.(type) {
			case *corev1.ConfigMap:
				objs.configMaps[o.Name] = o
			case *corev1.Secret:
				objs.secrets[o.Name] = o
			case *corev1.Service:
				objs.services = append(objs.services, o)
			case *appsv1.Deployment:
				objs.deployments = append(objs.deployments, o)
			case *batchv1.Job:
				objs.jobs = append(objs.jobs, o)
			case *policyv1.PodDisruptionBudget:
				objs.pdbs = append(objs.pdbs, o)
			case *autoscalingv2.HorizontalPodAutoscaler:
				objs.hpas = append(objs.hpas, o)
			case *networkingv1.Ingress:
				objs.ingresses = append(objs.ingresses, o)
			case *kustomization:
				objs.kustomize = append(objs.kustomize, o)
			}
		}
	}
	return objs, problems
}

func checkKubernetes(files map[string][]byte, images map[string][]string) []string {
	objs, problems := decodeKubernetes(files)
	for name, cm := range objs.configMaps {
		for k := range cm.Data {
			if s, ok := lookupSetting(k); ok && s.secret {
				problems = append(problems, fmt.Sprintf("ConfigMap %s: secret %s belongs in a Secret", name, k))
			}
		}
	}
	for _, k := range objs.kustomize {
		var want []string
		for f := range files {
			if f != "kustomization.yaml" {
				want = append(want, f)
			}
		}
		slices.Sort(want)
		got := slices.Sorted(slices.Values(k.Resources))
		if !slices.Equal(got, want) {
			problems = append(problems, fmt.Sprintf("kustomization.yaml: resources %v, want every manifest %v", got, want))
		}
		for _, img := range k.Images {
			if img.Name == "collabflow" && img.NewName == "" {
				images["collabflow:"+img.NewTag] = append(images["collabflow:"+img.NewTag], "kustomization.yaml images")
			}
		}
	}
	for _, d := range objs.deployments {
		where := "Deployment " + d.Name
		if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err != nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			problems = append(problems, where+": its selector does not match its pods' labels")
		}
		problems = append(problems, checkPod(where, &d.Spec.Template.Spec, objs, images, true)...)
		if !slices.ContainsFunc(objs.pdbs, func(p *policyv1.PodDisruptionBudget) bool { return selects(p.Spec.Selector, d) }) {
			problems = append(problems, where+": no PodDisruptionBudget selects its pods")
		}
		if !slices.ContainsFunc(objs.hpas, func(h *autoscalingv2.HorizontalPodAutoscaler) bool { return targets(h, d) }) {
			problems = append(problems, where+": no HorizontalPodAutoscaler scales it")
		} else if d.Spec.Replicas != nil {
			problems = append(problems, where+": sets replicas, which every apply would reset under its HorizontalPodAutoscaler")
		}
		// Migrations come with the release: an init container runs them before the
		// process starts, in the same pod template the new image tag rolls out.
		if cmd := podCommand(&d.Spec.Template.Spec); cmd != "" && !slices.ContainsFunc(d.Spec.Template.Spec.InitContainers, func(c corev1.Container) bool {
			return collabflowImage(c.Image) && slices.Equal(c.Args, []string{"migrate"})
		}) {
			problems = append(problems, where+": no init container runs collabflow migrate before "+cmd)
		}
		if podCommand(&d.Spec.Template.Spec) == "api" {
			problems = append(problems, checkPublicIngress(d, objs)...)
		}
	}
	for _, j := range objs.jobs {
		problems = append(problems, checkPod("Job "+j.Name, &j.Spec.Template.Spec, objs, images, false)...)
		if j.GenerateName == "" {
			problems = append(problems, "Job "+j.Name+": a named Job's pod template cannot change, so re-applying with a new image tag fails; run it from the Deployments (an init container)")
		}
	}
	for _, p := range objs.pdbs {
		n := 0
		for _, d := range objs.deployments {
			if selects(p.Spec.Selector, d) {
				n++
			}
		}
		if n != 1 {
			problems = append(problems, fmt.Sprintf("PodDisruptionBudget %s selects the pods of %d Deployments, want 1", p.Name, n))
		}
	}
	for _, h := range objs.hpas {
		if !slices.ContainsFunc(objs.deployments, func(d *appsv1.Deployment) bool { return targets(h, d) }) {
			problems = append(problems, fmt.Sprintf("HorizontalPodAutoscaler %s scales %s %s, which is not among the Deployments", h.Name, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name))
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || *h.Spec.MinReplicas > h.Spec.MaxReplicas {
			problems = append(problems, fmt.Sprintf("HorizontalPodAutoscaler %s: minReplicas must be 1…maxReplicas", h.Name))
		}
	}
	for _, s := range objs.services {
		i := slices.IndexFunc(objs.deployments, func(d *appsv1.Deployment) bool {
			return len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels))
		})
		if i < 0 {
			problems = append(problems, "Service "+s.Name+": its selector matches no Deployment's pods")
			continue
		}
		for _, p := range s.Spec.Ports {
			if containerPort(objs.deployments[i].Spec.Template.Spec.Containers, p.TargetPort) == 0 {
				problems = append(problems, fmt.Sprintf("Service %s: targetPort %s is no port of Deployment %s", s.Name, p.TargetPort.String(), objs.deployments[i].Name))
			}
		}
	}
	return problems
}

// podCommand is the collabflow subcommand a pod's main containers run: "api", "worker"
// or "" for none.
func podCommand(pod *corev1.PodSpec) string {
	for _, c := range pod.Containers {
		if collabflowImage(c.Image) && len(c.Args) > 0 && (c.Args[0] == "api" || c.Args[0] == "worker") {
			return c.Args[0]
		}
	}
	return ""
}

// publicPrefixes are the API's routes the outside world calls: SendGrid's webhooks, the
// creator portal and unsubscribe links.
var publicPrefixes = []string{"/webhooks", "/portal", "/u"}

// checkPublicIngress: an Ingress routes each public prefix to a Service of the API's
// pods, on its HTTP port, for a host its TLS section covers.
func checkPublicIngress(d *appsv1.Deployment, objs k8sObjects) []string {
	var problems []string
	apiPort := listenPortOf(d, objs)
	for _, prefix := range publicPrefixes {
		found, secured := false, false
		for _, ing := range objs.ingresses {
			for _, rule := range ing.Spec.Rules {
				if rule.HTTP == nil {
					continue
				}
				for _, path := range rule.HTTP.Paths {
					b := path.Backend.Service
					if path.Path != prefix || path.PathType == nil || *path.PathType != networkingv1.PathTypePrefix || b == nil {
						continue
					}
					i := slices.IndexFunc(objs.services, func(s *corev1.Service) bool {
						return s.Name == b.Name && len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels))
					})
					if i < 0 {
						continue
					}
					for _, sp := range objs.services[i].Spec.Ports {
						if (b.Port.Name != "" && sp.Name == b.Port.Name || b.Port.Number != 0 && sp.Port == b.Port.Number) &&
							containerPort(d.Spec.Template.Spec.Containers, sp.TargetPort) == apiPort && apiPort != 0 {
							found = true
							secured = secured || slices.ContainsFunc(ing.Spec.TLS, func(t networkingv1.IngressTLS) bool {
								return t.SecretName != "" && slices.Contains(t.Hosts, rule.Host) && rule.Host != ""
							})
						}
					}
				}
			}
		}
		switch {
		case !found:
			problems = append(problems, fmt.Sprintf("Deployment %s: no Ingress routes %s (pathType Prefix) to its Service's API port", d.Name, prefix))
		case !secured:
			problems = append(problems, fmt.Sprintf("Deployment %s: the Ingress for %s has no TLS section (secretName) covering its host", d.Name, prefix))
		}
	}
	return problems
}

// listenPortOf is the port of COLLABFLOW_ADDR in the API container's environment.
func listenPortOf(d *appsv1.Deployment, objs k8sObjects) int {
	for _, c := range d.Spec.Template.Spec.Containers {
		if collabflowImage(c.Image) && slices.Equal(c.Args, []string{"api"}) {
			env, _ := containerEnv("", c, objs)
			return listenPort(env, "COLLABFLOW_ADDR")
		}
	}
	return 0
}

func selects(sel *metav1.LabelSelector, d *appsv1.Deployment) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && !s.Empty() && s.Matches(labels.Set(d.Spec.Template.Labels))
}

func targets(h *autoscalingv2.HorizontalPodAutoscaler, d *appsv1.Deployment) bool {
	r := h.Spec.ScaleTargetRef
	return r.APIVersion == "apps/v1" && r.Kind == "Deployment" && r.Name == d.Name
}

// containerPort resolves a port by number or name among the containers' ports; 0 when
// none has it.
func containerPort(containers []corev1.Container, p intstr.IntOrString) int {
	for _, c := range containers {
		for _, cp := range c.Ports {
			if p.Type == intstr.Int && int32(p.IntValue()) == cp.ContainerPort || p.Type == intstr.String && p.StrVal == cp.Name {
				return int(cp.ContainerPort)
			}
		}
	}
	return 0
}

// checkPod checks a pod's containers; long-running ones (Deployments) need probes.
func checkPod(where string, pod *corev1.PodSpec, objs k8sObjects, images map[string][]string, longRunning bool) []string {
	var problems []string
	podNonRoot := pod.SecurityContext != nil && pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot
	all := append(slices.Clone(pod.InitContainers), pod.Containers...)
	for i, c := range all {
		cw := where + " container " + c.Name
		// Init containers run to completion before the others: they take no probes.
		needProbes := longRunning && i >= len(pod.InitContainers)
		problems = append(problems, checkImage(cw, c.Image, images)...)
		if !collabflowImage(c.Image) {
			continue
		}
		if len(c.Command) > 0 {
			problems = append(problems, cw+": command replaces the image's entrypoint, the collabflow binary; give the subcommand in args")
		}
		cmd, p := checkSubcommand(cw, c.Args)
		problems = append(problems, p...)
		if cmd == "" {
			continue
		}
		env, p := containerEnv(cw, c, objs)
		problems = append(problems, p...)
		problems = append(problems, checkEnv(cw, cmd, env)...)

		// Ports: every address it listens on is a declared port, and every declared port
		// one it listens on.
		listening := map[int]string{}
		for _, l := range listeners {
			if n := listenPort(env, l); n != 0 {
				listening[n] = l
			}
		}
		declared := map[int]bool{}
		for _, cp := range c.Ports {
			declared[int(cp.ContainerPort)] = true
			if listening[int(cp.ContainerPort)] == "" {
				problems = append(problems, fmt.Sprintf("%s: containerPort %d (%s) is no address it listens on (%s)", cw, cp.ContainerPort, cp.Name, strings.Join(listeners, ", ")))
			}
		}
		for n, l := range listening {
			if !declared[n] {
				problems = append(problems, fmt.Sprintf("%s: %s is port %d, which is not a containerPort", cw, l, n))
			}
		}

		// Probes: HTTP, /healthz for liveness, /readyz for readiness, on a port it serves
		// them on (the API's address or the metrics address).
		probeOn := map[int]bool{listenPort(env, "COLLABFLOW_ADDR"): cmd == "api", listenPort(env, "COLLABFLOW_METRICS_ADDR"): true}
		delete(probeOn, 0)
		for _, pr := range []struct {
			kind  string
			probe *corev1.Probe
			path  string
		}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}, {"startup", c.StartupProbe, ""}} {
			if pr.probe == nil {
				if needProbes && pr.kind != "startup" {
					problems = append(problems, fmt.Sprintf("%s: no %s probe", cw, pr.kind))
				}
				continue
			}
			h := pr.probe.HTTPGet
			if h == nil {
				problems = append(problems, fmt.Sprintf("%s: %s probe is not httpGet (the image has no shell)", cw, pr.kind))
				continue
			}
			if pr.path != "" && h.Path != pr.path || pr.path == "" && h.Path != "/healthz" && h.Path != "/readyz" {
				problems = append(problems, fmt.Sprintf("%s: %s probe path %s, want %s", cw, pr.kind, h.Path, or(pr.path, "/healthz or /readyz")))
			}
			if n := containerPort([]corev1.Container{c}, h.Port); !probeOn[n] {
				problems = append(problems, fmt.Sprintf("%s: %s probe on port %s, where %s serves no /healthz and /readyz (COLLABFLOW_METRICS_ADDR%s)",
					cw, pr.kind, h.Port.String(), cmd, map[bool]string{true: " or COLLABFLOW_ADDR"}[cmd == "api"]))
			}
		}

		// A stopping worker lets its activities finish for COLLABFLOW_WORKER_STOP_TIMEOUT:
		// the pod must be given longer, or Kubernetes kills it mid-send.
		if cmd == "worker" {
			stop, _ := lookupSetting("COLLABFLOW_WORKER_STOP_TIMEOUT")
			v := stop.def
			if e, ok := env[stop.name]; ok && e.value != "" {
				v = e.value
			}
			d, err := time.ParseDuration(v)
			grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
			if pod.TerminationGracePeriodSeconds != nil {
				grace = *pod.TerminationGracePeriodSeconds
			}
			if err != nil || time.Duration(grace)*time.Second <= d {
				problems = append(problems, fmt.Sprintf("%s: terminationGracePeriodSeconds %d is not above COLLABFLOW_WORKER_STOP_TIMEOUT %s", cw, grace, v))
			}
		}

		// Files the settings name are mounted.
		for _, name := range []string{"TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY", "TEMPORAL_TLS_CA"} {
			v, ok := env[name]
			if !ok || v.value == "" {
				continue
			}
			if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
				return strings.HasPrefix(v.value, strings.TrimSuffix(m.MountPath, "/")+"/")
			}) {
				problems = append(problems, fmt.Sprintf("%s: %s %s is not under a volume mount", cw, name, v.value))
			}
		}

		// Hardening and sizing.
		sc := c.SecurityContext
		if !podNonRoot && (sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot) {
			problems = append(problems, cw+": runAsNonRoot is not true")
		}
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			problems = append(problems, cw+": readOnlyRootFilesystem is not true")
		}
		if c.Resources.Requests.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
			problems = append(problems, cw+": resources need cpu and memory requests and a memory limit")
		}
	}
	return problems
}

// containerEnv is what a container's env and envFrom set, resolved through the ConfigMaps
// and Secrets among the manifests.
func containerEnv(where string, c corev1.Container, objs k8sObjects) (map[string]envVal, []string) {
	env := map[string]envVal{}
	var problems []string
	for _, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			cm, ok := objs.configMaps[from.ConfigMapRef.Name]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: envFrom ConfigMap %s is not among the manifests", where, from.ConfigMapRef.Name))
				continue
			}
			for k, v := range cm.Data {
				env[from.Prefix+k] = envVal{value: v, from: "ConfigMap " + cm.Name}
			}
		case from.SecretRef != nil:
			s, ok := objs.secrets[from.SecretRef.Name]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: envFrom Secret %s is not among the manifests", where, from.SecretRef.Name))
				continue
			}
			for k, v := range secretData(s) {
				env[from.Prefix+k] = envVal{value: v, from: "Secret " + s.Name, secret: true}
			}
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = envVal{value: e.Value, from: "a literal value"}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			r := e.ValueFrom.ConfigMapKeyRef
			cm, ok := objs.configMaps[r.Name]
			v, has := "", false
			if ok {
				v, has = cm.Data[r.Key]
			}
			if !has {
				problems = append(problems, fmt.Sprintf("%s: %s from ConfigMap %s key %s, which is not among the manifests", where, e.Name, r.Name, r.Key))
			}
			env[e.Name] = envVal{value: v, from: "ConfigMap " + r.Name}
		case e.ValueFrom.SecretKeyRef != nil:
			r := e.ValueFrom.SecretKeyRef
			s, ok := objs.secrets[r.Name]
			v, has := "", false
			if ok {
				v, has = secretData(s)[r.Key]
			}
			if !has {
				problems = append(problems, fmt.Sprintf("%s: %s from Secret %s key %s, which is not among the manifests", where, e.Name, r.Name, r.Key))
			}
			env[e.Name] = envVal{value: v, from: "Secret " + r.Name, secret: true}
		default:
			env[e.Name] = envVal{from: "the pod's fields"}
		}
	}
	return env, problems
}

func secretData(s *corev1.Secret) map[string]string {
	m := map[string]string{}
	for k, v := range s.Data {
		m[k] = string(v)
	}
	for k, v := range s.StringData {
		m[k] = v
	}
	return m
}
