package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/api"
)

// openAPIFile is the document in the repository; the API embeds and serves the same bytes.
const openAPIFile = "openapi.json"

// contract checks every request and answer that reaches an API server of the package's
// tests against the OpenAPI document (see validated); TestMain fails the run when it saw a
// mismatch.
var contract *openAPIContract

// uuidFormat is the API's reading of an id (api.canonicalID): the 36-character form in
// either case. kin-openapi knows no uuid format of its own, and without a checker the
// format would pass anything.
var uuidFormat = openapi3.NewRegexpFormatValidator(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// openAPIContract holds the loaded document, its router and the mismatches seen so far.
type openAPIContract struct {
	doc    *openapi3.T
	router routers.Router

	mu         sync.Mutex
	mismatches map[string]int // message → times seen
}

// loadOpenAPI reads and validates the document and builds its router.
func loadOpenAPI(ctx context.Context) (*openAPIContract, error) {
	data, err := os.ReadFile(openAPIFile)
	if err != nil {
		return nil, fmt.Errorf("read the OpenAPI document: %w", err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is not valid: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the OpenAPI document: %w", err)
	}
	// The portal and unsubscribe pages are HTML: read as text, like text/plain.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	return &openAPIContract{doc: doc, router: router, mismatches: map[string]int{}}, nil
}

// validated wraps an API server's handler so that every exchange is checked against the
// document once it is answered. The rule:
//   - Every answer is validated, with its status: a status, header or body the document
//     does not give for the operation is a mismatch. Refusals of deliberately bad input
//     (the 4xx tests) are answers like any other and must match the documented errors.
//   - A request is validated only when it was answered 2xx: a request the API accepted
//     must be one the document allows, while a 4xx answers input the tests made wrong on
//     purpose, which the document rightly refuses too.
//   - A request that matches no documented operation is a mismatch unless Echo itself
//     answered it 404 or 405 (no route served it); that every served route is documented
//     is TestOpenAPIDocumentsEveryRoute's to check.
func (oc *openAPIContract) validated(next http.Handler) http.Handler {
	if oc == nil { // fuzzing runs without the stack or the document
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var reqBody bytes.Buffer
		if r.Body != nil {
			// Tee what the server reads rather than reading ahead of it: tests measure how
			// much of a body the server reads, and limits must trip as they would.
			r.Body = teeBody{ReadCloser: r.Body, copy: &reqBody}
		}
		rec := &answerRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if err := oc.check(r, reqBody.Bytes(), rec.status, rec.Header(), rec.body.Bytes()); err != nil {
			oc.record(err.Error())
		}
	})
}

// check validates one exchange by the rule of validated.
func (oc *openAPIContract) check(r *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) error {
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	if isConsole(r.URL.Path) {
		return nil
	}
	route, params, err := oc.router.FindRoute(req)
	if err != nil {
		if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
			return nil
		}
		return fmt.Errorf("%s %s answered %d: no documented operation: %w", r.Method, r.URL.Path, status, err)
	}
	formats := []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidator("uuid", uuidFormat)}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, SchemaValidationOptions: formats},
	}
	op := r.Method + " " + route.Path
	if status >= 200 && status < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			return fmt.Errorf("%s request answered %d does not match the document: %w", op, status, err)
		}
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header, Body: io.NopCloser(bytes.NewReader(respBody)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, SchemaValidationOptions: formats},
	})
	if err != nil {
		return fmt.Errorf("%s answer %d does not match the document: %w", op, status, err)
	}
	return nil
}

// maxMismatch bounds one reported mismatch: kin-openapi's errors quote whole schemas.
const maxMismatch = 1500

func (oc *openAPIContract) record(msg string) {
	if len(msg) > maxMismatch {
		msg = msg[:maxMismatch] + "…"
	}
	oc.mu.Lock()
	defer oc.mu.Unlock()
	oc.mismatches[msg]++
}

// failures is an error listing every mismatch seen, nil when there was none.
func (oc *openAPIContract) failures() error {
	if oc == nil {
		return nil
	}
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if len(oc.mismatches) == 0 {
		return nil
	}
	list := make([]string, 0, len(oc.mismatches))
	for msg, n := range oc.mismatches {
		list = append(list, fmt.Sprintf("(%d×) %s", n, msg))
	}
	sort.Strings(list)
	return fmt.Errorf("the API tests' traffic does not match %s (%d mismatches):\n%s", openAPIFile, len(list), strings.Join(list, "\n"))
}

// teeBody copies what the server reads of a request body.
type teeBody struct {
	io.ReadCloser
	copy *bytes.Buffer
}

func (t teeBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	t.copy.Write(p[:n])
	return n, err
}

// answerRecorder passes an answer through and keeps its status and body.
type answerRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (a *answerRecorder) WriteHeader(status int) {
	if !a.wroteHeader {
		a.status, a.wroteHeader = status, true
	}
	a.ResponseWriter.WriteHeader(status)
}

