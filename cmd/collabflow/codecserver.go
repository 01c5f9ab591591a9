package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/collabflow/collabflow/api"
	"github.com/collabflow/collabflow/codec"
)

// codecTimeouts suit codec requests: bodies of at most codec.DefaultMaxBody and work that
// is only decryption, so a slow client is cut off well before the API's limits.
var codecTimeouts = apiTimeouts{
	ReadHeader: 10 * time.Second,
	Read:       30 * time.Second,
	Write:      45 * time.Second,
	Idle:       2 * time.Minute,
}

// runCodecServer serves Temporal's codec-server protocol on COLLABFLOW_CODEC_ADDR, so the
// Web UI and the temporal CLI can show encrypted histories to holders of an API key.
// ready, when set, is called with the listening address.
func runCodecServer(ctx context.Context, cfg config, ready func(addr string)) error {
	if cfg.Codec == nil {
		return errors.New("COLLABFLOW_CODEC_KEYS is required: the codec server decrypts with the keys the workers encrypt with")
	}
	if len(cfg.APIKeys) == 0 {
		return errors.New("COLLABFLOW_API_KEYS is required: the codec server answers only holders of an API key")
	}
	logger := cfg.logger()
	logger.Info("starting codec server", cfg.logValue()...)
	ln, err := net.Listen("tcp", cfg.CodecAddr)
	if err != nil {
		return fmt.Errorf("listen on COLLABFLOW_CODEC_ADDR %s: %w", cfg.CodecAddr, err)
	}
	srv := newAPIServer(codecHandler(cfg, logger), logger, codecTimeouts)
	logger.Info("codec server listening", "addr", "http://"+ln.Addr().String(), "namespace", cfg.TemporalNamespace)
	if ready != nil {
		ready(ln.Addr().String())
	}
	g, ctx := errgroup.WithContext(ctx)
	serveHTTP(ctx, g, srv, ln, "codec")
	return g.Wait()
}

// codecHandler is the codec endpoint for cfg: API keys whose role may read histories
// decode, ops keys also encode. It sits behind the API's rate limits (per client IP, then
// per key), so guessing a key is as slow here as on /v1.
func codecHandler(cfg config, logger *slog.Logger) http.Handler {
	callers := make([]codec.Caller, len(cfg.APIKeys))
	for i, k := range cfg.APIKeys {
		callers[i] = codec.Caller{
			Name:   k.Name,
			Secret: k.Secret,
			Decode: slices.Contains(api.HistoryReaders, k.Role),
			Encode: k.Role == api.RoleOps,
		}
	}
	h := codec.Handler(cfg.Codec, codec.HandlerOptions{
		Callers:        callers,
		Namespace:      cfg.TemporalNamespace,
		AllowedOrigins: cfg.CodecOrigins,
		Logger:         logger.With("component", "codec"),
	})
	return api.RateLimited(h, api.LimitOptions{RateLimit: cfg.RateLimit, Keys: cfg.APIKeys, TrustedProxies: cfg.TrustedProxies})
}

// webUICodec is the codec endpoint of dev's Web UI: the codec server's handler with one
// decode-only caller, whose bearer secret it adds to every request itself.
//
// The Web UI has no way to send an API key: "Pass access token" sends the token of the
// UI's own login, which dev has none of, and only to https endpoints; "Include
// credentials" sends cookies, which the codec does not take. So in dev the UI's listener
// is the credential: it serves this handler to the UI's own pages only (webui.CodecPath),
// on a loopback address by default, to whoever can already list, signal and terminate
// every workflow there and read the key in the data directory. Decode only: encoding
// would let a page forge payloads that the workers accept as their own.
func webUICodec(cfg config, logger *slog.Logger) http.Handler {
	secret := rand.Text()
	h := codec.Handler(cfg.Codec, codec.HandlerOptions{
		Callers:   []codec.Caller{{Name: "webui", Secret: secret, Decode: true}},
		Namespace: cfg.TemporalNamespace,
		Logger:    logger.With("component", "codec"),
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+secret)
		h.ServeHTTP(w, r)
	})
}

// codecPath is where `collabflow dev` serves the codec endpoint on the API's listener,
// which saves a port beside the API, Temporal and the SendGrid sink.
const codecPath = "/codec"

// withCodec serves codecH under codecPath and everything else with h. It is a prefix
// check rather than a ServeMux so the API sees its requests exactly as without it.
func withCodec(h, codecH http.Handler) http.Handler {
	stripped := http.StripPrefix(codecPath, codecH)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, codecPath+"/") {
			stripped.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
