package api

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/workflows"
)

// Roles an API key may hold.
const (
	RoleOps      = "ops"      // runs collaborations: everything
	RoleReviewer = "reviewer" // reviews drafts; reads
	RoleFinance  = "finance"  // confirms payouts; reads
	RoleAuditor  = "auditor"  // reads histories and timelines
)

// Roles lists every role.
var Roles = []string{RoleOps, RoleReviewer, RoleFinance, RoleAuditor}

// HistoryReaders are the roles that may read workflow histories, which hold creators'
// personal data: the history, timeline and replay routes, and decoding on the codec
// server, admit these.
var HistoryReaders = []string{RoleAuditor, RoleOps}

// Key is one API key: who holds it, what they may do, and the bearer secret.
type Key struct {
	Name   string
	Role   string
	Secret string
}

// MinSecretLength keeps secrets out of guessing range.
const MinSecretLength = 16

// ParseKeys reads COLLABFLOW_API_KEYS: comma-separated name:role:secret entries.
func ParseKeys(spec string) ([]Key, error) {
	var keys []Key
	names := map[string]bool{}
	secrets := map[string]bool{}
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		parts := strings.SplitN(entry, ":", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("API key %d: want name:role:secret", i+1)
		}
		k := Key{Name: parts[0], Role: parts[1], Secret: parts[2]}
		switch {
		case k.Name == "":
			return nil, fmt.Errorf("API key %d: empty name", i+1)
		case !slices.Contains(Roles, k.Role):
			return nil, fmt.Errorf("API key %q: role %q is not one of %s", k.Name, k.Role, strings.Join(Roles, ", "))
		case len(k.Secret) < MinSecretLength:
			return nil, fmt.Errorf("API key %q: secret shorter than %d characters", k.Name, MinSecretLength)
		case names[k.Name]:
			return nil, fmt.Errorf("API key %q: name used twice", k.Name)
		case secrets[k.Secret]:
			return nil, fmt.Errorf("API key %q: secret used by another key", k.Name)
		}
		names[k.Name], secrets[k.Secret] = true, true
		keys = append(keys, k)
	}
	return keys, nil
}

const actorKey = "collabflow.actor"

// authenticate accepts a request whose bearer secret matches a key, and records the key
// as the request's actor. Every key is compared in constant time.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		scheme, secret, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="collabflow"`)
			return &Error{Status: http.StatusUnauthorized, Msg: "missing bearer API key"}
		}
		found := s.keyFor(secret)
		if found == nil {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="collabflow", error="invalid_token"`)
			return &Error{Status: http.StatusUnauthorized, Msg: "unknown API key"}
		}
		c.Set(actorKey, workflows.Actor{
			Name:      found.Name,
			Role:      found.Role,
			RequestID: c.Response().Header().Get(echo.HeaderXRequestID),
		})
		return next(c)
	}
}

// keyFor is the key whose secret is secret, or nil. Every key is compared, in constant
// time, so the answer's timing says nothing about which key or how much of it matched;
// the API's bearer check and the console's sign-in both use it.
func (s *Server) keyFor(secret string) *Key {
	var found *Key
	for i := range s.keys {
		if subtle.ConstantTimeCompare([]byte(s.keys[i].Secret), []byte(secret)) == 1 {
			found = &s.keys[i]
		}
	}
	return found
}

// allow admits only the given roles; it runs after authenticate.
func allow(roles ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !slices.Contains(roles, actor(c).Role) {
				return &Error{Status: http.StatusForbidden, Msg: "role " + actor(c).Role + " may not do this; allowed: " + strings.Join(roles, ", ")}
			}
			return next(c)
		}
	}
}

// actor is the authenticated caller of this request.
func actor(c echo.Context) workflows.Actor {
	a, _ := c.Get(actorKey).(workflows.Actor)
	return a
}
