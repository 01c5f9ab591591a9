package api_test

import (
	"fmt"
	"strings"
	"testing"
)

func TestCreateCreatorAcceptsTheMinimalBody(t *testing.T) {
	r := must(t, 201, call(t, "POST", "/v1/creators", opsKey,
		`{"name":"Ada Lovelace","email":"ada@example.com","timezone":"Europe/London","handles":{"instagram":"ada.codes"},"followers":48000}`))
	if r.str("id") == "" || r.str("tier") != "micro" {
		t.Fatalf("created %s", r.Raw)
	}
	got := must(t, 200, call(t, "GET", "/v1/creators/"+r.str("id"), reviewerKey, nil))
	if got.str("email") != "ada@example.com" || got.Body["handles"].(map[string]any)["instagram"] != "ada.codes" {
		t.Fatalf("read back %s", got.Raw)
	}
}

func TestCreateCreatorRefusesBadInput(t *testing.T) {
	valid := `"name":"N","email":"n@example.com","timezone":"UTC"`
	tests := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"empty body", ``, 400, "body"},
		{"malformed JSON", `{"name":`, 400, "body"},
		{"not an object", `[1]`, 400, "body"},
		{"two objects", `{` + valid + `}{}`, 400, "body"},
		{"unknown field", `{` + valid + `,"tier":"mega"}`, 400, "tier"},
		{"wrong type", `{` + valid + `,"followers":"many"}`, 400, "followers"},
		{"missing name", `{"email":"n@example.com","timezone":"UTC"}`, 422, "name"},
		{"blank name", `{"name":"  ","email":"n@example.com","timezone":"UTC"}`, 422, "name"},
		{"bad email", `{"name":"N","email":"nope","timezone":"UTC"}`, 422, "email"},
		{"bad time zone", `{"name":"N","email":"n@example.com","timezone":"Mars/Olympus"}`, 422, "timezone"},
		{"unknown platform", `{` + valid + `,"handles":{"myspace":"n"}}`, 422, "handles[myspace]"},
		{"bad handle", `{` + valid + `,"handles":{"instagram":"two words"}}`, 422, "handles[instagram]"},
		{"negative followers", `{` + valid + `,"followers":-1}`, 422, "followers"},
		{"bad country", `{` + valid + `,"audience_countries":{"XX":10}}`, 422, "audience_countries[XX]"},
		{"share over 100", `{` + valid + `,"audience_countries":{"GB":120}}`, 422, "audience_countries[GB]"},
		{"shares add up over 100", `{` + valid + `,"audience_countries":{"GB":60,"US":50}}`, 422, "audience_countries"},
		{"empty niche", `{` + valid + `,"niches":[""]}`, 422, "niches[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, "POST", "/v1/creators", opsKey, tt.body)
			if r.Status != tt.status || r.field(tt.field) == "" {
				t.Fatalf("got %d %s, want %d naming %q", r.Status, r.Raw, tt.status, tt.field)
			}
		})
	}
	list := must(t, 200, call(t, "GET", "/v1/creators?q=N&limit=200", opsKey, nil))
	for _, c := range list.Body["items"].([]any) {
		if c.(map[string]any)["email"] == "n@example.com" {
			t.Fatal("a refused creator was stored")
		}
	}
}

func TestCreatorEmailTakenIsAConflict(t *testing.T) {
	body := `{"name":"Dup","email":"dup@example.com","timezone":"UTC"}`
	must(t, 201, call(t, "POST", "/v1/creators", opsKey, body))
	r := must(t, 409, call(t, "POST", "/v1/creators", opsKey, `{"name":"Dup","email":"DUP@example.com","timezone":"UTC"}`))
	if r.field("email") == "" {
		t.Fatalf("conflict does not name email: %s", r.Raw)
	}
}

func TestPatchCreator(t *testing.T) {
	id := newCreator(t)
	r := must(t, 200, call(t, "PATCH", "/v1/creators/"+id, opsKey, `{"followers":750000,"avg_engagement":15000,"niches":["fitness"]}`))
	if r.str("tier") != "macro" || r.Body["engagement_rate"].(float64) != 0.02 {
		t.Fatalf("patched %s", r.Raw)
	}
	bad := must(t, 422, call(t, "PATCH", "/v1/creators/"+id, opsKey, `{"followers":5,"timezone":"Nowhere/Town"}`))
	if bad.field("timezone") == "" {
		t.Fatalf("bad patch: %s", bad.Raw)
	}
	got := must(t, 200, call(t, "GET", "/v1/creators/"+id, opsKey, nil))
	if got.Body["followers"].(float64) != 750000 {
		t.Fatal("a refused patch was partly written")
	}
	must(t, 404, call(t, "PATCH", "/v1/creators/01a21e0c-0000-7000-8000-000000000000", opsKey, `{"name":"x"}`))
	must(t, 404, call(t, "GET", "/v1/creators/not-an-id", opsKey, nil))
	must(t, 403, call(t, "PATCH", "/v1/creators/"+id, reviewerKey, `{"name":"x"}`))
}

func TestListCreatorsFiltersAndPages(t *testing.T) {
	tag := fmt.Sprintf("niche-%d", seq)
	for i := range 5 {
		must(t, 201, call(t, "POST", "/v1/creators", opsKey, map[string]any{
			"name": fmt.Sprintf("Lister %d", i), "email": fmt.Sprintf("lister%d@example.com", i), "timezone": "UTC",
			"followers": 2_000 + i*200_000, "niches": []string{tag}, "handles": map[string]string{"tiktok": fmt.Sprintf("lister_%d", i)},
		}))
	}
	var names []string
	next := ""
	for range 10 {
		r := must(t, 200, call(t, "GET", "/v1/creators?limit=2&niche="+tag+"&after="+next, auditorKey, nil))
		for _, c := range r.Body["items"].([]any) {
			names = append(names, c.(map[string]any)["name"].(string))
		}
		if next = r.str("next"); next == "" {
			break
		}
	}
	if strings.Join(names, ",") != "Lister 0,Lister 1,Lister 2,Lister 3,Lister 4" {
		t.Fatalf("pages gave %v", names)
	}
	mid := must(t, 200, call(t, "GET", "/v1/creators?tier=mid&niche="+tag, opsKey, nil))
	if n := len(mid.Body["items"].([]any)); n != 2 { // 202k and 402k
		t.Fatalf("tier filter gave %d", n)
	}
	byHandle := must(t, 200, call(t, "GET", "/v1/creators?q=LISTER_3", opsKey, nil))
	if n := len(byHandle.Body["items"].([]any)); n != 1 {
		t.Fatalf("handle search gave %d", n)
	}
	for _, q := range []string{"tier=giant", "limit=0", "limit=201", "limit=x", "after=zzz"} {
		r := must(t, 400, call(t, "GET", "/v1/creators?"+q, opsKey, nil))
		name, _, _ := strings.Cut(q, "=")
		if r.field(name) == "" {
			t.Errorf("%s: %s", q, r.Raw)
		}
	}
}
