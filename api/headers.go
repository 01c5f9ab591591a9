package api

import (
	"crypto/sha256"
	"encoding/base64"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// hstsValue asks browsers to use https only, for a year. Subdomains are left out: the
// public host may share a parent domain with sites collabflow does not run.
const hstsValue = "max-age=31536000"

// securityHeaders go on every answer. Referrer-Policy matters most on the portal and
// unsubscribe pages, whose URLs carry the creator's link token: no-referrer keeps the
// token out of any request the page causes. X-Frame-Options backs up the pages'
// frame-ancestors for browsers without CSP.
func securityHeaders() echo.MiddlewareFunc {
	return middleware.SecureWithConfig(middleware.SecureConfig{
		XSSProtection:      middleware.DefaultSecureConfig.XSSProtection,
		ContentTypeNosniff: "nosniff",
		XFrameOptions:      "DENY",
		ReferrerPolicy:     "no-referrer",
	})
}

// strictTransport sets HSTS on every answer. Echo's Secure middleware sends HSTS only when
// the request came over TLS or says X-Forwarded-Proto: https, and collabflow usually sits
// behind a proxy that ends TLS and may say neither; an https public URL (the same decision
// that marks cookies Secure) is the operator saying the site is https-only. Browsers
// ignore the header on plain-http answers, so sending it there is harmless.
func strictTransport(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderStrictTransportSecurity, hstsValue)
		return next(c)
	}
}

// pageCSP is the Content-Security-Policy of the HTML pages (portal and unsubscribe): no
// scripts, images, fonts or connections at all; only the pages' own style sheets, allowed
// by hash rather than 'unsafe-inline' so that markup injected into a page could not style
// it either; forms post only to this site; no framing (clickjacking a signature) and no
// <base> to redirect relative URLs.
var pageCSP = "default-src 'none'; style-src " + styleHash(portalStyle) + " " + styleHash(unsubscribeStyle) +
	"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// styleHash is a CSP source matching an inline <style> element with exactly css inside.
func styleHash(css string) string {
	sum := sha256.Sum256([]byte(css))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// pageHeaders adds the pages' CSP. It goes on the HTML route groups only: the JSON API has
// nothing a policy would govern.
func pageHeaders() echo.MiddlewareFunc {
	return middleware.SecureWithConfig(middleware.SecureConfig{ContentSecurityPolicy: pageCSP})
}
