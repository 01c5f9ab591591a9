package api

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// ParseWebhookKey reads the Event Webhook verification key as SendGrid shows it (base64
// DER, PKIX). It is checked at start-up: sendgrid-go's own converter panics on a key that
// is not ECDSA.
func ParseWebhookKey(b64 string) (*ecdsa.PublicKey, error) {
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("webhook key is not base64: %w", err)
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("webhook key is not a public key: %w", err)
	}
	ec, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("webhook key is not an ECDSA key")
	}
	return ec, nil
}
