package api

import (
	_ "embed" // the OpenAPI document is compiled in
	"net/http"

	"github.com/labstack/echo/v4"
)

// openAPIDocument is the OpenAPI 3.1 document of the whole API, served at /openapi.json. The
// package's tests hold it to the route table and check every request and answer of the API
// tests against it, so it is the API's contract rather than a description beside it.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPI serves the document. It is public like /healthz: it names routes and fields, no
// data, and clients generate code from it before they hold a key.
func openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, openAPIDocument)
}
