package store

import (
	"context"
	"fmt"
)

// ForgetUnstartedCollaboration removes a read-model row the API wrote before starting its
// workflow (stage sequence 0) when the start failed, so the list shows no collaboration
// that does not exist. A row the workflow has written since is kept.
func (s *Store) ForgetUnstartedCollaboration(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM collaborations WHERE id = $1 AND stage_seq = 0`, id); err != nil {
		return fmt.Errorf("forget unstarted collaboration %s: %w", id, err)
	}
	return nil
}
