package store

import (
	"context"
	"fmt"
	"strings"
)

// DiscountCodeHolder returns the collaboration that holds a discount code, or ErrNotFound
// when the code is free. Codes are compared as AssignAttribution stores them: upper-cased.
func (s *Store) DiscountCodeHolder(ctx context.Context, code string) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT collaboration_id FROM attributions WHERE code = $1`,
		strings.ToUpper(code)).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("holder of discount code %q: %w", code, pgError(err, nil))
	}
	return id, nil
}
