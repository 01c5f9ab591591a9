package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// testPKI is a CA with a server certificate for temporal.test and 127.0.0.1, a client
// certificate, and files of them in a temporary directory.
type testPKI struct {
	dir                 string
	ca                  *x509.Certificate
	caKey               *ecdsa.PrivateKey
	caFile              string
	server              tls.Certificate
	clientCert, clientK string // files
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir()}
	p.caKey = newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "collabflow test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", der)

	serverKey := newKey(t)
	serverDER := p.sign(t, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "temporal.test"},
		DNSNames: []string{"temporal.test"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}, serverKey)
	p.server = tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey}
	p.clientCert, p.clientK = p.clientPair(t, "client", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sign issues tmpl for key's public half, signed by the CA.
func (p *testPKI) sign(t *testing.T, tmpl *x509.Certificate, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// clientPair writes a client certificate named collabflow-<name> valid in [from, to] and
// its key, returning their files.
func (p *testPKI) clientPair(t *testing.T, name string, from, to time.Time) (certFile, keyFile string) {
	t.Helper()
	key := newKey(t)
	der := p.sign(t, &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "collabflow-" + name},
		NotBefore: from, NotAfter: to,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}, key)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+"-key.pem", "PRIVATE KEY", keyDER)
}

func (p *testPKI) write(t *testing.T, name, blockType string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serverTLS requires a client certificate issued by the CA.
func (p *testPKI) serverTLS() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	return &tls.Config{Certificates: []tls.Certificate{p.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}
}

// TestTemporalConnSettings: what each combination of the TLS settings builds, and the
// message each wrong one stops the process with.
func TestTemporalConnSettings(t *testing.T) {
	p := newTestPKI(t)
	expiredCert, expiredKey := p.clientPair(t, "expired", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	otherCert, _ := p.clientPair(t, "other", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	notPEM := filepath.Join(p.dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(p.dir, "missing.pem")
	mtls := map[string]string{"TEMPORAL_TLS_CERT": p.clientCert, "TEMPORAL_TLS_KEY": p.clientK, "TEMPORAL_TLS_CA": p.caFile}

	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr string
		// On success: TLS on or off, with a client certificate, with own roots.
		wantTLS, wantCert, wantCA bool
		wantServerName, wantKey   string
	}{
		{name: "nothing set: plaintext", env: nil},
		{name: "TEMPORAL_TLS=false: plaintext", env: map[string]string{"TEMPORAL_TLS": "false"}},
		{name: "TLS with system roots", env: map[string]string{"TEMPORAL_TLS": "true"}, wantTLS: true},
		{name: "mTLS with own CA", env: mtls, wantTLS: true, wantCert: true, wantCA: true},
		{name: "server name implies TLS", env: map[string]string{"TEMPORAL_TLS_SERVER_NAME": "temporal.test"}, wantTLS: true, wantServerName: "temporal.test"},
		{name: "API key implies TLS", env: map[string]string{"TEMPORAL_API_KEY": "cloud-key.abc"}, wantTLS: true, wantKey: "cloud-key.abc"},
		{name: "API key with TLS explicitly on", env: map[string]string{"TEMPORAL_API_KEY": "cloud-key.abc", "TEMPORAL_TLS": "1"}, wantTLS: true, wantKey: "cloud-key.abc"},

		{name: "TEMPORAL_TLS not a bool", env: map[string]string{"TEMPORAL_TLS": "yes"}, wantErr: `TEMPORAL_TLS: "yes" is not true or false`},
		{name: "API key with TLS off", env: map[string]string{"TEMPORAL_API_KEY": "cloud-key.abc", "TEMPORAL_TLS": "false"},
			wantErr: "TEMPORAL_TLS is false, but TEMPORAL_API_KEY is set, which needs TLS: unset one of them"},
		{name: "CA with TLS off", env: map[string]string{"TEMPORAL_TLS_CA": p.caFile, "TEMPORAL_TLS": "false"},
			wantErr: "TEMPORAL_TLS is false, but TEMPORAL_TLS_CA is set, which needs TLS"},
		{name: "API key with a newline", env: map[string]string{"TEMPORAL_API_KEY": "cloud-key.abc\n"}, wantErr: "TEMPORAL_API_KEY contains whitespace"},
		{name: "certificate without key", env: map[string]string{"TEMPORAL_TLS_CERT": p.clientCert},
			wantErr: "TEMPORAL_TLS_CERT is set but TEMPORAL_TLS_KEY is not"},
		{name: "key without certificate", env: map[string]string{"TEMPORAL_TLS_KEY": p.clientK},
			wantErr: "TEMPORAL_TLS_KEY is set but TEMPORAL_TLS_CERT is not"},
		{name: "unreadable certificate", env: map[string]string{"TEMPORAL_TLS_CERT": missing, "TEMPORAL_TLS_KEY": p.clientK},
			wantErr: "TEMPORAL_TLS_CERT: open " + missing},
		{name: "unreadable key", env: map[string]string{"TEMPORAL_TLS_CERT": p.clientCert, "TEMPORAL_TLS_KEY": missing},
			wantErr: "TEMPORAL_TLS_KEY: open " + missing},
		{name: "certificate not PEM", env: map[string]string{"TEMPORAL_TLS_CERT": notPEM, "TEMPORAL_TLS_KEY": p.clientK},
			wantErr: "TEMPORAL_TLS_CERT " + notPEM + " with TEMPORAL_TLS_KEY " + p.clientK + ": tls: failed to find any PEM data in certificate input"},
		{name: "key of another certificate", env: map[string]string{"TEMPORAL_TLS_CERT": otherCert, "TEMPORAL_TLS_KEY": p.clientK},
			wantErr: "private key does not match public key"},
		{name: "expired certificate", env: map[string]string{"TEMPORAL_TLS_CERT": expiredCert, "TEMPORAL_TLS_KEY": expiredKey},
			wantErr: "TEMPORAL_TLS_CERT: " + expiredCert + " expired on "},
		{name: "unreadable CA", env: map[string]string{"TEMPORAL_TLS_CA": missing}, wantErr: "TEMPORAL_TLS_CA: open " + missing},
		{name: "CA not PEM", env: map[string]string{"TEMPORAL_TLS_CA": notPEM}, wantErr: "TEMPORAL_TLS_CA: " + notPEM + " holds no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.TemporalTLS != nil; got != tc.wantTLS {
				t.Fatalf("TLS %v, want %v", got, tc.wantTLS)
			}
			if cfg.TemporalAPIKey != tc.wantKey {
				t.Errorf("API key %q, want %q", cfg.TemporalAPIKey, tc.wantKey)
			}
			opts := cfg.temporalClientOptions(slog.New(slog.DiscardHandler))
			if opts.ConnectionOptions.TLS != cfg.TemporalTLS || (opts.Credentials != nil) != (tc.wantKey != "") {
				t.Errorf("client options: TLS %v, credentials %v", opts.ConnectionOptions.TLS, opts.Credentials)
			}
			if !tc.wantTLS {
				return
			}
			c := cfg.TemporalTLS
			if got := len(c.Certificates) == 1; got != tc.wantCert {
				t.Errorf("client certificate %v, want %v", got, tc.wantCert)
			}
			if got := c.RootCAs != nil; got != tc.wantCA {
				t.Errorf("own roots %v, want %v", got, tc.wantCA)
			}
			if c.ServerName != tc.wantServerName || c.MinVersion < tls.VersionTLS12 || c.InsecureSkipVerify {
				t.Errorf("server name %q, min version %x, skip verify %v", c.ServerName, c.MinVersion, c.InsecureSkipVerify)
			}
		})
	}
}

// TestTemporalTLSHandshake: the tls.Config built from the settings completes a handshake
// with a server that requires a client certificate from its CA, and presents that
// certificate; without the CA or without the certificate the handshake fails.
func TestTemporalTLSHandshake(t *testing.T) {
	p := newTestPKI(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", p.serverTLS())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	type accepted struct {
		peer string
		err  error
	}
	results := make(chan accepted)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			tc := conn.(*tls.Conn)
			err = tc.Handshake()
			var peer string
			if err == nil && len(tc.ConnectionState().PeerCertificates) > 0 {
				peer = tc.ConnectionState().PeerCertificates[0].Subject.CommonName
			}
			_ = conn.Close()
			results <- accepted{peer, err}
		}
	}()

	for _, tc := range []struct {
		name            string
		env             map[string]string
		wantClientError string // the client's handshake fails with this
		wantServerOK    bool
	}{
		{name: "mTLS", env: map[string]string{"TEMPORAL_TLS_CERT": p.clientCert, "TEMPORAL_TLS_KEY": p.clientK, "TEMPORAL_TLS_CA": p.caFile,
			"TEMPORAL_TLS_SERVER_NAME": "temporal.test"}, wantServerOK: true},
		{name: "no client certificate", env: map[string]string{"TEMPORAL_TLS_CA": p.caFile}},
		{name: "system roots do not know the CA", env: map[string]string{"TEMPORAL_TLS_CERT": p.clientCert, "TEMPORAL_TLS_KEY": p.clientK},
			wantClientError: "certificate signed by unknown authority"},
		{name: "server name the certificate lacks", env: map[string]string{"TEMPORAL_TLS_CERT": p.clientCert, "TEMPORAL_TLS_KEY": p.clientK,
			"TEMPORAL_TLS_CA": p.caFile, "TEMPORAL_TLS_SERVER_NAME": "other.test"}, wantClientError: "not other.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			conf := cfg.TemporalTLS.Clone()
			if conf.ServerName == "" {
				conf.ServerName = "127.0.0.1" // what gRPC takes from TEMPORAL_ADDRESS
			}
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), conf)
			if err == nil {
				// TLS 1.3 reports a refused client certificate on the first read.
				_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err = conn.Read(make([]byte, 1))
				_ = conn.Close()
			}
			if tc.wantClientError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantClientError) {
					t.Fatalf("client: %v, want an error containing %q", err, tc.wantClientError)
				}
			}
			select {
			case got := <-results:
				if tc.wantServerOK && (got.err != nil || got.peer != "collabflow-client") {
					t.Fatalf("server handshake: %v, client certificate %q", got.err, got.peer)
				}
				if !tc.wantServerOK && got.err == nil {
					t.Fatal("server handshake succeeded")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the server saw no handshake")
			}
		})
	}
}

