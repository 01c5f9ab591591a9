//go:build dev

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/collabflow/collabflow/codec"
	"github.com/collabflow/collabflow/devenv/temporalserver"
	"github.com/collabflow/collabflow/devenv/webui"
)

// TestDevKeepsStateAcrossRestart is `make run` twice: the first run creates a creator, a
// campaign and a collaboration and cancels it; after a clean shutdown the second run, on
// the same data directory, still has them.
func TestDevKeepsStateAcrossRestart(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), ".data")
	env := map[string]string{
		"COLLABFLOW_DATA_DIR":  dataDir,
		"TEMPORAL_ADDRESS":     freeAddr(t),
		"COLLABFLOW_ADDR":      freeAddr(t),
		"COLLABFLOW_LOG_LEVEL": "warn",
		// Not the defaults 8025 and 8233: a developer's own `make run` may hold them.
		"COLLABFLOW_SENDGRID_SINK_ADDR": freeAddr(t),
		"COLLABFLOW_UI_ADDR":            freeAddr(t),
	}

	var creatorID, collabID string
	runDevDuring(t, env, func(base, key string) {
		creator := post(t, base, key, "/v1/creators", `{"name":"Ada Lovelace","email":"ada@example.com","timezone":"Europe/London","handles":{"instagram":"ada.codes"},"followers":48000}`, 201)
		campaign := post(t, base, key, "/v1/campaigns", `{"name":"Spring launch","brand":"Acme","sender_email":"collabs@acme.test"}`, 201)
		creatorID = creator["id"].(string)
		collab := post(t, base, key, "/v1/collaborations", fmt.Sprintf(`{"campaign_id":%q,"creator_id":%q}`, campaign["id"], creatorID), 201)
		collabID = collab["id"].(string)
		cancelled := post(t, base, key, "/v1/collaborations/"+collabID+"/cancel", `{"reason":"testing restarts"}`, 200)
		if cancelled["stage"] != "cancelled" {
			t.Fatalf("cancel gave %v", cancelled)
		}
		// The update answers once the workflow is cancelled; the read model follows
		// from the same workflow task. Shut down once it shows it, as the second run
		// asserts it.
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
			list := get(t, base, key, "/v1/collaborations")
			if items := list["items"].([]any); len(items) == 1 && items[0].(map[string]any)["stage"] == "cancelled" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the read model never showed the cancel: %v", list)
			}
		}
		// Every role has a key, so a collaboration can be completed without a restart:
		// finance reads but may not add a creator.
		fin := devRoleKeys(t, dataDir)["finance"]
		get(t, base, fin, "/v1/collaborations/"+collabID)
		do(t, "POST", base+"/v1/creators", fin, strings.NewReader(`{"name":"Grace","email":"grace@example.com","timezone":"UTC"}`), 403)
		assertEncrypted(t, env["TEMPORAL_ADDRESS"], collabID)
		keyFile := filepath.Join(dataDir, "codec-keys")
		assertDecodes(t, sdkCodec(base+codecPath, key, "default"), keyFile)
		assertWebUI(t, "http://"+env["COLLABFLOW_UI_ADDR"], collabID, campaign["id"].(string), keyFile)
	})
	keyBefore, err := os.ReadFile(filepath.Join(dataDir, "api-key"))
	if err != nil {
		t.Fatal(err)
	}
	keysBefore := devRoleKeys(t, dataDir)

	runDevDuring(t, env, func(base, key string) {
		if key != strings.TrimSpace(string(keyBefore)) {
			t.Error("the dev API key changed across a restart")
		}
		if after := devRoleKeys(t, dataDir); !maps.Equal(after, keysBefore) {
			t.Error("the dev role keys changed across a restart")
		}
		if c := get(t, base, key, "/v1/creators/"+creatorID); c["name"] != "Ada Lovelace" {
			t.Fatalf("creator after restart: %v", c)
		}
		collab := get(t, base, key, "/v1/collaborations/"+collabID)
		if collab["stage"] != "cancelled" || collab["cancel_reason"] != "testing restarts" {
			t.Fatalf("collaboration after restart: %v", collab)
		}
		list := get(t, base, key, "/v1/collaborations")
		if items := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["stage"] != "cancelled" {
			t.Fatalf("list after restart: %v", list)
		}
	})
}

