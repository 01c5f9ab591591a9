//go:build faults

package faults

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/collabflow/collabflow/devenv/sendgridsink"
	"github.com/collabflow/collabflow/workflows"
)

// providerEventWait is COLLABFLOW_PROVIDER_EVENT_WAIT's default, which the processes
// run with: a send retry after an attempt whose answer was lost sends nothing until an
// Event Webhook event marks the email sent or this long has passed (README, Outreach).
const providerEventWait = 2 * time.Minute

// report is what the checks found; each list holds the evidence of one assertion.
type report struct {
	driven    int
	intended  map[workflows.Stage]int
	reached   map[workflows.Stage]int
	attention []string
	lost      []string
	failed    []string
	// otherwiseClosed lists runs terminated or timed out, which nothing here should cause.
	otherwiseClosed []string
	dupPayouts      []string
	afterStop       []string
	duplicates      []string
	// dupExtra counts extra copies; dupOutside those no worker crash explains.
	dupExtra, dupOutside int
	disagree             []string
	unsettled            []string
	crashes              []string
	checkErrors          []string
	emails, outreach     int
	// stopsInOutage counts replies and cancels accepted during SendGrid's outage.
	stopsInOutage int
	// faultsInjected counts the faults injected and recovered from, of faultsPlanned.
	faultsInjected, faultsPlanned int
}

// final is a collaboration as the checks see it at the end.
type final struct {
	d      *driver
	state  workflows.CollaborationState
	status enumspb.WorkflowExecutionStatus
	reply  time.Time
	cancel time.Time
}

