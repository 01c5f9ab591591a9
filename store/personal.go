package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// SignatureEvidence is what a creator gave when signing through the portal. It is stored
// before the workflow is asked to accept the signature, which then carries only its id.
type SignatureEvidence struct {
	ID              string
	ContractID      string
	CollaborationID string
	Name            string
	IP              string
	UserAgent       string
	RequestID       string
	LinkHash        string
	At              time.Time
}

// SaveSignature stores signature evidence under a new id and returns it.
func (s *Store) SaveSignature(ctx context.Context, e SignatureEvidence) (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new signature id: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO signatures (id, contract_id, collaboration_id, name, ip, user_agent, request_id, link_hash, signed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		id.String(), e.ContractID, e.CollaborationID, e.Name, e.IP, e.UserAgent, e.RequestID, e.LinkHash, e.At.UTC())
	if err != nil {
		return "", fmt.Errorf("save signature of %s: %w", e.ContractID, pgError(err, nil))
	}
	return id.String(), nil
}

// DiscardSignature removes evidence of a signature the workflow refused, unless a
// contract was signed with it.
func (s *Store) DiscardSignature(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM signatures g WHERE g.id = $1
		AND NOT EXISTS (SELECT 1 FROM contracts c WHERE c.signature_id = g.id)`, id)
	if err != nil {
		return fmt.Errorf("discard signature %s: %w", id, err)
	}
	return nil
}

// Note kinds.
const (
	// NoteReply is a reply ops recorded by hand.
	NoteReply = "reply"
)

// Note is text a person typed about a collaboration that may name or quote the creator.
type Note struct {
	ID              string    `json:"id"`
	CollaborationID string    `json:"collaboration_id"`
	Kind            string    `json:"kind"`
	Body            string    `json:"body"`
	Author          string    `json:"author"`
	CreatedAt       time.Time `json:"created_at"`
}

// SaveNote stores a note under a new id and returns it with the id and time.
func (s *Store) SaveNote(ctx context.Context, n Note) (Note, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Note{}, fmt.Errorf("new note id: %w", err)
	}
	n.ID, n.CreatedAt = id.String(), now()
	_, err = s.pool.Exec(ctx, `INSERT INTO notes (id, collaboration_id, kind, body, author, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		n.ID, n.CollaborationID, n.Kind, n.Body, n.Author, n.CreatedAt)
	if err != nil {
		return Note{}, fmt.Errorf("save note: %w", err)
	}
	return n, nil
}

// DiscardNote removes a note whose change the workflow refused.
func (s *Store) DiscardNote(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM notes WHERE id = $1`, id); err != nil {
		return fmt.Errorf("discard note %s: %w", id, err)
	}
	return nil
}

// Notes returns a collaboration's notes, oldest first.
func (s *Store) Notes(ctx context.Context, collaborationID string) ([]Note, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, collaboration_id, kind, body, author, created_at FROM notes
		WHERE collaboration_id = $1 ORDER BY created_at, id`, collaborationID)
	if err != nil {
		return nil, fmt.Errorf("notes of %s: %w", collaborationID, err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Note])
	if err != nil {
		return nil, fmt.Errorf("notes of %s: %w", collaborationID, err)
	}
	return list, nil
}

// AddressHash is how the suppression list remembers an erased address: the SHA-256 of
// the trimmed, lower-cased address, prefixed so it can never equal a real address.
func AddressHash(address string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(address))))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ErrErased is a creator whose personal data was erased: there is nothing left to change.
var ErrErased = errors.New("creator was erased")

// Erasure is what erasing a creator did.
type Erasure struct {
	CreatorID string    `json:"creator_id"`
	ErasedAt  time.Time `json:"erased_at"`
	// Already means an earlier request erased the creator.
	Already bool `json:"already_erased"`
}

