package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Contract is a contract document sent for signature.
type Contract struct {
	ID              string          `json:"id"`
	CollaborationID string          `json:"collaboration_id"`
	Version         int             `json:"version"`
	Terms           json.RawMessage `json:"terms"`
	HTML            string          `json:"html"`
	SHA256          string          `json:"sha256"`
	CreatedAt       time.Time       `json:"created_at"`
	ExpiresAt       time.Time       `json:"expires_at"`
	Signature       *Signature      `json:"signature"`
}

// Signature is how a creator signed: the typed name, when, from where, and the hash of
// the document they saw.
type Signature struct {
	Name      string    `json:"name"`
	At        time.Time `json:"at"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
}

const contractColumns = `id, collaboration_id, version, terms, html, sha256, created_at, expires_at,
	signed_name, signed_at, signed_ip, signed_user_agent`

// SaveContract stores a contract version of a collaboration once; saving the same version
// again returns the stored one, so a retried activity keeps the first document and id.
func (s *Store) SaveContract(ctx context.Context, c Contract) (Contract, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Contract{}, fmt.Errorf("new contract id: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO contracts (id, collaboration_id, version, terms, html, sha256, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (collaboration_id, version) DO NOTHING`,
		id.String(), c.CollaborationID, c.Version, c.Terms, c.HTML, c.SHA256, now(), c.ExpiresAt.UTC())
	if err != nil {
		return Contract{}, fmt.Errorf("save contract: %w", err)
	}
	return s.scanContract(ctx, `WHERE collaboration_id = $1 AND version = $2`, c.CollaborationID, c.Version)
}

// Contract returns one contract.
func (s *Store) Contract(ctx context.Context, id string) (Contract, error) {
	return s.scanContract(ctx, `WHERE id = $1`, id)
}

// SignedContract returns the latest signed contract of a collaboration: the terms both
// sides agreed to. ErrNotFound means none was signed (or its signature not yet recorded).
func (s *Store) SignedContract(ctx context.Context, collaborationID string) (Contract, error) {
	return s.scanContract(ctx, `WHERE collaboration_id = $1 AND signed_at IS NOT NULL ORDER BY version DESC LIMIT 1`, collaborationID)
}

// RecordSignature marks a contract signed with a stored signature of it, copying the
// evidence to the contract row; a second call keeps the first. ErrNotFound means no such
// signature of this contract is stored.
func (s *Store) RecordSignature(ctx context.Context, contractID, signatureID string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE contracts c SET signature_id = g.id, signed_name = g.name, signed_at = g.signed_at,
		signed_ip = g.ip, signed_user_agent = g.user_agent
		FROM signatures g WHERE c.id = $1 AND g.id = $2 AND g.contract_id = c.id AND c.signed_at IS NULL`, contractID, signatureID)
	if err != nil {
		return fmt.Errorf("record signature of %s: %w", contractID, pgError(err, nil))
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// Nothing changed: either the contract was signed already (the first signature stays)
	// or the signature is not this contract's.
	var found bool
	err = s.pool.QueryRow(ctx, `SELECT true FROM contracts c JOIN signatures g ON g.contract_id = c.id
		WHERE c.id = $1 AND g.id = $2`, contractID, signatureID).Scan(&found)
	if err != nil {
		return fmt.Errorf("record signature %s of %s: %w", signatureID, contractID, pgError(err, nil))
	}
	return nil
}

func (s *Store) scanContract(ctx context.Context, where string, args ...any) (Contract, error) {
	var (
		c                   Contract
		name, ip, userAgent *string
		signedAt            *time.Time
	)
	err := s.pool.QueryRow(ctx, `SELECT `+contractColumns+` FROM contracts `+where, args...).Scan(
		&c.ID, &c.CollaborationID, &c.Version, &c.Terms, &c.HTML, &c.SHA256, &c.CreatedAt, &c.ExpiresAt,
		&name, &signedAt, &ip, &userAgent)
	if err != nil {
		return Contract{}, fmt.Errorf("contract: %w", pgError(err, nil))
	}
	if signedAt != nil {
		c.Signature = &Signature{Name: deref(name), At: *signedAt, IP: deref(ip), UserAgent: deref(userAgent)}
	}
	return c, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