// fakeFrontend answers what the SDK calls when it dials, and records the authorization
// metadata it was sent.
type fakeFrontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	mu   sync.Mutex
	auth []string
}

func (f *fakeFrontend) GetSystemInfo(ctx context.Context, _ *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.auth = append(f.auth, md.Get("authorization")...)
	f.mu.Unlock()
	return &workflowservice.GetSystemInfoResponse{Capabilities: &workflowservice.GetSystemInfoResponse_Capabilities{}}, nil
}

// TestDialTemporalOverMTLSWithAPIKey: dialTemporal reaches a gRPC frontend that requires
// a client certificate, and sends the API key as a bearer token.
func TestDialTemporalOverMTLSWithAPIKey(t *testing.T) {
	p := newTestPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(p.serverTLS())))
	front := &fakeFrontend{}
	workflowservice.RegisterWorkflowServiceServer(srv, front)
	hs := health.NewServer()
	hs.SetServingStatus(workflowservice.WorkflowService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)

	cfg, err := loadConfig(func(k string) string {
		return map[string]string{
			"TEMPORAL_ADDRESS":  ln.Addr().String(),
			"TEMPORAL_TLS_CERT": p.clientCert, "TEMPORAL_TLS_KEY": p.clientK, "TEMPORAL_TLS_CA": p.caFile,
			"TEMPORAL_API_KEY": "cloud-key.abc",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tc, err := dialTemporal(ctx, cfg, slog.New(slog.DiscardHandler), &telemetry{})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if _, err := tc.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		t.Fatalf("health over mTLS: %v", err)
	}
	front.mu.Lock()
	defer front.mu.Unlock()
	if len(front.auth) == 0 || front.auth[0] != "Bearer cloud-key.abc" {
		t.Fatalf("authorization sent: %q, want the API key as a bearer token", front.auth)
	}
}