// TestDevUIPortBusy: a taken Web UI port stops dev with an error naming the setting and
// the way out, before PostgreSQL or Temporal start, and this process lives on.
func TestDevUIPortBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dataDir := filepath.Join(t.TempDir(), ".data")
	cfg, err := loadConfig(func(k string) string {
		return map[string]string{"COLLABFLOW_DATA_DIR": dataDir, "COLLABFLOW_UI_ADDR": ln.Addr().String(), "COLLABFLOW_LOG_LEVEL": "warn"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	err = runDev(context.Background(), cfg, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "COLLABFLOW_UI_ADDR") || !strings.Contains(err.Error(), "off") ||
		!strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("dev with the UI port taken: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "postgres")); !os.IsNotExist(err) {
		t.Fatalf("PostgreSQL was started before the UI port was checked: %v", err)
	}
}

// TestDevTemporalPortBusy (issue 18 item 11): with TEMPORAL_ADDRESS taken, dev exits
// non-zero with a message naming the address, and no PostgreSQL of its data directory is
// left running. Dev runs as a child process (this test binary again), since the embedded
// server's own listen failure exits the whole process.
func TestDevTemporalPortBusy(t *testing.T) {
	if os.Getenv("COLLABFLOW_TEST_DEV_CHILD") == "1" {
		if err := run(context.Background(), []string{"dev"}, os.Getenv, io.Discard); err != nil {
			fmt.Fprintln(os.Stderr, "collabflow:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dataDir := filepath.Join(t.TempDir(), ".data")
	pidFile := filepath.Join(dataDir, "postgres", "data", "postmaster.pid")
	t.Cleanup(func() { stopLeftPostgres(t, pidFile) })
	cmd := exec.Command(os.Args[0], "-test.run=^TestDevTemporalPortBusy$")
	cmd.Env = append(os.Environ(), "COLLABFLOW_TEST_DEV_CHILD=1",
		"COLLABFLOW_DATA_DIR="+dataDir, "TEMPORAL_ADDRESS="+ln.Addr().String(),
		"COLLABFLOW_ADDR="+freeAddr(t), "COLLABFLOW_SENDGRID_SINK_ADDR="+freeAddr(t), "COLLABFLOW_UI_ADDR="+freeAddr(t),
		"COLLABFLOW_LOG_LEVEL=warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("dev with TEMPORAL_ADDRESS taken: %v, want a non-zero exit; stderr:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "TEMPORAL_ADDRESS") || !strings.Contains(stderr.String(), ln.Addr().String()) {
		t.Fatalf("the message does not name TEMPORAL_ADDRESS %s:\n%s", ln.Addr(), stderr.String())
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Fatalf("PostgreSQL of %s left running (%s): %v", dataDir, pidFile, err)
	}
}

// stopLeftPostgres stops the PostgreSQL a failed TestDevTemporalPortBusy left behind, by
// the process id its postmaster.pid names.
func stopLeftPostgres(t *testing.T, pidFile string) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if pid, err := strconv.Atoi(strings.TrimSpace(line)); err == nil && pid > 0 {
		t.Logf("stopping the PostgreSQL left running, pid %d", pid)
		_ = syscall.Kill(pid, syscall.SIGINT)
	}
}

// devRoleKeys reads dev's $DATA/api-keys: one role:key line for each of the four roles,
// readable by its owner only.
func devRoleKeys(t *testing.T, dataDir string) map[string]string {
	t.Helper()
	path := filepath.Join(dataDir, "api-keys")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %v, want 0600", path, info.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for line := range strings.Lines(string(b)) {
		role, key, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || len(key) < 16 {
			t.Fatalf("%s: line %q is not role:key", path, line)
		}
		keys[role] = key
	}
	for _, role := range []string{"ops", "reviewer", "finance", "auditor"} {
		if keys[role] == "" {
			t.Fatalf("%s has no %s key: %q", path, role, b)
		}
	}
	return keys
}

// runDevDuring runs `collabflow dev` with env, calls f once the API is up, then stops it
// as Ctrl-C would and waits for a clean exit.
func runDevDuring(t *testing.T, env map[string]string, f func(base, key string)) {
	t.Helper()
	runDevPrinting(t, env, func(base, key, _ string) { f(base, key) })
}

// runDevPrinting is runDevDuring whose f also gets what dev printed (its stdout), all
// of which comes before the API is up.
func runDevPrinting(t *testing.T, env map[string]string, f func(base, key, printed string)) {
	t.Helper()
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- runDevReady(ctx, cfg, &out, func(addr string) { ready <- addr }) }()
	select {
	case addr := <-ready:
		saved, err := os.ReadFile(filepath.Join(cfg.DataDir, "api-key"))
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		key := strings.TrimSpace(string(saved))
		if !strings.Contains(out.String(), key) {
			cancel()
			t.Fatalf("dev did not print its API key: %q", out.String())
		}
		if env["COLLABFLOW_API_KEYS"] == "" {
			keys := devRoleKeys(t, cfg.DataDir)
			if keys["ops"] != key {
				cancel()
				t.Fatalf("api-keys' ops key %q is not api-key's %q", keys["ops"], key)
			}
			for role, k := range keys {
				if !strings.Contains(out.String(), k) {
					cancel()
					t.Fatalf("dev did not print its %s key: %q", role, out.String())
				}
			}
		}
		if ui := env["COLLABFLOW_UI_ADDR"]; ui != "" && !strings.Contains(out.String(), "Temporal Web UI: http://"+ui) {
			cancel()
			t.Fatalf("dev did not print its Web UI address: %q", out.String())
		}
		if !strings.Contains(out.String(), "Console: "+cfg.PublicURL+"/console") {
			cancel()
			t.Fatalf("dev did not print the console's address: %q", out.String())
		}
		if env["DATABASE_URL"] == "" && !strings.Contains(out.String(), "PostgreSQL: postgres://") {
			cancel()
			t.Fatalf("dev did not print its PostgreSQL URL: %q", out.String())
		}
		func() {
			defer cancel()
			f("http://"+addr, key, out.String())
		}()
	case err := <-done:
		cancel()
		t.Fatalf("dev stopped before it was ready: %v", err)
	case <-time.After(2 * time.Minute):
		cancel()
		t.Fatal("dev not ready within two minutes")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev did not stop cleanly: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("dev did not stop within a minute")
	}
}

func post(t *testing.T, base, key, path, body string, want int) map[string]any {
	t.Helper()
	return do(t, "POST", base+path, key, strings.NewReader(body), want)
}

func get(t *testing.T, base, key, path string) map[string]any {
	t.Helper()
	return do(t, "GET", base+path, key, nil, 200)
}

func do(t *testing.T, method, url, key string, body io.Reader, want int) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, raw, want)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: %v: %s", method, url, err, raw)
	}
	return m
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := temporalserver.FreeAddress()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// assertEncrypted reads a workflow's history with a client that has no codec, as anyone
// with access to Temporal's store would, and checks that its payloads are encrypted: the
// creator's name and email never appear in clear.
func assertEncrypted(t *testing.T, address, workflowID string) {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: address, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	it := c.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var payloads int
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := protojson.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte("Ada")) || bytes.Contains(raw, []byte("ada@example.com")) {
			t.Fatalf("event %d holds personal data in clear: %s", ev.GetEventId(), raw)
		}
		for _, p := range ev.GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads() {
			payloads++
			if enc := string(p.GetMetadata()["encoding"]); enc != codec.Encoding {
				t.Fatalf("start input encoded %q, want %q", enc, codec.Encoding)
			}
		}
	}
	if payloads == 0 {
		t.Fatal("no start input found")
	}
}

