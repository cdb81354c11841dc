package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// The OpenAPI document is a contract the tests hold the server to: every
// request the tests send through env.do is checked against it, and so is
// every answer. A request the document refuses must be refused by the
// server too; an answer must have a status the operation lists and a body
// its schema accepts.

func init() {
	// kin-openapi reads bodies through decoders by media type; an
	// iCalendar file is text, as CSV is.
	openapi3filter.RegisterBodyDecoder("text/calendar", openapi3filter.PlainBodyDecoder)
	// A backup archive is binary.
	openapi3filter.RegisterBodyDecoder("application/zstd", openapi3filter.FileBodyDecoder)
}

// contract is the OpenAPI document and a router over it.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

// loadContract loads openapi.yaml from the package's directory and checks
// it is a valid document.
func loadContract(path string) (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("validate %s: %w", path, err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", path, err)
	}
	return &contract{doc: doc, router: router}, nil
}

var theContract = sync.OnceValues(func() (*contract, error) { return loadContract("openapi.yaml") })

// mustContract is the package's document; a test that cannot load it
// fails.
func mustContract(t testing.TB) *contract {
	t.Helper()
	c, err := theContract()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// validatedOps counts, by operation ("GET /api/v1/customers"), the
// successful answers that the contract accepted, for the coverage figure
// TestMain reports.
var validatedOps = struct {
	sync.Mutex
	m map[string]int
}{m: map[string]int{}}

func markValidated(op string) {
	validatedOps.Lock()
	validatedOps.m[op]++
	validatedOps.Unlock()
}

// serveChecked serves req with h and checks the exchange against the
// document. local says h is the admin socket's handler, which needs no
// token.
func serveChecked(t testing.TB, h http.Handler, req *http.Request, local bool) *httptest.ResponseRecorder {
	t.Helper()
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			t.Fatalf("read request body: %v", err)
		}
	}
	// The router's middleware replaces the request's body; the checker
	// reads its own copy.
	check := req.Clone(req.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	check.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if err := mustContract(t).check(check, rec, local); err != nil {
		t.Errorf("%s %s: the exchange breaks the OpenAPI document: %v", req.Method, req.URL.RequestURI(), err)
	}
	return rec
}

// check holds one exchange to the document: nil when it keeps it.
func (c *contract) check(req *http.Request, rec *httptest.ResponseRecorder, local bool) error {
	if req.URL.Path != "/api/v1" && !strings.HasPrefix(req.URL.Path, "/api/v1/") {
		return nil // the Prometheus API and the calendar feeds are not described
	}
	ctx := context.Background()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		// Not an operation of the document: the server must not have one
		// either. Without credentials it asks for them first.
		switch rec.Code {
		case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusUnauthorized:
		default:
			return fmt.Errorf("no operation in the document (%v), but the server answered %d", err, rec.Code)
		}
		return c.checkError(rec)
	}
	op := req.Method + " " + route.Path
	reqOpts := &openapi3filter.Options{AuthenticationFunc: authenticationFunc(local), MultiError: true}
	reqOpts.WithCustomSchemaErrorFunc(shortSchemaError)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: reqOpts}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	if reqErr != nil && rec.Code < 400 {
		return fmt.Errorf("%s: the document refuses the request, but the server answered %d: %v", op, rec.Code, reqErr)
	}
	respOpts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	respOpts.WithCustomSchemaErrorFunc(shortSchemaError)
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options:                respOpts,
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s: answer %d %s: %v", op, rec.Code, truncate(rec.Body.String()), err)
	}
	if reqErr == nil && rec.Code < 300 {
		markValidated(op)
	}
	return nil
}

// checkError holds an answer of no operation to the document's error
// schema.
func (c *contract) checkError(rec *httptest.ResponseRecorder) error {
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("error answer %d has Content-Type %q", rec.Code, ct)
	}
	var v any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		return fmt.Errorf("error answer %d is not JSON: %v", rec.Code, err)
	}
	schema := c.doc.Components.Schemas["Error"]
	if schema == nil {
		return errors.New("the document has no Error schema")
	}
	if err := schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("error answer %d %s: %v", rec.Code, truncate(rec.Body.String()), err)
	}
	return nil
}

// authenticationFunc checks a request carries credentials of the scheme
// the document names. The admin socket's handler needs none.
func authenticationFunc(local bool) openapi3filter.AuthenticationFunc {
	return func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
		if local {
			return nil
		}
		scheme, value, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, in.SecurityScheme.Scheme) || strings.TrimSpace(value) == "" {
			return fmt.Errorf("no %s credentials", in.SecurityScheme.Scheme)
		}
		return nil
	}
}

