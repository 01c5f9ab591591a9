package codec

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/converter"
)

// DefaultMaxBody caps a codec request when HandlerOptions.MaxBody is zero. The Web UI
// sends one event's payloads at a time and the CLI one history's, far below this.
const DefaultMaxBody = 4 << 20

// Caller is one bearer secret the codec endpoint accepts and what its holder may do.
type Caller struct {
	Name   string
	Secret string
	// Decode lets the holder read payloads in clear: whoever may read histories.
	Decode bool
	// Encode lets the holder produce payloads the workers will accept as theirs, so it
	// is kept to those who may start and change workflows.
	Encode bool
}

// HandlerOptions configures Handler.
type HandlerOptions struct {
	// Callers are the accepted bearer secrets; with none every request is refused.
	Callers []Caller
	// Namespace is the Temporal namespace whose payloads these keys protect. A request
	// naming another in X-Namespace is refused rather than answered with this
	// namespace's keys.
	Namespace string
	// AllowedOrigins are the browser origins (scheme://host[:port]) allowed to call the
	// endpoint from a page, such as the Temporal Web UI's.
	AllowedOrigins []string
	// MaxBody caps a request body in bytes; zero means DefaultMaxBody.
	MaxBody int64
	// Logger records who decoded or encoded what, and refusals; nil logs nothing.
	Logger *slog.Logger
}

// Headers a browser may send to the endpoint: the Web UI sends X-Namespace, and
// Authorization when it passes a token.
const allowedHeaders = "Content-Type, Authorization, X-Namespace"

// Handler serves Temporal's codec-server protocol (POST /encode, POST /decode) with c,
// behind bearer authentication, a role check per operation, a namespace check, a body
// cap and CORS for the allowed origins. Mount it with http.StripPrefix to serve it under
// a path.
func Handler(c *Codec, opts HandlerOptions) http.Handler {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// Decoding shows a history as it is: a payload written in clear (one the workers
	// refused) is shown as such rather than failing the whole event.
	return &handler{opts: opts, protocol: converter.NewPayloadCodecHTTPHandler(c.AcceptingPlain()),
		refusals: NewSampledLog(opts.Logger, refusalLogInterval)}
}

// refusalLogInterval is how often at most a refusal is logged: anyone can cause one.
const refusalLogInterval = 10 * time.Second

type handler struct {
	opts     HandlerOptions
	protocol http.Handler
	refusals *SampledLog
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Answers differ by Origin, and decoded payloads are personal data: no shared cache
	// may keep them.
	w.Header().Add("Vary", "Origin")
	w.Header().Set("Cache-Control", "no-store")
	origin := r.Header.Get("Origin")
	allowedOrigin := origin != "" && slices.Contains(h.opts.AllowedOrigins, origin)
	if allowedOrigin {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		// The Web UI's "include cross-origin credentials" needs this on both the
		// preflight and the request.
		w.Header().Set("Access-Control-Allow-Credentials", "true")
	}
	if origin != "" && !allowedOrigin {
		// A page elsewhere gets nothing, preflight or not: it could not read the answer
		// anyway, and refusing here keeps its requests from doing work.
		h.refuse(w, r, http.StatusForbidden, "origin not allowed", "")
		return
	}
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", http.MethodPost)
		w.Header().Set("Access-Control-Allow-Headers", allowedHeaders)
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}

	op := strings.TrimPrefix(r.URL.Path, "/")
	if op != "encode" && op != "decode" {
		writeError(w, http.StatusNotFound, "not found; the codec endpoints are POST /encode and POST /decode")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		writeError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	caller, ok := h.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="collabflow-codec"`)
		h.refuse(w, r, http.StatusUnauthorized, "missing or unknown bearer API key", "")
		return
	}
	if op == "decode" && !caller.Decode || op == "encode" && !caller.Encode {
		h.refuse(w, r, http.StatusForbidden, "this API key's role may not "+op+" payloads", caller.Name)
		return
	}
	if ns := r.Header.Get("X-Namespace"); ns != "" && ns != h.opts.Namespace {
		h.refuse(w, r, http.StatusForbidden, "this codec server serves namespace "+h.opts.Namespace+" only", caller.Name)
		return
	}

	// Read the capped body here, so an oversized one is a 413 rather than the protocol
	// handler's generic 400.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.refuse(w, r, http.StatusRequestEntityTooLarge, "request body larger than the codec server accepts", caller.Name)
			return
		}
		writeError(w, http.StatusBadRequest, "read request body: "+err.Error())
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	h.opts.Logger.Info("codec request", "op", op, "caller", caller.Name, "namespace", h.opts.Namespace, "bytes", len(body))
	h.protocol.ServeHTTP(w, r)
}

// authenticate finds the caller whose secret is the request's bearer token, comparing
// every secret in constant time so that timing reveals neither a match nor its place.
func (h *handler) authenticate(r *http.Request) (Caller, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Caller{}, false
	}
	var found Caller
	var matched bool
	for _, c := range h.opts.Callers {
		if subtle.ConstantTimeCompare([]byte(c.Secret), []byte(token)) == 1 {
			found, matched = c, true
		}
	}
	return found, matched
}

// refuse answers with an error and logs the refusal: repeated ones are someone probing
// for a key or a misconfigured UI. The log is sampled (one line per refusalLogInterval,
// counting the rest), since an unauthenticated caller can make any number of them.
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, status int, msg, caller string) {
	h.refusals.Log("codec request refused", "status", status, "reason", msg, "caller", caller,
		"path", r.URL.Path, "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr)
	writeError(w, status, msg)
}

// writeError answers with the API's error shape, {"error": "..."}.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}
