package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
)

// loadTemporalConn reads how to reach a real Temporal cluster: TLS with the system's or
// TEMPORAL_TLS_CA's roots, optionally a client certificate (mTLS), optionally a Temporal
// Cloud API key. Files are read and checked now, so that a wrong path or an expired
// certificate stops the process at start rather than showing as a connection that keeps
// being retried. The returned config is nil when the connection is plaintext.
func loadTemporalConn(e env) (*tls.Config, string, error) {
	certFile, keyFile := e.raw("TEMPORAL_TLS_CERT"), e.raw("TEMPORAL_TLS_KEY")
	caFile, serverName := e.raw("TEMPORAL_TLS_CA"), e.raw("TEMPORAL_TLS_SERVER_NAME")
	apiKey := e.raw("TEMPORAL_API_KEY")
	needTLS := []struct{ name, value string }{
		{"TEMPORAL_TLS_CERT", certFile}, {"TEMPORAL_TLS_KEY", keyFile}, {"TEMPORAL_TLS_CA", caFile},
		{"TEMPORAL_TLS_SERVER_NAME", serverName}, {"TEMPORAL_API_KEY", apiKey},
	}
	on := false
	if v := e.raw("TEMPORAL_TLS"); v != "" {
		var err error
		if on, err = strconv.ParseBool(v); err != nil {
			return nil, "", fmt.Errorf("TEMPORAL_TLS: %q is not true or false", v)
		}
		// An explicit false beside a setting that only works over TLS is a contradiction
		// to report, not a choice between them to guess.
		for _, s := range needTLS {
			if !on && s.value != "" {
				return nil, "", fmt.Errorf("TEMPORAL_TLS is false, but %s is set, which needs TLS: unset one of them", s.name)
			}
		}
	}
	for _, s := range needTLS {
		on = on || s.value != ""
	}
	if !on {
		return nil, "", nil
	}
	// A key pasted into a Secret from a file often keeps its newline, which the server
	// would reject as a wrong key on every call.
	if strings.ContainsFunc(apiKey, func(r rune) bool { return r <= ' ' }) {
		return nil, "", fmt.Errorf("TEMPORAL_API_KEY contains whitespace or control characters (a trailing newline from the file it came from?)")
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	switch {
	case certFile != "" && keyFile != "":
		pair, err := loadClientCertificate(certFile, keyFile, time.Now())
		if err != nil {
			return nil, "", err
		}
		c.Certificates = []tls.Certificate{pair}
	case certFile != "":
		return nil, "", fmt.Errorf("TEMPORAL_TLS_CERT is set but TEMPORAL_TLS_KEY is not: a client certificate needs its private key")
	case keyFile != "":
		return nil, "", fmt.Errorf("TEMPORAL_TLS_KEY is set but TEMPORAL_TLS_CERT is not: a private key needs its client certificate")
	}
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, "", fmt.Errorf("TEMPORAL_TLS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, "", fmt.Errorf("TEMPORAL_TLS_CA: %s holds no PEM certificate", caFile)
		}
		c.RootCAs = pool
	}
	return c, apiKey, nil
}

// loadClientCertificate reads the mTLS client certificate and its key and refuses one
// that has expired: the server would turn every call down with a bare handshake error.
// They are read once; a rotated certificate takes effect when the process restarts.
func loadClientCertificate(certFile, keyFile string, now time.Time) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("TEMPORAL_TLS_CERT: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("TEMPORAL_TLS_KEY: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("TEMPORAL_TLS_CERT %s with TEMPORAL_TLS_KEY %s: %w", certFile, keyFile, err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return tls.Certificate{}, fmt.Errorf("TEMPORAL_TLS_CERT %s: %w", certFile, err)
		}
	}
	if now.After(pair.Leaf.NotAfter) {
		return tls.Certificate{}, fmt.Errorf("TEMPORAL_TLS_CERT: %s expired on %s", certFile, pair.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(pair.Leaf.NotBefore) {
		return tls.Certificate{}, fmt.Errorf("TEMPORAL_TLS_CERT: %s is not valid before %s", certFile, pair.Leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return pair, nil
}

// temporalClientOptions are the options every Temporal client of this process dials
// with: address, namespace, payload codec, and TLS and API key for a real cluster.
func (c config) temporalClientOptions(logger *slog.Logger) client.Options {
	opts := client.Options{
		HostPort:          c.TemporalAddress,
		Namespace:         c.TemporalNamespace,
		DataConverter:     c.dataConverter(),
		Logger:            sdklog.NewStructuredLogger(logger.With("component", "temporal-sdk")),
		ConnectionOptions: client.ConnectionOptions{TLS: c.TemporalTLS},
	}
	if c.TemporalAPIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(c.TemporalAPIKey)
	}
	return opts
}

// temporalSecurity names the connection for the start-up log.
func (c config) temporalSecurity() string {
	switch {
	case c.TemporalTLS == nil:
		return "plaintext"
	case len(c.TemporalTLS.Certificates) > 0:
		return "mtls"
	default:
		return "tls"
	}
}
