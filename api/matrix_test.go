package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/collabflow/collabflow/api"
)

// access is who may call a route: "public" routes authenticate by other means (a signed
// link, a webhook signature or password) or not at all; "session" routes are the console's,
// which authenticate by its session cookie (console_test.go checks what each role sees
// there); the others name the API key roles.
var access = map[string][]string{
	"GET /console/static/*":                             {"public"},
	"GET /console/sign-in":                              {"public"},
	"POST /console/sign-in":                             {"public"},
	"POST /console/sign-out":                            {"session"},
	"GET /console":                                      {"session"},
	"GET /console/campaigns/:id":                        {"session"},
	"GET /console/campaigns/:id/report":                 {"session"},
	"POST /console/campaigns/:id/bulk":                  {"session"},
	"POST /console/campaigns/:id/start":                 {"session"},
	"GET /console/collaborations/:id":                   {"session"},
	"POST /console/collaborations/:id/:action":          {"session"},
	"GET /console/reviews":                              {"session"},
	"GET /console/payouts":                              {"session"},
	"POST /console/payouts/:id/confirm":                 {"session"},
	"GET /healthz":                                      {"public"},
	"GET /readyz":                                       {"public"},
	"GET /openapi.json":                                 {"public"},
	"POST /webhooks/sendgrid/events":                    {"public"},
	"POST /webhooks/sendgrid/inbound":                   {"public"},
	"GET /u/:token":                                     {"public"},
	"POST /u/:token":                                    {"public"},
	"GET /portal/contracts/:token":                      {"public"},
	"POST /portal/contracts/:token":                     {"public"},
	"GET /portal/content/:token":                        {"public"},
	"POST /portal/content/:token":                       {"public"},
	"POST /v1/creators":                                 {api.RoleOps},
	"GET /v1/creators":                                  {api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor},
	"GET /v1/creators/:id":                              {api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor},
	"PATCH /v1/creators/:id":                            {api.RoleOps},
	"DELETE /v1/creators/:id":                           {api.RoleOps},
	"POST /v1/campaigns":                                {api.RoleOps},
	"GET /v1/campaigns":                                 {api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor},
	"GET /v1/campaigns/:id":                             {api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor},
	"POST /v1/campaigns/:id/metrics":                    {api.RoleOps},
	"POST /v1/campaigns/:id/launch":                     {api.RoleOps},
	"GET /v1/campaigns/:id/pipeline":                    {api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor},
	"POST /v1/campaigns/:id/bulk":                       {api.RoleOps},
	"GET /v1/bulk-actions/:id":                          {api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor},
	"GET /v1/campaigns/:id/report":                      {api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor},
	"PUT /v1/campaigns/:id/budget":                      {api.RoleOps},
	"POST /v1/campaigns/:id/experiments":                {api.RoleOps},
	"GET /v1/campaigns/:id/experiments":                 {api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor},
	"GET /v1/campaigns/:id/experiments/:eid":            {api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor},
	"PATCH /v1/campaigns/:id/experiments/:eid":          {api.RoleOps},
	"GET /v1/launches/:id":                              {api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor},
	"PUT /v1/campaigns/:id/fit":                         {api.RoleOps},
	"GET /v1/campaigns/:id/candidates":                  {api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor},
	"POST /v1/campaigns/:id/roster":                     {api.RoleOps},
	"GET /v1/campaigns/:id/roster":                      {api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor},
	"DELETE /v1/campaigns/:id/roster/:creator_id":       {api.RoleOps},
	"POST /v1/collaborations":                           {api.RoleOps},
	"GET /v1/collaborations":                            {api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor},
	"GET /v1/collaborations/:id":                        {api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor},
	"POST /v1/collaborations/:id/cancel":                {api.RoleOps},
	"POST /v1/collaborations/:id/replies":               {api.RoleOps},
	"POST /v1/collaborations/:id/pause":                 {api.RoleOps},
	"POST /v1/collaborations/:id/resume":                {api.RoleOps},
	"POST /v1/collaborations/:id/offers":                {api.RoleOps},
	"POST /v1/collaborations/:id/accept":                {api.RoleOps},
	"POST /v1/collaborations/:id/decline":               {api.RoleOps},
	"GET /v1/collaborations/:id/contract":               {api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor},
	"POST /v1/collaborations/:id/drafts":                {api.RoleOps},
	"POST /v1/collaborations/:id/drafts/:n/review":      {api.RoleOps, api.RoleReviewer},
	"POST /v1/collaborations/:id/posts":                 {api.RoleOps},
	"POST /v1/collaborations/:id/verification/override": {api.RoleOps},
	"POST /v1/collaborations/:id/resolve":               {api.RoleOps},
	"POST /v1/collaborations/:id/deadline/extend":       {api.RoleOps},
	"POST /v1/collaborations/:id/metrics":               {api.RoleOps},
	"GET /v1/collaborations/:id/history":                {api.RoleAuditor, api.RoleOps},
	"GET /v1/collaborations/:id/timeline":               {api.RoleAuditor, api.RoleOps},
	"POST /v1/collaborations/:id/replay":                {api.RoleAuditor, api.RoleOps},
	"GET /v1/collaborations/:id/emails":                 {api.RoleOps, api.RoleReviewer, api.RoleFinance, api.RoleAuditor},
	"GET /v1/collaborations/:id/notes":                  {api.RoleOps, api.RoleAuditor},
	"GET /v1/payouts":                                   {api.RoleFinance, api.RoleOps, api.RoleAuditor},
	"POST /v1/payouts/:id/confirm":                      {api.RoleFinance},
}

