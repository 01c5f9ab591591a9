package api

import (
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/collabflow/collabflow/activities"
	"github.com/collabflow/collabflow/links"
	"github.com/collabflow/collabflow/store"
	"github.com/collabflow/collabflow/workflows"
)

// unsubscribeStyle is the unsubscribe page's style sheet; pageCSP allows it by its hash.
const unsubscribeStyle = `body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;line-height:1.5}
button{font-size:1rem;padding:.5rem 1rem}`

var unsubscribePage = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{{.Title}}</title>
<style>` + unsubscribeStyle + `</style></head>
<body><h1>{{.Title}}</h1><p>{{.Message}}</p>
{{if .Confirm}}<form method="post"><button type="submit">Unsubscribe</button></form>{{end}}
</body></html>`))

type pageData struct {
	Title   string
	Message string
	Confirm bool
}

func page(c echo.Context, status int, d pageData) error {
	var b strings.Builder
	if err := unsubscribePage.Execute(&b, d); err != nil {
		return err
	}
	return c.HTML(status, b.String())
}

// unsubscribeForm asks for confirmation: mail scanners follow GET links, so a GET alone
// must not unsubscribe anyone.
func (s *Server) unsubscribeForm(c echo.Context) error {
	if _, err := s.unsubscribeToken(c); err != nil {
		return page(c, http.StatusBadRequest, pageData{Title: "Link not valid", Message: err.Error()})
	}
	return page(c, http.StatusOK, pageData{Title: "Unsubscribe", Confirm: true,
		Message: "Stop all emails about brand collaborations from us? This applies to every campaign."})
}

// unsubscribe suppresses the address for every campaign and stops running outreach to it.
// It also serves RFC 8058 one-click unsubscribe posts from mailbox providers. The signed
// token is what authorises it, so no CSRF cookie is asked for.
func (s *Server) unsubscribe(c echo.Context) error {
	payload, err := s.unsubscribeToken(c)
	if err != nil {
		return page(c, http.StatusBadRequest, pageData{Title: "Link not valid", Message: err.Error()})
	}
	creatorID, collabID, _ := strings.Cut(payload, "|")
	ctx := c.Request().Context()
	creator, err := s.store.Creator(ctx, creatorID)
	if errors.Is(err, store.ErrNotFound) {
		// The creator was erased from the roster: nothing left to email.
		return page(c, http.StatusOK, pageData{Title: "Unsubscribed", Message: "You will get no more emails from us."})
	} else if err != nil {
		return err
	}
	if _, err := s.store.Suppress(ctx, creator.Email, "unsubscribed", "link:"+collabID); err != nil {
		return err
	}
	news := workflows.OutreachEvent{Kind: workflows.OutreachUnsubscribe, At: time.Now().UTC(), Detail: "unsubscribe link"}
	if err := s.stopOutreachTo(ctx, creator.Email, "", news); err != nil {
		return err
	}
	return page(c, http.StatusOK, pageData{Title: "Unsubscribed", Message: "You will get no more emails from us about any campaign."})
}

func (s *Server) unsubscribeToken(c echo.Context) (string, error) {
	payload, err := s.links.Verify(activities.UnsubscribePurpose, c.Param("token"), time.Now())
	if err != nil {
		if errors.Is(err, links.ErrExpired) {
			return "", errors.New("this unsubscribe link has expired")
		}
		return "", errors.New("this unsubscribe link is damaged or was not made by us")
	}
	if !strings.Contains(payload, "|") {
		return "", errors.New("this unsubscribe link is damaged")
	}
	return payload, nil
}