// shortSchemaError says what broke which rule where, without the schema
// and the value kin-openapi prints whole.
func shortSchemaError(err *openapi3.SchemaError) string {
	return fmt.Sprintf("at /%s: %s", strings.Join(err.JSONPointer(), "/"), err.Reason)
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// operations lists the document's operations as "METHOD /path".
func (c *contract) operations() []string {
	var ops []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			ops = append(ops, method+" "+path)
		}
	}
	slices.Sort(ops)
	return ops
}

// TestMain reports how many operations of the document the tests
// exercised with a successful answer the document accepts, and fails a
// full run that leaves one out.
func TestMain(m *testing.M) {
	code := m.Run()
	if c, err := theContract(); code == 0 && err == nil {
		code = reportCoverage(c)
	}
	os.Exit(code)
}

func reportCoverage(c *contract) int {
	validatedOps.Lock()
	defer validatedOps.Unlock()
	ops := c.operations()
	var missing []string
	for _, op := range ops {
		if validatedOps.m[op] == 0 {
			missing = append(missing, op)
		}
	}
	if len(validatedOps.m) == 0 {
		return 0 // no test of the API ran
	}
	fmt.Printf("openapi: %d of %d operations answered successfully and validated against the document\n", len(ops)-len(missing), len(ops))
	filtered := false
	for _, name := range []string{"test.run", "test.skip", "test.fuzz"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			filtered = true
		}
	}
	if len(missing) > 0 && !filtered {
		fmt.Printf("FAIL: no test validates a successful answer of:\n\t%s\n", strings.Join(missing, "\n\t"))
		return 1
	}
	return 0
}

// TestOpenAPICoversRoutes: the document describes every route of the
// router under /api/v1, and no operation the router lacks.
func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	e := newEnv(t, envOptions{})
	for name, h := range map[string]http.Handler{"network": e.api.Handler(), "local": e.api.LocalHandler()} {
		routes, ok := h.(chi.Routes)
		if !ok {
			t.Fatalf("the %s handler is not a chi router", name)
		}
		served := map[string]bool{}
		err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
			route = strings.TrimSuffix(route, "/")
			if strings.HasPrefix(route, "/api/v1/") {
				served[method+" "+route] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		documented := map[string]bool{}
		for _, op := range c.operations() {
			documented[op] = true
		}
		for _, op := range slices.Sorted(maps.Keys(served)) {
			if !documented[op] {
				t.Errorf("%s handler: the document lacks %s", name, op)
			}
		}
		for _, op := range slices.Sorted(maps.Keys(documented)) {
			if !served[op] {
				t.Errorf("%s handler: the document has %s, which the router does not serve", name, op)
			}
		}
		if len(served) < 60 {
			t.Errorf("%s handler: only %d routes under /api/v1 found; the walk missed some", name, len(served))
		}
	}
}

