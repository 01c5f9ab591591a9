package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	sdklog "go.temporal.io/sdk/log"
)

// TestSDKLogKeys: in JSON, the SDK's workflow and activity logs name the workflow
// collaboration_id and its run run_id, the keys of the API's request logs.
func TestSDKLogKeys(t *testing.T) {
	var buf bytes.Buffer
	logger := sdkLogger(slog.New(slog.NewJSONHandler(&buf, nil)))
	// As the SDK makes an activity's logger: its keys added with With.
	logger.(sdklog.WithLogger).With("Namespace", "default", "WorkflowID", "0195-collab", "RunID", "run-1", "ActivityType", "SendOutreachEmail").
		Info("email sent", "message_key", "k1")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	for key, want := range map[string]string{"collaboration_id": "0195-collab", "run_id": "run-1", "msg": "email sent",
		"message_key": "k1", "component": "temporal-sdk", "ActivityType": "SendOutreachEmail"} {
		if line[key] != want {
			t.Errorf("%s = %v, want %q in %s", key, line[key], want, buf.Bytes())
		}
	}
	if _, ok := line["WorkflowID"]; ok {
		t.Errorf("WorkflowID kept beside collaboration_id: %s", buf.Bytes())
	}
	t.Logf("%s", bytes.TrimSpace(buf.Bytes()))
}
