package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"
)

// lifecycleHistory is what one workflow's history says about its cost and its start.
type lifecycleHistory struct {
	id     string
	events int
	bytes  int
	// started is when the workflow started; firstTask how long its first workflow task
	// waited for a worker.
	started   time.Time
	firstTask time.Duration
	profile   BareProfile
	// byType is the bytes of each event type.
	byType map[string]int
}

// histories reads the histories of ids (every run of each), eight at a time.
func histories(ctx context.Context, c client.Client, ids []string) ([]lifecycleHistory, error) {
	out := make([]lifecycleHistory, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, id := range ids {
		g.Go(func() error {
			h, err := readHistory(gctx, c, id)
			out[i] = h
			return err
		})
	}
	return out, g.Wait()
}

func readHistory(ctx context.Context, c client.Client, id string) (lifecycleHistory, error) {
	h := lifecycleHistory{id: id, byType: map[string]int{}}
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	timers := map[int64]time.Duration{}
	var firstScheduled time.Time
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return h, fmt.Errorf("history of %s: %w", id, err)
		}
		count(&h, e, timers, &firstScheduled)
	}
	return h, nil
}

// count adds event e to h. A Continue-As-New run's events count as the same lifecycle's.
func count(h *lifecycleHistory, e *historypb.HistoryEvent, timers map[int64]time.Duration, firstScheduled *time.Time) {
	h.events++
	size := proto.Size(e)
	h.bytes += size
	h.byType[strings.TrimPrefix(e.GetEventType().String(), "EVENT_TYPE_")] += size
	at := e.GetEventTime().AsTime()
	switch e.GetEventType() {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
		if h.started.IsZero() {
			h.started = at
		}
	case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
		if firstScheduled.IsZero() {
			*firstScheduled = at
		}
	case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
		if h.firstTask == 0 && !firstScheduled.IsZero() {
			h.firstTask = max(at.Sub(*firstScheduled), time.Nanosecond)
		}
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		h.profile.Activities++
	case enumspb.EVENT_TYPE_MARKER_RECORDED:
		if e.GetMarkerRecordedEventAttributes().GetMarkerName() == "LocalActivity" {
			h.profile.LocalActivities++
		}
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
		h.profile.Updates++
	case enumspb.EVENT_TYPE_TIMER_STARTED:
		timers[e.GetEventId()] = e.GetTimerStartedEventAttributes().GetStartToFireTimeout().AsDuration()
	case enumspb.EVENT_TYPE_TIMER_FIRED:
		h.profile.Timers = append(h.profile.Timers, timers[e.GetTimerFiredEventAttributes().GetStartedEventId()])
	}
}

// historyFigures are the median cost of a set of lifecycles.
type historyFigures struct {
	Lifecycles int `json:"lifecycles"`
	Events     int `json:"events_median"`
	EventsMin  int `json:"events_min"`
	EventsMax  int `json:"events_max"`
	Bytes      int `json:"bytes_median"`
	// BytesByType is where the median lifecycle's bytes go, by event type.
	BytesByType map[string]int `json:"bytes_by_type"`
}

func figures(hs []lifecycleHistory) historyFigures {
	var events, bytes []int
	for _, h := range hs {
		events, bytes = append(events, h.events), append(bytes, h.bytes)
	}
	f := historyFigures{Lifecycles: len(hs), Events: median(events), Bytes: median(bytes)}
	if len(events) > 0 {
		sort.Ints(events)
		f.EventsMin, f.EventsMax = events[0], events[len(events)-1]
		s := append([]lifecycleHistory(nil), hs...)
		sort.Slice(s, func(i, j int) bool { return s[i].bytes < s[j].bytes })
		f.BytesByType = s[(len(s)-1)/2].byType
	}
	return f
}

// medianProfile is the Temporal work of the lifecycle with the median number of events.
func medianProfile(hs []lifecycleHistory) BareProfile {
	if len(hs) == 0 {
		return BareProfile{}
	}
	s := append([]lifecycleHistory(nil), hs...)
	sort.Slice(s, func(i, j int) bool { return s[i].events < s[j].events })
	return s[(len(s)-1)/2].profile
}
