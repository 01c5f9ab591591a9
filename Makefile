# collabflow: `make run` runs everything on embedded defaults, `make test` runs every test.
GO    ?= go
BIN   := $(CURDIR)/bin
WORKFLOWCHECK_VERSION := v0.6.0

.PHONY: all build build-dev run test test-browser test-faults fuzz lint bench clean

all: lint test

## build: the production binary (api, worker, migrate, audit, codec-server), static and
## stripped, without the embedded Temporal server; the Dockerfile builds the same
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN)/collabflow ./cmd/collabflow

## build-dev: the dev binary, which adds `dev` and `bench` (embedded Temporal server,
## PostgreSQL, SendGrid sink, Web UI)
build-dev:
	$(GO) build -tags dev -o $(BIN)/collabflow-dev ./cmd/collabflow

## run: Temporal and its Web UI, PostgreSQL, worker and API in one process; state in .data/
run: build-dev
	$(BIN)/collabflow-dev dev

## test: every test, starting its own PostgreSQL and Temporal where needed; with the dev
## tag (the tests of `dev` and `bench`), then cmd/collabflow's production build alone
test:
	$(GO) test -tags dev -count=1 -timeout 15m ./...
	$(GO) test -count=1 -timeout 5m ./cmd/collabflow

## test-browser: the console driven in headless Chromium (api/browser_test.go, behind the
## browser tag), installed from Debian when missing; a failure leaves a screenshot of each
## page in .data/screenshots/
test-browser:
	command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null)
	COLLABFLOW_REQUIRE_BROWSER=1 $(GO) test -tags browser -count=1 -timeout 10m -v -run '^TestBrowser' ./api

## test-faults: a batch of collaborations through real processes on loopback while the
## worker, the API, PostgreSQL, SendGrid and a post host fail in turn (faults/doc.go);
## FAULTS_COLLABORATIONS sets the batch size (default 24)
test-faults:
	$(GO) test -tags faults -count=1 -timeout 12m -v -run '^TestFaults$$' ./faults

## fuzz: each fuzz target for FUZZTIME (seed corpora in each package's testdata/fuzz run
## in make test too)
# A count, not a duration: with a duration, Go 1.26's fuzz coordinator can report its own
# deadline as a failure ("context deadline exceeded", go.dev/issue/75804, fixed in Go 1.27)
# on a busy machine. 10,000 runs take 1–20 s per target here.
FUZZTIME ?= 10000x
FUZZ_TARGETS := outreach:FuzzStepCheck contract:FuzzHasDisclosure links:FuzzVerify payout:FuzzCompute api:FuzzInboundSender api:FuzzRawInbound api:FuzzEventBatch
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) ./$${t%%:*}; \
	done

## lint: formatting, vet (the dev and browser tags too), and the workflow determinism check
lint: $(BIN)/workflowcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags dev ./...
	$(GO) vet -tags browser ./api
	$(BIN)/workflowcheck ./workflows/...

## bench: `collabflow bench` (a launch driven to completed through the API beside a bare
## workflow, API vs SDK latency, memory with 10,000 open; BENCH_FLAGS e.g. -n 200 -open 1000),
## then the Go benchmarks (speed and memory targets live here, not in tests); BENCHMARKS.md
BENCH_FLAGS ?=
bench: build-dev
	$(BIN)/collabflow-dev bench $(BENCH_FLAGS)
	$(GO) test -tags dev -run '^$$' -bench . -benchmem ./...

$(BIN)/workflowcheck:
	GOBIN=$(BIN) $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION)

clean:
	rm -rf $(BIN)
