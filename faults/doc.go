// Package faults is collabflow's fault-injection test, run by `make test-faults`.
//
// It runs the real thing on loopback: a PostgreSQL cluster (devenv/pgserver), the
// embedded Temporal server (devenv/temporalserver), and `collabflow api` and
// `collabflow worker` built from this tree and run as child processes, with fakes of
// SendGrid and of a post host served by the test process. It drives a batch of
// collaborations through the API as people would while, in turn, the worker is killed
// with SIGKILL, PostgreSQL stops for ten seconds, the API is killed with updates in
// flight (when the first wave is busiest negotiating and producing), SendGrid answers 429
// and 503 for a minute (while a second wave replies and cancels) and the post host times
// out; then it checks that nothing was lost or doubled and prints a summary.
//
// The test files carry the build tag "faults", so `go test ./...` does not run them:
//
//	make test-faults                        # or: go test -tags faults -v ./faults
//	FAULTS_COLLABORATIONS=30 make test-faults
//	FAULTS_KEEP=1 make test-faults           # keep the temp dir (process logs) afterwards
package faults