// check runs every assertion's query and returns the evidence.
func (h *harness) check(ctx context.Context) report {
	r := report{intended: map[workflows.Stage]int{}, reached: map[workflows.Stage]int{}, faultsPlanned: plannedFaults}
	s := h.stack
	for _, f := range h.faults {
		if f.err == nil {
			r.faultsInjected++
		}
	}
	r.crashes = append(s.api.crashed(), s.worker.crashed()...)
	oops := func(format string, args ...any) { r.checkErrors = append(r.checkErrors, fmt.Sprintf(format, args...)) }

	// Final states, from Temporal itself rather than through the API.
	finals := map[string]*final{}
	for _, d := range h.drivers {
		r.driven++
		r.intended[d.end]++
		if d.id == "" {
			r.lost = append(r.lost, fmt.Sprintf("#%d (%s): never started: %s", d.n, d.plan, d.outcome))
			continue
		}
		f := &final{d: d}
		finals[d.id] = f
		// A collaboration that reached its end closes its run right after: wait for that.
		_, err := pollUntil(ctx, time.Now(), 15*time.Second, d.id+" closed", func() bool {
			if err := h.query(ctx, d.id, &f.state); err != nil {
				return false
			}
			desc, err := s.tc.DescribeWorkflowExecution(ctx, d.id, "")
			if err != nil {
				return false
			}
			f.status = desc.GetWorkflowExecutionInfo().GetStatus()
			return f.status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING || !f.state.Stage.Terminal()
		})
		if err != nil && f.state.Stage == "" {
			oops("%s: no state: %v", d.id, err)
		}
		if f.reply, f.cancel, err = h.stopTimes(ctx, d.id); err != nil {
			oops("%s: history: %v", d.id, err)
		}
		switch {
		case f.state.Stage == d.end && f.status == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
			r.reached[d.end]++
		case f.state.Attention != nil:
			r.attention = append(r.attention, fmt.Sprintf("#%d (%s): in %s since %s: %s: %s", d.n, d.plan, f.state.Stage,
				f.state.Attention.Since.Format(time.TimeOnly), f.state.Attention.Step, f.state.Attention.Reason))
		default:
			r.lost = append(r.lost, fmt.Sprintf("#%d %s (%s): stage %q, workflow %s, driver: %s\n%s", d.n, d.id, d.plan,
				f.state.Stage, f.status, d.outcome, d.lastLines(6)))
		}
	}

	// Failed workflows, listed through the Temporal client as an operator would.
	resp, err := s.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: `ExecutionStatus = "Failed"`})
	if err != nil {
		oops("list failed workflows: %v", err)
	}
	for _, e := range resp.GetExecutions() {
		id, run := e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId()
		r.failed = append(r.failed, fmt.Sprintf("%s run %s: %s", id, run, h.failure(ctx, id, run)))
	}
	for id, f := range finals {
		switch f.status {
		case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
			if !slices.ContainsFunc(r.failed, func(s string) bool { return strings.HasPrefix(s, id) }) {
				r.failed = append(r.failed, fmt.Sprintf("%s: %s (described as failed, not yet listed)", id, h.failure(ctx, id, "")))
			}
		case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
			r.otherwiseClosed = append(r.otherwiseClosed, fmt.Sprintf("%s: %s", id, f.status))
		}
	}

	// The ledger: one fee row per collaboration, and what each workflow knows of it.
	type ledgerRow struct {
		id, collab, kind, currency, status string
		amount                             int64
	}
	ledger := map[string][]ledgerRow{}
	rows, err := s.db.Query(ctx, `SELECT id::text, collaboration_id, kind, currency, status, amount FROM payouts ORDER BY created_at`)
	if err != nil {
		oops("read the ledger: %v", err)
	} else {
		for rows.Next() {
			var p ledgerRow
			if err := rows.Scan(&p.id, &p.collab, &p.kind, &p.currency, &p.status, &p.amount); err != nil {
				oops("scan payout: %v", err)
				break
			}
			ledger[p.collab] = append(ledger[p.collab], p)
		}
		rows.Close()
	}
	for _, collab := range sortedKeys(ledger) {
		kinds := map[string]int{}
		for _, p := range ledger[collab] {
			kinds[p.kind]++
		}
		for kind, n := range kinds {
			if n > 1 {
				r.dupPayouts = append(r.dupPayouts, fmt.Sprintf("%s: %d %s rows", collab, n, kind))
			}
		}
		if kinds["fee"] > 0 && kinds["kill_fee"] > 0 {
			r.dupPayouts = append(r.dupPayouts, fmt.Sprintf("%s: both a fee and a kill fee", collab))
		}
	}
	for id, f := range finals {
		inState := map[string]workflows.PayoutState{}
		for _, p := range f.state.Payouts {
			inState[p.ID] = p
		}
		for _, p := range ledger[id] {
			w, ok := inState[p.id]
			switch {
			case !ok:
				r.disagree = append(r.disagree, fmt.Sprintf("ledger: %s has %s payout %s (%d %s, %s) that its workflow state does not list", id, p.kind, p.id, p.amount, p.currency, p.status))
			case w.Kind != p.kind || w.Amount != p.amount || w.Currency != p.currency:
				r.disagree = append(r.disagree, fmt.Sprintf("ledger: %s payout %s is %s %d %s in the ledger, %s %d %s in the state", id, p.id, p.kind, p.amount, p.currency, w.Kind, w.Amount, w.Currency))
			case p.kind == "fee" && (p.status == "paid") != (f.state.Stage == workflows.StageCompleted):
				r.disagree = append(r.disagree, fmt.Sprintf("ledger: %s fee %s is %s but the collaboration is %s", id, p.id, p.status, f.state.Stage))
			}
			delete(inState, p.id)
		}
		for pid, p := range inState {
			r.disagree = append(r.disagree, fmt.Sprintf("ledger: %s state lists %s payout %s that the ledger lacks", id, p.Kind, pid))
		}
		if f.state.Stage == workflows.StageCompleted && !slices.ContainsFunc(ledger[id], func(p ledgerRow) bool { return p.kind == "fee" }) {
			r.disagree = append(r.disagree, fmt.Sprintf("ledger: %s completed without a fee row", id))
		}
	}

	// Emails SendGrid accepted after the collaboration's reply or cancel was accepted.
	sent := s.mail.messages()
	r.emails = len(sent)
	for _, m := range sent {
		if isOutreach(m) {
			r.outreach++
		}
		f := finals[m.CustomArgs["collaboration_id"]]
		if f == nil || m.CustomArgs["kind"] == "ops" {
			continue
		}
		switch {
		case !f.reply.IsZero() && isOutreach(m) && m.ReceivedAt.After(f.reply):
			r.afterStop = append(r.afterStop, fmt.Sprintf("#%d %s accepted by SendGrid at %s, %s after the reply was accepted (%s)",
				f.d.n, m.CustomArgs["message_key"], h.at(m.ReceivedAt), m.ReceivedAt.Sub(f.reply).Round(time.Millisecond), h.at(f.reply)))
		case !f.cancel.IsZero() && m.ReceivedAt.After(f.cancel):
			r.afterStop = append(r.afterStop, fmt.Sprintf("#%d %s accepted by SendGrid at %s, %s after the cancel was accepted (%s)",
				f.d.n, m.CustomArgs["message_key"], h.at(m.ReceivedAt), m.ReceivedAt.Sub(f.cancel).Round(time.Millisecond), h.at(f.cancel)))
		}
	}

	// How often the stop rule was put to the test: replies and cancels accepted while
	// SendGrid refused every email.
	for _, fl := range h.faults {
		if !strings.HasPrefix(fl.name, "SendGrid") {
			continue
		}
		from, to := h.t0.Add(fl.at), h.t0.Add(fl.at+fl.down)
		for _, f := range finals {
			for _, at := range []time.Time{f.reply, f.cancel} {
				if !at.IsZero() && !at.Before(from) && at.Before(to) {
					r.stopsInOutage++
				}
			}
		}
	}

	// Duplicates: the same message key accepted twice. The README leaves one window: an
	// email whose answer was lost (a crash, a lost log write) and of which no Event Webhook
	// event reached the API within the provider event wait is sent again. A copy sent
	// after an event of the first reached the API, or sooner than the wait, is outside it.
	var kills []time.Time
	for _, f := range h.faults {
		if strings.HasPrefix(f.name, "worker killed") {
			kills = append(kills, h.t0.Add(f.at))
		}
	}
	byKey := map[string][]sendgridsink.Received{}
	for _, m := range sent {
		byKey[m.CustomArgs["message_key"]] = append(byKey[m.CustomArgs["message_key"]], m)
	}
	for _, key := range sortedKeys(byKey) {
		copies := byKey[key]
		if len(copies) < 2 {
			continue
		}
		var firstEvent *time.Time
		if err := s.db.QueryRow(ctx, `SELECT min(received_at) FROM email_events WHERE message_key = $1`, key).Scan(&firstEvent); err != nil {
			oops("events of %s: %v", key, err)
		}
		for i := 1; i < len(copies); i++ {
			r.dupExtra++
			prev, next := copies[i-1].ReceivedAt, copies[i].ReceivedAt
			var why string
			switch {
			case firstEvent != nil && firstEvent.Before(next):
				why = fmt.Sprintf("outside: SendGrid's event of the first copy reached the API at %s, before the copy", h.at(*firstEvent))
			case next.Sub(prev) < providerEventWait:
				why = fmt.Sprintf("outside: sent again %s after the first, sooner than the %s provider event wait", next.Sub(prev).Round(time.Millisecond), providerEventWait)
			default:
				why = "within: no event of the first copy reached the API within the provider event wait"
			}
			if !strings.HasPrefix(why, "within") {
				r.dupOutside++
			}
			for _, k := range kills {
				if !prev.After(k) && k.Sub(prev) < 5*time.Second {
					why += fmt.Sprintf("; the worker was killed %s after the first copy", k.Sub(prev).Round(time.Millisecond))
				}
			}
			r.duplicates = append(r.duplicates, fmt.Sprintf("%s: copies at %s and %s (%s)", key, h.at(prev), h.at(next), why))
		}
	}

	// The email log against what SendGrid accepted, and against the workflow state.
	type logRow struct {
		collab, kind, status, provider string
		sent                           bool
	}
	emailLog := map[string]logRow{}
	// Sent means SendGrid took it: marked sent, or a status from one of its events.
	rows, err = s.db.Query(ctx, `SELECT message_key, collaboration_id, kind, status, provider_message_id,
		sent_at IS NOT NULL OR status NOT IN ('sending', 'failed', 'stopped') FROM emails`)
	if err != nil {
		oops("read the email log: %v", err)
	} else {
		for rows.Next() {
			var key string
			var e logRow
			if err := rows.Scan(&key, &e.collab, &e.kind, &e.status, &e.provider, &e.sent); err != nil {
				oops("scan email: %v", err)
				break
			}
			emailLog[key] = e
		}
		rows.Close()
	}
	for _, key := range sortedKeys(byKey) {
		copies := byKey[key]
		e, ok := emailLog[key]
		switch {
		case !ok:
			r.disagree = append(r.disagree, fmt.Sprintf("email log: SendGrid accepted %s (%s) but the log has no row", key, copies[0].MessageID))
		case !e.sent:
			r.disagree = append(r.disagree, fmt.Sprintf("email log: SendGrid accepted %s at %s but the log says %q", key, h.at(copies[0].ReceivedAt), e.status))
		case !slices.ContainsFunc(copies, func(m sendgridsink.Received) bool { return m.MessageID == e.provider }):
			r.disagree = append(r.disagree, fmt.Sprintf("email log: %s has provider id %q, SendGrid gave %s", key, e.provider, copies[0].MessageID))
		}
	}
	sentOutreach := map[string]int{}
	for _, key := range sortedKeys(emailLog) {
		e := emailLog[key]
		if e.sent && e.kind == "outreach" {
			sentOutreach[e.collab]++
		}
		switch {
		case e.sent && len(byKey[key]) == 0:
			r.disagree = append(r.disagree, fmt.Sprintf("email log: %s is marked sent but SendGrid never accepted it", key))
		case e.status == "sending" && len(byKey[key]) == 0:
			// Never reached SendGrid. Once its collaboration's run has closed, nothing will
			// send it, so "sending" is no longer true of it.
			f := finals[e.collab]
			if f == nil || f.status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				r.unsettled = append(r.unsettled, fmt.Sprintf("%s: %q, its collaboration still running", key, e.status))
				break
			}
			r.disagree = append(r.disagree, fmt.Sprintf("email log: %s still says %q, but SendGrid never got it and the collaboration ended as %s%s",
				key, e.status, f.state.Stage, stoppedEvent(f.state, key)))
		}
	}
	for id, f := range finals {
		if f.state.Outreach.EmailsSent != sentOutreach[id] {
			r.disagree = append(r.disagree, fmt.Sprintf("state: %s counts %d outreach email(s) sent, the log %d", id, f.state.Outreach.EmailsSent, sentOutreach[id]))
		}
	}

	// The read model mirrors each workflow's stage.
	rows, err = s.db.Query(ctx, `SELECT id, stage FROM collaborations`)
	if err != nil {
		oops("read the read model: %v", err)
	} else {
		for rows.Next() {
			var id, stage string
			if err := rows.Scan(&id, &stage); err != nil {
				oops("scan collaboration: %v", err)
				break
			}
			if f := finals[id]; f != nil && string(f.state.Stage) != stage {
				r.disagree = append(r.disagree, fmt.Sprintf("read model: %s is %q in PostgreSQL, %q in its workflow", id, stage, f.state.Stage))
			}
		}
		rows.Close()
	}
	slices.Sort(r.disagree)
	slices.Sort(r.afterStop)
	return r
}