// TestRouteRoleMatrix is every route of the route table × no key × a wrong key × every
// role, against the decisions above: a route added without a decision fails here, and so
// does a decision for a route that is not served.
func TestRouteRoleMatrix(t *testing.T) {
	e, err := api.New(apiConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(contract.validated(e))
	defer srv.Close()
	roles := map[string]string{api.RoleOps: opsKey, api.RoleReviewer: reviewerKey, api.RoleFinance: financeKey, api.RoleAuditor: auditorKey}
	served := map[string]bool{}
	for _, r := range e.Routes() {
		if !slices.Contains([]string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete}, r.Method) {
			continue // the groups' not-found routes
		}
		route := r.Method + " " + r.Path
		served[route] = true
		allowed, ok := access[route]
		if !ok {
			t.Errorf("%s has no access decision in the matrix", route)
			continue
		}
		if slices.Contains(allowed, "public") {
			continue
		}
		if slices.Contains(allowed, "session") {
			// Without a session cookie, with or without an API key, a console route sends
			// the browser to the sign-in form and does nothing else.
			for who, key := range map[string]string{"no key": "", "an API key": opsKey} {
				if got := noSessionAnswer(t, srv.URL, r.Method, r.Path, key); got != "303 /console/sign-in" {
					t.Errorf("%s with %s and no session: %s, want 303 to the sign-in form", route, who, got)
				}
			}
			continue
		}
		path := strings.NewReplacer(
			":id", "collab-01a22047-fe95-7c2d-9b1d-1367eab1508b-01a22047-f28e-7750-bf30-739dc3eb9cbf", ":n", "1",
		).Replace(r.Path)
		if strings.HasPrefix(r.Path, "/v1/creators/") || strings.HasPrefix(r.Path, "/v1/campaigns/") || strings.HasPrefix(r.Path, "/v1/payouts/") {
			path = strings.Replace(r.Path, ":id", "01a22047-fe95-7c2d-9b1d-1367eab1508b", 1)
		}
		for who, key := range map[string]string{"no key": "", "wrong key": "not-a-key-0123456789"} {
			if got := callAt(t, srv.URL, r.Method, path, key, nil).Status; got != http.StatusUnauthorized {
				t.Errorf("%s with %s: %d, want 401", route, who, got)
			}
		}
		for role, key := range roles {
			got := callAt(t, srv.URL, r.Method, path, key, nil).Status
			switch may := slices.Contains(allowed, role); {
			case may && (got == http.StatusUnauthorized || got == http.StatusForbidden):
				t.Errorf("%s as %s: %d, want the handler's answer", route, role, got)
			case !may && got != http.StatusForbidden:
				t.Errorf("%s as %s: %d, want 403", route, role, got)
			}
		}
	}
	for route := range access {
		if !served[route] {
			t.Errorf("the matrix decides %s, which is not served", route)
		}
	}
}

// noSessionAnswer is the status and Location a console route answers a request without a
// session cookie, redirects not followed.
func noSessionAnswer(t *testing.T, base, method, path, key string) string {
	t.Helper()
	path = strings.NewReplacer(":id", "01a22047-fe95-7c2d-9b1d-1367eab1508b", ":action", "cancel").Replace(path)
	req, err := http.NewRequest(method, base+path, strings.NewReader("_csrf=x"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("Location"))
}
