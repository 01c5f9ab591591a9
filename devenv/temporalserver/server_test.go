package temporalserver

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/log"
)

// TestFileServerRegistersAttributesOnReopen covers an old .data/temporal.db meeting newer
// code: search attributes added since are registered and retention follows the config.
func TestFileServerRegistersAttributesOnReopen(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "data", "temporal.db")

	first, err := Start(ctx, Options{DatabaseFile: file, SearchAttributes: map[string]enumspb.IndexedValueType{
		"OldAttr": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}

	second, err := Start(ctx, Options{DatabaseFile: file, Retention: 400 * 24 * time.Hour, SearchAttributes: map[string]enumspb.IndexedValueType{
		"OldAttr": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		"NewAttr": enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Stop() })

	c, err := client.Dial(client.Options{HostPort: second.Address(), Namespace: second.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	attrs, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"OldAttr", "NewAttr"} {
		if _, ok := attrs.GetCustomAttributes()[name]; !ok {
			t.Errorf("search attribute %s missing: %v", name, attrs.GetCustomAttributes())
		}
	}
	// Without a forced cache refresh on read, an attribute added at this start is usable
	// by the very next start call.
	if _, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "uses-new-attr", TaskQueue: "none",
		TypedSearchAttributes: temporal.NewSearchAttributes(temporal.NewSearchAttributeKeyKeyword("NewAttr").ValueSet("x")),
	}, "NoSuchWorkflow"); err != nil {
		t.Errorf("start with an attribute added at start: %v", err)
	}
	ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration(); got != 400*24*time.Hour {
		t.Errorf("retention %v", got)
	}
	assertWAL(t, file)
}

// assertWAL reads the SQLite header of file: bytes 18 and 19 (the file format's write and
// read versions) are 2 in WAL mode and 1 in the rollback-journal modes.
func assertWAL(t *testing.T, file string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	header := make([]byte, 20)
	if _, err := io.ReadFull(f, header); err != nil {
		t.Fatal(err)
	}
	if string(header[:15]) != "SQLite format 3" || header[18] != 2 || header[19] != 2 {
		t.Fatalf("%s is not in WAL mode: header %q", file, header)
	}
}

func TestFrontendAddressMustBeHostPort(t *testing.T) {
	for _, addr := range []string{"7233", "localhost:", "localhost:http", "127.0.0.1:70000"} {
		if _, err := Start(context.Background(), Options{FrontendAddress: addr}); err == nil {
			t.Errorf("address %q accepted", addr)
		}
	}
}

// TestSearchAttributeCacheNotForcedOnRead reads the setting as the server does, from a
// collection over the dynamic configuration it is built with: no search-attribute cache
// refresh on every read, which cost 11 % of lifecycles per second.
func TestSearchAttributeCacheNotForcedOnRead(t *testing.T) {
	col := dynamicconfig.NewCollection(dynamicConfig(), log.NewNoopLogger())
	if dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Get(col)() {
		t.Fatalf("%s is on", dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key())
	}
}

// TestSynchronousModeMustBeKnown: a mode the decision did not weigh (OFF loses
// transactions on a process crash) is refused before anything starts.
func TestSynchronousModeMustBeKnown(t *testing.T) {
	for _, mode := range []string{"OFF", "EXTRA", "sometimes"} {
		if _, err := Start(context.Background(), Options{DatabaseFile: filepath.Join(t.TempDir(), "t.db"), Synchronous: mode}); err == nil {
			t.Errorf("synchronous mode %q accepted", mode)
		}
	}
}

// TestFrontendPortTaken (issue 18 item 11): a frontend port another process holds is an
// error naming it, returned before the server starts; the server itself would exit the
// whole process from its logger, skipping the caller's clean-up.
func TestFrontendPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Start(context.Background(), Options{FrontendAddress: ln.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("start on a taken port: %v", err)
	}
}