// stoppedEvent quotes the workflow's own record of an email it stopped, if any.
func stoppedEvent(s workflows.CollaborationState, key string) string {
	parts := strings.Split(key, "/")
	if len(parts) < 3 {
		return ""
	}
	kind, seq := parts[len(parts)-2], parts[len(parts)-1]
	for _, e := range s.Events {
		if e.Kind != workflows.EventEmailStopped {
			continue
		}
		if (kind == "outreach" && strings.HasPrefix(e.Detail, "email "+seq+" of")) || (kind != "outreach" && strings.HasPrefix(e.Detail, kind+" ")) {
			return fmt.Sprintf(" (its state records %s: %q)", e.Kind, e.Detail)
		}
	}
	return ""
}

// query asks a workflow for its state through Temporal (closed runs answer too).
func (h *harness) query(ctx context.Context, id string, state *workflows.CollaborationState) error {
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := h.stack.tc.QueryWorkflow(qctx, id, "", workflows.QueryState)
	if err != nil {
		return err
	}
	return v.Get(state)
}

// stopTimes reads from history when the collaboration's first reply and its cancel were
// accepted: the update's acceptance (ops), or the reply signal's arrival (Inbound Parse).
// It follows Continue-As-New back to the first run.
func (h *harness) stopTimes(ctx context.Context, id string) (reply, cancel time.Time, err error) {
	earliest := func(t *time.Time, at time.Time) {
		if t.IsZero() || at.Before(*t) {
			*t = at
		}
	}
	dc := faultsConverter()
	for run := ""; ; {
		iter := h.stack.tc.GetWorkflowHistory(ctx, id, run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var first *historypb.HistoryEvent
		for iter.HasNext() {
			ev, err := iter.Next()
			if err != nil {
				return reply, cancel, err
			}
			if first == nil {
				first = ev
			}
			at := ev.GetEventTime().AsTime()
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
				switch ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetName() {
				case workflows.UpdateRecordReply:
					earliest(&reply, at)
				case workflows.UpdateCancel:
					earliest(&cancel, at)
				}
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
				attrs := ev.GetWorkflowExecutionSignaledEventAttributes()
				var news workflows.OutreachEvent
				if attrs.GetSignalName() == workflows.SignalOutreachEvent && dc.FromPayloads(attrs.GetInput(), &news) == nil && news.Kind == workflows.OutreachReply {
					earliest(&reply, at)
				}
			}
		}
		if first == nil {
			return reply, cancel, errors.New("empty history")
		}
		if run = first.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId(); run == "" {
			return reply, cancel, nil
		}
	}
}