func (a *answerRecorder) Write(p []byte) (int, error) {
	a.wroteHeader = true
	a.body.Write(p)
	return a.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (a *answerRecorder) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// isConsole reports whether path is one of the console's pages, which the document leaves
// out: they are HTML for people, and their actions are documented API calls.
func isConsole(path string) bool { return path == "/console" || strings.HasPrefix(path, "/console/") }

// Path parameters as Echo and OpenAPI write them: /v1/creators/:id is /v1/creators/{id}.
var (
	echoParam    = regexp.MustCompile(`:([A-Za-z_]+)`)
	openAPIParam = regexp.MustCompile(`\{([A-Za-z_]+)\}`)
)

// TestOpenAPIDocumentsEveryRoute: every route Echo serves is an operation of the document,
// every operation of the document is served, and each operation's x-roles are the route's
// decision in the role matrix (access).
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	e, err := api.New(apiConfig())
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, r := range e.Routes() {
		if r.Method == echo.RouteNotFound {
			// Groups with middleware add a catch-all per prefix (/v1/*, /portal/*, …) so that
			// their middleware answers unknown paths too; it serves no operation.
			continue
		}
		if isConsole(r.Path) {
			// The console's HTML pages are not the API: they sign in by cookie and act
			// through the API's own documented routes (dispatch).
			continue
		}
		served[r.Method+" "+echoParam.ReplaceAllString(r.Path, "{$1}")] = true
	}
	documented := map[string]*openapi3.Operation{}
	for path, item := range contract.doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = op
		}
	}
	for route := range served {
		if documented[route] == nil {
			t.Errorf("%s is served but not documented in %s", route, openAPIFile)
		}
	}
	for route, op := range documented {
		if !served[route] {
			t.Errorf("%s is documented but not served", route)
			continue
		}
		roles, _ := op.Extensions["x-roles"].([]any)
		var got []string
		for _, r := range roles {
			s, _ := r.(string)
			got = append(got, s)
		}
		method, path, _ := strings.Cut(route, " ")
		want := slices.Clone(access[method+" "+openAPIParam.ReplaceAllString(path, ":$1")])
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: x-roles %v, the role matrix says %v", route, got, want)
		}
	}
	if len(documented) != len(served) {
		t.Errorf("%d operations documented, %d routes served", len(documented), len(served))
	}
}

// TestOpenAPIServed: /openapi.json is the repository's document, byte for byte, as JSON,
// without a key.
func TestOpenAPIServed(t *testing.T) {
	want, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	r := must(t, http.StatusOK, call(t, "GET", "/openapi.json", "", nil))
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if !bytes.Equal(r.Raw, want) {
		t.Errorf("/openapi.json serves %d bytes that differ from %s (%d bytes)", len(r.Raw), openAPIFile, len(want))
	}
}

// TestOpenAPIContractCatchesMismatches: the check that guards the whole run finds an answer
// the document does not allow, a request it does not allow, and an undocumented answer
// status; and it lets a documented exchange pass. Without this a check that passed
// everything would look the same as a true document.
func TestOpenAPIContractCatchesMismatches(t *testing.T) {
	const id = "01a22047-fe95-7c2d-9b1d-1367eab1508b"
	jsonHeader := http.Header{"Content-Type": []string{"application/json"}}
	for _, tc := range []struct {
		name, method, path, reqBody string
		status                      int
		respBody                    string
		want                        string // "" when the exchange matches
	}{
		{"documented", "GET", "/readyz", "", 200, `{"status":"OK","checks":{"database":"ok","migrations":"ok","temporal":"ok"},"failed":[],"degraded":[]}`, ""},
		{"answer breaks its schema", "GET", "/readyz", "", 200, `{"status":"OK"}`, "does not match"},
		{"undocumented status", "GET", "/healthz", "", 418, `{"error":"teapot"}`, "status is not supported"},
		{"accepted request breaks its schema", "POST", "/v1/collaborations", `{"campaign_id":1}`, 201, `{}`, "request answered 201"},
		{"refused request is not held to the schema", "POST", "/v1/collaborations", `{"campaign_id":1}`, 400, `{"error":"invalid request","fields":{"campaign_id":"must be a string"}}`, ""},
		{"uuid format is checked", "GET", "/v1/creators/" + id + "x", "", 200, `{}`, "request answered 200"},
		{"unrouted 404 is Echo's", "GET", "/v1/nothing-here", "", 404, `{"error":"not found"}`, ""},
		{"unrouted 200 is a mismatch", "GET", "/v1/nothing-here", "", 200, `{}`, "no documented operation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://collabflow.test"+tc.path, strings.NewReader(tc.reqBody))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+opsKey)
			err = contract.check(req, []byte(tc.reqBody), tc.status, jsonHeader, []byte(tc.respBody))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want a match, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want a mismatch saying %q, got %v", tc.want, err)
			}
		})
	}
}