// TestOpenAPIIsPublic: the document is served as JSON without a token, is
// OpenAPI 3.1, loads and validates, and says what openapi.yaml says.
func TestOpenAPIIsPublic(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for name, h := range map[string]http.Handler{"network": e.api.Handler(), "local": e.api.LocalHandler()} {
		t.Run(name, func(t *testing.T) {
			rec := e.do(t, h, scenario{method: http.MethodGet, path: "/api/v1/openapi.json", as: asNobody})
			if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q: %s", rec.Code, rec.Header().Get("Content-Type"), truncate(rec.Body.String()))
			}
			var head struct {
				OpenAPI string `json:"openapi"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &head); err != nil || !strings.HasPrefix(head.OpenAPI, "3.1.") {
				t.Fatalf("openapi %q (%v): want 3.1.x", head.OpenAPI, err)
			}
			loader := openapi3.NewLoader()
			doc, err := loader.LoadFromData(rec.Body.Bytes())
			if err != nil {
				t.Fatalf("load the served document: %v", err)
			}
			if err := doc.Validate(loader.Context); err != nil {
				t.Fatalf("validate the served document: %v", err)
			}
			if !doc.IsOpenAPI31OrLater() {
				t.Errorf("the loader reads version %q as older than 3.1", doc.OpenAPI)
			}
			if n := len(doc.Paths.Map()); n < 30 {
				t.Errorf("the served document has %d paths", n)
			}
			// The JSON says what the YAML says, in the YAML's order.
			src, err := os.ReadFile("openapi.yaml")
			if err != nil {
				t.Fatal(err)
			}
			var fromYAML, fromJSON any
			if err := yaml.Unmarshal(src, &fromYAML); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &fromJSON); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(jsonRoundTrip(t, fromYAML), fromJSON); diff != "" {
				t.Errorf("served JSON differs from openapi.yaml (-yaml +json):\n%s", diff)
			}
			if !bytes.HasPrefix(rec.Body.Bytes(), []byte(`{"openapi":"3.1.0","info":{"title":`)) {
				t.Errorf("the JSON does not keep the YAML's order: %s", truncate(rec.Body.String()))
			}
		})
	}
	e.run(t, []scenario{
		{name: "another method needs a token", method: http.MethodPost, path: "/api/v1/openapi.json", status: http.StatusUnauthorized},
		{name: "and is not allowed", method: http.MethodPost, path: "/api/v1/openapi.json", as: asOperator, status: http.StatusMethodNotAllowed},
		{name: "a wrong token does not matter", method: http.MethodGet, path: "/api/v1/openapi.json", header: map[string]string{"Authorization": "Bearer nonsense"}, status: http.StatusOK},
		{name: "the rest still needs a token", method: http.MethodGet, path: "/api/v1/customers", status: http.StatusUnauthorized},
		{name: "nor a neighbour", method: http.MethodGet, path: "/api/v1/openapi.json/x", status: http.StatusUnauthorized},
	})
}

// jsonRoundTrip is v as encoding/json reads it back: numbers float64.
func jsonRoundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOpenAPICheckerFails: the checker refuses answers and requests that
// break the document, so a handler that drifts from it cannot pass.
func TestOpenAPICheckerFails(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	e := newEnv(t, envOptions{})
	auth := map[string]string{"Authorization": "Bearer " + e.tokens[asOperator], "Content-Type": "application/json"}
	answer := func(status int, ct, body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ct != "" {
				w.Header().Set("Content-Type", ct)
			}
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		})
	}
	tests := []struct {
		name             string
		method, path     string
		body             string
		h                http.Handler
		wantErrFragments []string // empty: the exchange keeps the document
	}{
		{"the real server", "GET", "/api/v1/customers", "", e.api.Handler(), nil},
		{"a field of the wrong type", "GET", "/api/v1/customers", "",
			answer(200, "application/json", `[{"name": 7, "created_at": "2026-11-05T08:00:00Z"}]`), []string{"GET /api/v1/customers", "name"}},
		{"a required field missing", "GET", "/api/v1/customers/acme", "",
			answer(200, "application/json", `{"name": "acme"}`), []string{"created_at"}},
		{"a field the document lacks", "GET", "/api/v1/customers/acme", "",
			answer(200, "application/json", `{"name": "acme", "created_at": "2026-11-05T08:00:00Z", "colour": "red"}`), []string{"colour"}},
		{"a list where an object belongs", "GET", "/api/v1/calendars", "",
			answer(200, "application/json", `[]`), []string{"object"}},
		{"a status the operation does not list", "GET", "/api/v1/customers", "",
			answer(http.StatusTeapot, "application/json", `{"error": {"code": "internal", "message": "x"}}`), []string{"status"}},
		{"an error of another shape", "GET", "/api/v1/customers/nobody", "",
			answer(404, "application/json", `{"message": "not found"}`), []string{"error"}},
		{"another content type", "GET", "/api/v1/customers", "",
			answer(200, "text/plain", `[]`), []string{"text/plain"}},
		{"a request the document refuses, accepted", "POST", "/api/v1/customers", `{"display_name": "no name"}`,
			answer(201, "application/json", `{"name": "x", "created_at": "2026-11-05T08:00:00Z"}`), []string{"refuses the request", "name"}},
		{"a route the document lacks, served", "GET", "/api/v1/gadgets", "",
			answer(200, "application/json", `[]`), []string{"no operation"}},
		{"an unknown route's error of another shape", "GET", "/api/v1/gadgets", "",
			answer(404, "text/plain", "404 page not found"), []string{"Content-Type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			for k, v := range auth {
				req.Header.Set(k, v)
			}
			check := req.Clone(context.Background())
			check.Body = io.NopCloser(strings.NewReader(tt.body))
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, req)
			err := c.check(check, rec, false)
			switch {
			case tt.wantErrFragments == nil && err != nil:
				t.Fatalf("the checker refused a good exchange: %v", err)
			case tt.wantErrFragments != nil && err == nil:
				t.Fatalf("the checker accepted %d %s", rec.Code, rec.Body)
			}
			for _, f := range tt.wantErrFragments {
				if !strings.Contains(err.Error(), f) {
					t.Errorf("error %q lacks %q", err, f)
				}
			}
		})
	}
}