// assertDecodes decodes through pc, a codec endpoint of dev's, a payload encrypted with
// the dev key, as the temporal CLI (--codec-endpoint) or the Web UI would.
func assertDecodes(t *testing.T, pc converter.PayloadCodec, keyFile string) {
	t.Helper()
	c, err := devCodec(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	encrypted, err := c.DataConverter().ToPayloads("Ada Lovelace")
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := pc.Decode(encrypted.GetPayloads())
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	var name string
	if err := converter.GetDefaultDataConverter().FromPayloads(&commonpb.Payloads{Payloads: decoded}, &name); err != nil || name != "Ada Lovelace" {
		t.Fatalf("decoded %q, %v", name, err)
	}
}

// assertWebUI checks dev's Web UI at base: its page, the collaboration workflowID in its
// workflow list with the campaign among its search attributes, and payloads decoded
// through its codec as its pages ask, with their own Origin and no key.
func assertWebUI(t *testing.T, base, workflowID, campaignID, keyFile string) {
	t.Helper()
	resp, err := http.Get(webui.WorkflowURL(base, "default", workflowID))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("Web UI workflow page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	list := base + "/api/v1/namespaces/default/workflows?query=" + url.QueryEscape(fmt.Sprintf("WorkflowId=%q", workflowID))
	var raw []byte
	// Visibility follows the history by a moment.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(list)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && bytes.Contains(raw, []byte(workflowID)) && strings.Contains(searchAttributeValues(t, raw), campaignID) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Web UI list of %s: %d %s", workflowID, resp.StatusCode, raw)
		}
	}

	assertDecodes(t, converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{
		Endpoint: base + webui.CodecPath,
		ModifyRequest: func(r *http.Request) error {
			r.Header.Set("Origin", base)
			r.Header.Set("X-Namespace", "default")
			return nil
		},
	}), keyFile)
}

// searchAttributeValues is every search attribute value in a Web UI workflow list, decoded
// from its JSON payloads and joined.
func searchAttributeValues(t *testing.T, list []byte) string {
	t.Helper()
	var resp struct {
		Executions []struct {
			SearchAttributes struct {
				IndexedFields map[string]struct{ Data []byte }
			}
		}
	}
	if err := json.Unmarshal(list, &resp); err != nil {
		t.Fatalf("Web UI list: %v: %s", err, list)
	}
	var values []string
	for _, e := range resp.Executions {
		for name, p := range e.SearchAttributes.IndexedFields {
			values = append(values, name+"="+string(p.Data))
		}
	}
	return strings.Join(values, " ")
}
