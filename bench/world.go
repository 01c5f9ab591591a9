package bench

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/collabflow/collabflow/devenv/sendgridsink"
	"github.com/collabflow/collabflow/workflows"
)

// mailboxes hold the emails the sink accepted, per collaboration, and wake whoever waits
// for one: drivers learn of an email the moment it is sent, without polling.
type mailboxes struct {
	mu    sync.Mutex
	boxes map[string]*mailbox
}

type mailbox struct {
	msgs []sendgridsink.Received
	wake chan struct{}
}

func newMailboxes() *mailboxes { return &mailboxes{boxes: map[string]*mailbox{}} }

func (m *mailboxes) box(id string) *mailbox {
	b := m.boxes[id]
	if b == nil {
		b = &mailbox{wake: make(chan struct{})}
		m.boxes[id] = b
	}
	return b
}

// accept files a message under its collaboration.
func (m *mailboxes) accept(r sendgridsink.Received) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.box(r.CustomArgs["collaboration_id"])
	b.msgs = append(b.msgs, r)
	close(b.wake)
	b.wake = make(chan struct{})
}

// wait returns the first message of collaboration id that match accepts, waiting for it.
func (m *mailboxes) wait(ctx context.Context, id, what string, match func(sendgridsink.Received) bool) (sendgridsink.Received, error) {
	for {
		m.mu.Lock()
		b := m.box(id)
		for _, r := range b.msgs {
			if match(r) {
				m.mu.Unlock()
				return r, nil
			}
		}
		wake := b.wake
		m.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return sendgridsink.Received{}, fmt.Errorf("%s of %s: %w", what, id, ctx.Err())
		}
	}
}

// count is how many collaborations got at least one email that match accepts.
func (m *mailboxes) count(match func(sendgridsink.Received) bool) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, b := range m.boxes {
		for _, r := range b.msgs {
			if match(r) {
				n++
				break
			}
		}
	}
	return n
}

// first is when each collaboration's first email that match accepts arrived.
func (m *mailboxes) first(match func(sendgridsink.Received) bool) map[string]time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]time.Time{}
	for id, b := range m.boxes {
		for _, r := range b.msgs {
			if match(r) {
				out[id] = r.ReceivedAt
				break
			}
		}
	}
	return out
}

// stages follows the stage of every collaboration of a campaign from the read model (one
// list call per 200 collaborations per sweep), so that a thousand waiting drivers cost
// PostgreSQL a few queries a second instead of Temporal a thousand.
type stages struct {
	mu   sync.Mutex
	now  map[string]string
	wake chan struct{}
	// order holds the collaborations in the order the sweeps found them; creators maps
	// each to its creator.
	order    []string
	creators map[string]string
}

func newStages() *stages {
	return &stages{now: map[string]string{}, creators: map[string]string{}, wake: make(chan struct{})}
}

// since returns the collaborations found after the first n.
func (s *stages) since(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.order[min(n, len(s.order)):]...)
}

// creator is the creator of collaboration id, once a sweep has found it.
func (s *stages) creator(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creators[id]
}

// follow sweeps campaign's collaborations every interval until ctx ends.
func (s *stages) follow(ctx context.Context, api *apiClient, key, campaignID string, every time.Duration) {
	for ctx.Err() == nil {
		type row struct{ id, creator, stage string }
		var seen []row
		after := ""
		for {
			var page struct {
				Items []struct {
					ID        string `json:"id"`
					CreatorID string `json:"creator_id"`
					Stage     string `json:"stage"`
				} `json:"items"`
				Next string `json:"next"`
			}
			q := url.Values{"campaign_id": {campaignID}, "limit": {"200"}}
			if after != "" {
				q.Set("after", after)
			}
			if err := api.want(ctx, "GET", "/v1/collaborations?"+q.Encode(), key, nil, &page, 200); err != nil {
				break
			}
			for _, it := range page.Items {
				seen = append(seen, row{it.ID, it.CreatorID, it.Stage})
			}
			if page.Next == "" || len(page.Items) == 0 {
				break
			}
			after = page.Next
		}
		s.mu.Lock()
		for _, r := range seen {
			if _, ok := s.now[r.id]; !ok {
				s.order = append(s.order, r.id)
				s.creators[r.id] = r.creator
			}
			s.now[r.id] = r.stage
		}
		close(s.wake)
		s.wake = make(chan struct{})
		s.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(every):
		}
	}
}

// wait returns once collaboration id is in one of want; a terminal stage not wanted is
// an error.
func (s *stages) wait(ctx context.Context, id string, want ...string) error {
	for {
		s.mu.Lock()
		st, wake := s.now[id], s.wake
		s.mu.Unlock()
		for _, w := range want {
			if st == w {
				return nil
			}
		}
		if workflows.Stage(st).Terminal() {
			return fmt.Errorf("%s ended %s while the driver waited for %v", id, st, want)
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return fmt.Errorf("%s still %q, waiting for %v: %w", id, st, want, ctx.Err())
		}
	}
}
