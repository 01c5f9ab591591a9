package api

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/go-playground/validator/v10"
	"github.com/google/uuid"

	"github.com/collabflow/collabflow/campaigns"
	"github.com/collabflow/collabflow/roster"
)

// handlePattern accepts the characters platforms allow in handles, with an optional "@".
var handlePattern = regexp.MustCompile(`^@?[A-Za-z0-9._-]{1,100}$`)

// newValidator builds the validator with collabflow's own rules and JSON field names, so
// that errors name fields as clients wrote them.
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	must := func(tag string, fn validator.Func) {
		if err := v.RegisterValidation(tag, fn); err != nil {
			panic(fmt.Sprintf("register validation %s: %v", tag, err))
		}
	}
	must("platform", func(fl validator.FieldLevel) bool {
		return slices.Contains(roster.Platforms, fl.Field().String())
	})
	must("handle", func(fl validator.FieldLevel) bool {
		return handlePattern.MatchString(fl.Field().String())
	})
	must("tier", func(fl validator.FieldLevel) bool {
		return slices.Contains(roster.Tiers, roster.Tier(fl.Field().String()))
	})
	must("displayname", func(fl validator.FieldLevel) bool {
		return textProblem(fl.Field().String(), true) == ""
	})
	must("timing", func(fl validator.FieldLevel) bool {
		d, ok := fl.Field().Interface().(campaigns.Duration)
		return ok && d.Valid()
	})
	return v
}

// messages explains each rule in words a client can act on.
func message(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "required"
	case "email":
		return "must be an email address"
	case "timezone":
		return "must be an IANA time zone such as Europe/London"
	case "platform":
		return "must be one of " + strings.Join(roster.Platforms, ", ")
	case "handle":
		return "must be a handle of letters, digits, '.', '_' or '-'"
	case "tier":
		return "must be one of " + tierList()
	case "uuid":
		return idMessage
	case "timing":
		return fmt.Sprintf("must be a duration string (such as \"72h\" or \"2s\") from %s to %dh (%d days)",
			campaigns.MinTiming, int(campaigns.MaxTiming.Hours()), int(campaigns.MaxTiming/campaigns.Day))
	case "displayname":
		return textProblem(fe.Value().(string), true)
	case "iso3166_1_alpha2":
		return "must be an ISO 3166-1 alpha-2 country code such as GB"
	case "iso4217":
		return "must be an ISO 4217 currency code such as USD"
	case "http_url":
		return "must be an http(s) URL"
	case "datetime":
		return "must be a date as YYYY-MM-DD"
	case "oneof":
		return "must be one of " + strings.ReplaceAll(fe.Param(), " ", ", ")
	case "max":
		if fe.Kind() == reflect.String {
			return "at most " + fe.Param() + " characters"
		}
		if isCollection(fe.Kind()) {
			return "at most " + fe.Param() + " entries"
		}
		return "at most " + fe.Param()
	case "min", "gte":
		return "at least " + fe.Param()
	case "lte":
		return "at most " + fe.Param()
	}
	return "fails rule " + fe.Tag()
}

// tierList names the roster's tiers, smallest first, for messages.
func tierList() string {
	names := make([]string, len(roster.Tiers))
	for i, t := range roster.Tiers {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

func isCollection(k reflect.Kind) bool {
	return k == reflect.Slice || k == reflect.Map || k == reflect.Array
}

// validationError turns validator errors into a 422 naming each field by its JSON path
// ("timings.reply_wait", "handles[instagram]").
func validationError(err error) error {
	var ves validator.ValidationErrors
	if !errors.As(err, &ves) {
		return err
	}
	fields := map[string]string{}
	for _, fe := range ves {
		name := fe.Namespace()
		// Drop the Go struct's name that leads every namespace.
		if _, rest, ok := strings.Cut(name, "."); ok {
			name = rest
		}
		if _, taken := fields[name]; !taken {
			fields[name] = message(fe)
		}
	}
	return invalid(fields)
}

// idMessage explains the one form of id the API takes.
const idMessage = "must be a UUID in canonical form (8-4-4-4-12 hex digits), not a urn:uuid: or {…} form"

// canonicalID is the single reading of a campaign, creator, payout or cursor id from a
// path, body or query string. A UUID in its 36-character form (hyphens at 8, 13, 18 and 23)
// is returned lower-case, so that an upper-case id names the same record and the same
// workflow. Another form uuid.Parse accepts (urn:uuid:…, {…}, bare hex) is refused with 422
// naming field, as PostgreSQL and workflow IDs would not treat it as the same id; anything
// else is answered with otherwise.
func canonicalID(field, s string, otherwise error) (string, error) {
	if u, err := uuid.Parse(s); err == nil {
		if len(s) != 36 {
			return "", invalid(map[string]string{field: idMessage})
		}
		return u.String(), nil
	}
	return "", otherwise
}

// Why typed text is refused, for a field's message.
const (
	notUTF8      = "must be UTF-8 text"
	hasControl   = "must not contain NUL or control characters"
	hasBidiOrder = "must not contain bidirectional override, isolate or mark characters"
)

// textProblem says what is wrong with text a person typed, "" when nothing: bytes that are
// not UTF-8 (PostgreSQL refuses them), NUL and the other C0 and C1 control characters (line
// breaks and tabs are text), and, in text displayed as a name (displayed), the Unicode
// bidirectional controls, which make a name read differently from what is stored (U+202E
// shows the rest of a signature backwards). The API's name fields (the displayname rule)
// and the portal's forms judge text here; decode refuses controlChar in any JSON string.
func textProblem(s string, displayed bool) string {
	switch {
	case !utf8.ValidString(s):
		return notUTF8
	case strings.ContainsFunc(s, controlChar):
		return hasControl
	case displayed && strings.ContainsFunc(s, bidiControl):
		return hasBidiOrder
	}
	return ""
}

// controlChar is a C0 or C1 control character other than a line break or a tab.
func controlChar(r rune) bool {
	return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
}

// bidiControl is a Unicode bidirectional formatting character: the embeddings and
// overrides U+202A–U+202E, the isolates U+2066–U+2069, the marks U+200E, U+200F and the
// Arabic letter mark U+061C.
func bidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}