// failure is the message a failed run closed with.
func (h *harness) failure(ctx context.Context, id, run string) string {
	iter := h.stack.tc.GetWorkflowHistory(ctx, id, run, false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			return err.Error()
		}
		if f := ev.GetWorkflowExecutionFailedEventAttributes().GetFailure(); f != nil {
			msg := f.GetMessage()
			for c := f.GetCause(); c != nil; c = c.GetCause() {
				msg += ": " + c.GetMessage()
			}
			return msg
		}
	}
	return "(no failure event)"
}

// at writes a moment as seconds since driving began.
func (h *harness) at(t time.Time) string { return fmt.Sprintf("+%.1fs", t.Sub(h.t0).Seconds()) }

// lastLines is the end of a driver's log, for evidence.
func (d *driver) lastLines(n int) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	lines := d.log[max(0, len(d.log)-n):]
	return "      " + strings.Join(lines, "\n      ")
}

// summary is the printed result of the run.
func (h *harness) summary(r report) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	list := func(items []string) {
		for _, it := range items {
			p("      %s", it)
		}
	}
	ends := func(m map[workflows.Stage]int) string {
		return fmt.Sprintf("completed %d, cancelled %d, no_response %d", m[workflows.StageCompleted], m[workflows.StageCancelled], m[workflows.StageNoResponse])
	}
	s := h.stack
	p("")
	p("==================== make test-faults ====================")
	p("collaborations driven     %d (meant to end: %s)", r.driven, ends(r.intended))
	p("                          reached their end: %s", ends(r.reached))
	p("faults injected           %d of %d", r.faultsInjected, r.faultsPlanned)
	for i, f := range h.faults {
		p("  %d. at +%.1fs %s", i+1, f.at.Seconds(), f.name)
		usable := ""
		if f.measured {
			usable = fmt.Sprintf(", usable again %.1fs after restore", f.recovery.Seconds())
		}
		p("       down %.1fs%s; collaborations then: %s", f.down.Seconds(), usable, f.hit)
		if f.note != "" {
			p("       %s", f.note)
		}
		if f.err != nil {
			p("       FAILED TO INJECT OR RECOVER: %v", f.err)
		}
	}
	p("lost                      %d", len(r.lost))
	list(r.lost)
	p("waiting with attention    %d", len(r.attention))
	list(r.attention)
	p("failed workflows          %d", len(r.failed))
	list(r.failed)
	if len(r.otherwiseClosed) > 0 {
		p("terminated or timed out   %d", len(r.otherwiseClosed))
		list(r.otherwiseClosed)
	}
	p("duplicate payouts         %d", len(r.dupPayouts))
	list(r.dupPayouts)
	p("emails after reply/cancel %d (%d replies and cancels were accepted while SendGrid refused every email)", len(r.afterStop), r.stopsInOutage)
	list(r.afterStop)
	p("duplicate emails          %d (%d within the README's window: an accepted email whose answer was lost and of which no Event Webhook event reached the API within COLLABFLOW_PROVIDER_EVENT_WAIT, %s; %d outside it)",
		r.dupExtra, r.dupExtra-r.dupOutside, providerEventWait, r.dupOutside)
	list(r.duplicates)
	p("log, ledger, state agree  %s", map[bool]string{true: "yes", false: fmt.Sprintf("no: %d disagreement(s)", len(r.disagree))}[len(r.disagree) == 0])
	list(r.disagree)
	if len(r.unsettled) > 0 {
		p("email log rows never sent %d (logged, never accepted by SendGrid, neither sent nor failed)", len(r.unsettled))
		list(r.unsettled)
	}
	if len(r.crashes) > 0 {
		p("processes exiting by themselves %d", len(r.crashes))
		list(r.crashes)
	}
	if len(r.checkErrors) > 0 {
		p("errors while checking     %d", len(r.checkErrors))
		list(r.checkErrors)
	}
	c := h.api
	p("emails accepted by SendGrid %d (%d outreach); refused during the outage: %s; Event Webhook batches posted %d, %d of them refused or unanswered and posted again",
		r.emails, r.outreach, s.mail.refusals(), s.mail.batches.Load(), s.mail.redelivered.Load())
	p("post pages served %d, requests left to time out %d", s.posts.served.Load(), s.posts.hung.Load())
	p("API requests %d: retries %d, connection errors %d, 5xx answers %d, 202 answers %d",
		c.requests.Load(), c.retries.Load(), c.transportErrors.Load(), c.serverErrors.Load(), c.accepted202.Load())
	c.mu.Lock()
	failedChanges := c.failedChanges
	c.mu.Unlock()
	if len(failedChanges) > 0 {
		p("5xx answers to changes    %d (retried with the same Idempotency-Key)", len(failedChanges))
		for i, fc := range failedChanges {
			if i == 12 {
				p("      … %d more", len(failedChanges)-i)
				break
			}
			p("      %s POST %s: %s", h.at(fc.at), fc.path, fc.answer)
		}
	}
	if len(c.resumed) > 0 {
		p("changes retried after a cut connection, with their Idempotency-Key: %d", len(c.resumed))
		list(c.resumed)
	}
	var ts []string
	for _, t := range s.timings {
		ts = append(ts, fmt.Sprintf("%s %.1fs", t.what, t.took.Seconds()))
	}
	p("timings                   %s", strings.Join(ts, ", "))
	p("==========================================================")
	return b.String()
}

