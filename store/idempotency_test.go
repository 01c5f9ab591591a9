package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/store/storetest"
)

// TestIdempotentAnswers: an unfinished (202) answer is replaced by the final one for the
// same body; a final answer is never replaced, so of two racing repeats the first stays.
func TestIdempotentAnswers(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	if _, err := s.IdempotentAnswer(ctx, "k1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
	save := func(a store.IdempotentAnswer) {
		t.Helper()
		if err := s.SaveIdempotentAnswer(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	a := store.IdempotentAnswer{Key: "k1", Route: "POST /v1/x", BodySHA256: "b1", Status: 202, ContentType: "application/json", Body: []byte(`{"status":"accepted"}`)}
	save(a)
	a.Final, a.Status, a.Body = true, 200, []byte(`{"stage":"cancelled"}`)
	save(a)
	a.Body = []byte(`{"stage":"later"}`)
	save(a)
	got, err := s.IdempotentAnswer(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Final || got.Status != 200 || string(got.Body) != `{"stage":"cancelled"}` || got.Route != "POST /v1/x" || got.BodySHA256 != "b1" {
		t.Fatalf("stored %+v", got)
	}
}
