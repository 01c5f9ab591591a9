package api_test

import (
	"context"
	"fmt"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/collabflow/collabflow/workflows"
)

// outreachSignals counts the outreach events a collaboration's history received.
func outreachSignals(t *testing.T, id string) int {
	t.Helper()
	n := 0
	iter := temporalClient.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil && a.GetSignalName() == workflows.SignalOutreachEvent {
			n++
		}
	}
	return n
}

// TestRepeatedInboundPostIsHandledOnce: SendGrid posts an Inbound Parse email again when
// it missed the answer. The repeat (same Message-ID) answers 200, records no second reply
// and does not signal the workflow again.
func TestRepeatedInboundPostIsHandledOnce(t *testing.T) {
	id := start(t, newCampaign(t), newCreator(t))
	eventually(t, "the first email", func() bool { return len(sentTo(id)) == 1 })
	m := sentTo(id)[0]
	fields := map[string]string{
		"headers": "Received: by mx.example.com\nMessage-Id: <reply-" + id + "@mail.example.com>\r\nSubject: Re: " + m.Subject + "\n",
		"from":    "Creator <" + m.To[0] + ">", "to": m.ReplyTo, "subject": "Re: " + m.Subject, "text": "Yes, tell me more",
		"envelope": fmt.Sprintf(`{"to":[%q],"from":%q}`, m.ReplyTo, m.To[0]),
	}
	if r := must(t, 200, inboundPost(t, fields, inboundSecret)); r.str("collaboration_id") != id || r.Body["duplicate"] != nil {
		t.Fatalf("first post: %s", r.Raw)
	}
	waitForStage(t, id, "negotiating")

	for range 2 {
		r := must(t, 200, inboundPost(t, fields, inboundSecret))
		if r.Body["duplicate"] != true {
			t.Fatalf("repeat: %s, want it named a duplicate", r.Raw)
		}
	}
	// Each post's signal, when there is one, is in the history before the post answers.
	if n := outreachSignals(t, id); n != 1 {
		t.Fatalf("%d outreach signals, want the reply once", n)
	}
	received, err := st.InboundMessages(context.Background(), id)
	if err != nil || len(received) != 1 || received[0].MessageID != "<reply-"+id+"@mail.example.com>" {
		t.Fatalf("received %+v %v, want the reply once", received, err)
	}

	// Another email from the creator (a new Message-ID) is recorded.
	fields["headers"] = "Message-ID: <second-" + id + "@mail.example.com>\n"
	must(t, 200, inboundPost(t, fields, inboundSecret))
	if received, err := st.InboundMessages(context.Background(), id); err != nil || len(received) != 2 {
		t.Fatalf("received %+v %v, want two emails", received, err)
	}
}