// assert fails the test for each figure that is not what the issue asks for.
func (r report) assert(t *testing.T) {
	t.Helper()
	check := func(ok bool, what string, evidence []string) {
		if !ok {
			t.Errorf("%s:\n  %s", what, strings.Join(evidence, "\n  "))
		}
	}
	check(r.faultsInjected == r.faultsPlanned, fmt.Sprintf("faults injected %d, want %d", r.faultsInjected, r.faultsPlanned), nil)
	check(len(r.lost) == 0, fmt.Sprintf("lost %d, want 0", len(r.lost)), r.lost)
	check(len(r.failed) == 0, fmt.Sprintf("failed workflows %d, want 0", len(r.failed)), r.failed)
	check(len(r.otherwiseClosed) == 0, fmt.Sprintf("terminated or timed-out workflows %d, want 0", len(r.otherwiseClosed)), r.otherwiseClosed)
	check(len(r.dupPayouts) == 0, fmt.Sprintf("duplicate payouts %d, want 0", len(r.dupPayouts)), r.dupPayouts)
	check(len(r.afterStop) == 0, fmt.Sprintf("emails after a reply or cancel %d, want 0", len(r.afterStop)), r.afterStop)
	check(r.dupOutside == 0, fmt.Sprintf("duplicate emails outside the documented window %d, want 0", r.dupOutside), r.duplicates)
	check(len(r.disagree) == 0, fmt.Sprintf("email log, ledger and workflow state disagree %d time(s)", len(r.disagree)), r.disagree)
	check(len(r.crashes) == 0, "processes exited by themselves", r.crashes)
	check(len(r.checkErrors) == 0, "the checks could not read everything", r.checkErrors)
}