// SuppressErased puts the hash of a creator's address on the suppression list, so that no
// email goes to it while (and after) the creator is erased, whatever the campaign.
func (s *Store) SuppressErased(ctx context.Context, creatorID string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO suppressions (email, reason, source, created_at)
		SELECT CASE WHEN erased_at IS NULL THEN 'sha256:' || encode(sha256(convert_to(lower(trim(email)), 'UTF8')), 'hex') ELSE email END,
			'erased', 'erasure', $2 FROM creators WHERE id = $1
		ON CONFLICT (email) DO NOTHING`, creatorID, now())
	if err != nil {
		return fmt.Errorf("suppress erased creator %s: %w", creatorID, pgError(err, nil))
	}
	return nil
}

// EraseCreator removes a creator's personal data from every table in one transaction:
// name, address, handles and time zone on the roster; the bodies, subjects and addresses
// of emails to and from them; provider event details; signature evidence and the signed
// documents (which name them); notes; stored API answers about their collaborations (by
// collaboration id) or quoting them; and their discount codes, which may be made from
// their handle, replaced by the codes' hashes. What stays is what the business must keep
// and names nobody: ids, stages, amounts in the ledger, metrics, contract terms and hashes,
// the codes' hashes, and the address's hash on the suppression list (replacing a plain
// entry), so that the address is never emailed again.
func (s *Store) EraseCreator(ctx context.Context, id string) (Erasure, error) {
	out := Erasure{CreatorID: id}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var (
			name, email string
			erasedAt    *time.Time
		)
		err := tx.QueryRow(ctx, `SELECT name, email, erased_at FROM creators WHERE id = $1 FOR UPDATE`, id).Scan(&name, &email, &erasedAt)
		if err != nil {
			return pgError(err, nil)
		}
		if erasedAt != nil {
			out.ErasedAt, out.Already = *erasedAt, true
			return nil
		}
		out.ErasedAt = now()
		hash := AddressHash(email)
		steps := []struct {
			what string
			sql  string
			args []any
		}{
			{"suppression list", `WITH old AS (DELETE FROM suppressions WHERE email = lower(trim($1)) RETURNING reason, source, created_at)
				INSERT INTO suppressions (email, reason, source, created_at)
				SELECT $2, COALESCE((SELECT reason FROM old), 'erased'), COALESCE((SELECT source FROM old), 'erasure'),
					COALESCE((SELECT created_at FROM old), $3)
				ON CONFLICT (email) DO NOTHING`, []any{email, hash, out.ErasedAt}},
			{"email events", `UPDATE email_events SET detail = '' WHERE message_key IN (SELECT message_key FROM emails
				WHERE collaboration_id IN (SELECT id FROM collaborations WHERE creator_id = $1) OR lower(to_email) = lower(trim($2)))`, []any{id, email}},
			{"emails", `UPDATE emails SET to_email = '', subject = '', body_text = '', reply_to = ''
				WHERE collaboration_id IN (SELECT id FROM collaborations WHERE creator_id = $1) OR lower(to_email) = lower(trim($2))`, []any{id, email}},
			{"received emails", `UPDATE inbound_messages SET from_email = '', to_email = '', subject = '', body_text = '',
				message_id = CASE WHEN message_id = '' THEN '' ELSE 'erased:' || id END
				WHERE collaboration_id IN (SELECT id FROM collaborations WHERE creator_id = $1) OR lower(from_email) = lower(trim($2))`, []any{id, email}},
			{"signatures", `UPDATE signatures SET name = '', ip = '', user_agent = ''
				WHERE collaboration_id IN (SELECT id FROM collaborations WHERE creator_id = $1)`, []any{id}},
			{"contracts", `UPDATE contracts SET html = '',
				signed_name = CASE WHEN signed_at IS NULL THEN NULL ELSE '' END,
				signed_ip = CASE WHEN signed_at IS NULL THEN NULL ELSE '' END,
				signed_user_agent = CASE WHEN signed_at IS NULL THEN NULL ELSE '' END
				WHERE collaboration_id IN (SELECT id FROM collaborations WHERE creator_id = $1)`, []any{id}},
			{"notes", `UPDATE notes SET body = '' WHERE collaboration_id IN (SELECT id FROM collaborations WHERE creator_id = $1)`, []any{id}},
			// Stored answers about their collaborations carry post URLs, captions and the
			// discount code; rows stored before answers named their collaboration (kept
			// for 7 days) are found by the address or name they quote.
			{"stored answers", `DELETE FROM idempotency_keys WHERE collaboration_id IN (SELECT id FROM collaborations WHERE creator_id = $1)
				OR (collaboration_id = '' AND (position(convert_to($2, 'UTF8') IN body) > 0
					OR ($3 <> '' AND position(convert_to($3, 'UTF8') IN body) > 0)))`, []any{id, email, name}},
			// The discount code may be made from their handle (codes were, before they
			// were random): its hash stays, enough to tell which collaboration a code
			// in the history belonged to; the tracking link, which carries the code and
			// the handle, goes.
			{"discount codes", `UPDATE attributions SET code = 'sha256:' || encode(sha256(convert_to(code, 'UTF8')), 'hex'), tracking_url = ''
				WHERE collaboration_id IN (SELECT id FROM collaborations WHERE creator_id = $1) AND code NOT LIKE 'sha256:%'`, []any{id}},
			{"roster", `UPDATE creators SET name = '', email = 'erased:' || $2, timezone = 'UTC', handles = '{}', recent_post = '',
				updated_at = $3, erased_at = $3 WHERE id = $1`, []any{id, strings.TrimPrefix(hash, "sha256:"), out.ErasedAt}},
		}
		for _, st := range steps {
			if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
				return fmt.Errorf("%s: %w", st.what, err)
			}
		}
		return nil
	})
	if err != nil {
		return Erasure{}, fmt.Errorf("erase creator %s: %w", id, err)
	}
	return out, nil
}

// TablesContaining names every table of the schema with a row whose text contains any of
// needles (ignoring case; byte columns, such as stored answers, are searched for the exact
// bytes): how an erasure is checked, and how ops find where a person's data is before they
// erase it. It reads every row, so it is for checks, not requests.
func (s *Store) TablesContaining(ctx context.Context, needles ...string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT t.table_name, COALESCE(array_agg(c.column_name::text) FILTER (WHERE c.data_type = 'bytea'), '{}')
		FROM information_schema.tables t JOIN information_schema.columns c USING (table_schema, table_name)
		WHERE t.table_schema = current_schema() AND t.table_type = 'BASE TABLE' GROUP BY t.table_name ORDER BY t.table_name`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	type table struct {
		Name  string
		Bytes []string
	}
	tables, err := pgx.CollectRows(rows, pgx.RowToStructByPos[table])
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var found []string
	for _, t := range tables {
		cond := `strpos(lower(row_to_json(t)::text), lower($1)) > 0`
		for _, col := range t.Bytes {
			cond += ` OR position(convert_to($1, 'UTF8') IN t.` + pgx.Identifier{col}.Sanitize() + `) > 0`
		}
		for _, needle := range needles {
			var hit bool
			err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgx.Identifier{t.Name}.Sanitize()+` t WHERE `+cond+`)`, needle).Scan(&hit)
			if err != nil {
				return nil, fmt.Errorf("search %s: %w", t.Name, err)
			}
			if hit {
				found = append(found, t.Name+": "+needle)
			}
		}
	}
	return found, nil
}
