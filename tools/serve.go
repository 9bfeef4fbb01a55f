package tools

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Server names of agentmv's two MCP servers (the seed's).
const (
	RuntimeServerName = "agent-materialize-runtime"
	SetupServerName   = "agent-materialize-setup"
)

// NewServer returns a go-sdk server named name with every tool of reg mounted, sending reg's
// instructions ([Registry.Instructions]) to clients at initialize, and encoding tool results
// in one pass ([EncodeResults], the outermost receiving middleware).
func NewServer(name, version string, reg *Registry) *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: name, Version: version}, &mcp.ServerOptions{Instructions: reg.Instructions()})
	reg.Mount(s)
	s.AddReceivingMiddleware(EncodeResults)
	return s
}

// HTTPOptions configure [NewHTTPServer].
type HTTPOptions struct {
	// Addr is the listen address; default 127.0.0.1:8765. A host other than a loopback
	// address (including an empty host, meaning all interfaces) requires Token.
	Addr string
	// Token, when set, is the bearer token every request must carry
	// (Authorization: Bearer <token>), compared in constant time.
	Token string
	// MaxBodyBytes bounds request bodies (default 1 MiB).
	MaxBodyBytes int64
	// ReadTimeout and WriteTimeout bound one request (defaults 30 s and 2 min).
	ReadTimeout, WriteTimeout time.Duration
	// Agents are served next to (or instead of) server: a request carrying an agent's Token is
	// served by that agent's Server (its own registry, on its own Postgres role). Tokens are
	// compared in constant time against every configured token; a wrong or missing token gets
	// 401. With Agents set, every request needs a token (Token, when set, selects server: the
	// default agent). The agent's name is the TokenInfo.UserID of the request
	// (auth.TokenInfoFromContext), for middleware such as the audit log.
	Agents []HTTPAgent
	// Logger receives one line per rejected request (401, 403, 413): method, path, remote
	// address and status, never the Authorization header. Nil logs nothing.
	Logger *slog.Logger
	// Probes are extra GET endpoints by path (e.g. "/healthz", "/readyz") served without the
	// bearer token, so load balancers and orchestrators can call them; the other protections
	// (loopback Host/Origin, body limit, timeouts) still apply. They must reveal nothing secret.
	Probes map[string]http.Handler
	// Metrics, when set, is served at GET /metrics behind the same bearer token as the MCP
	// endpoint (any configured token; none on a token-less loopback server), e.g.
	// promhttp.HandlerFor on the registry passed to [NewMetrics]. To serve it without a token,
	// use [NewMetricsServer] on a loopback address instead.
	Metrics http.Handler
	// ShutdownTimeout bounds how long ServeHTTP waits for in-flight requests once its context
	// ends (default 5 s); then it closes the remaining connections.
	ShutdownTimeout time.Duration
}

// HTTPAgent is one agent served over HTTP: its bearer token and its MCP server.
type HTTPAgent struct {
	Name   string
	Token  string
	Server *mcp.Server
}

// IsLoopback reports whether the host of addr (host:port) is a loopback address or
// "localhost". An empty host means every interface and is not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// NewHTTPServer returns a server serving server over streamable HTTP (stateless, JSON
// responses) at /mcp and /, with a request body limit, read/write timeouts, DNS-rebinding
// protection (Host and Origin must be loopback when listening on loopback) and, when
// opts.Token is set, a required bearer token. It refuses a non-loopback address without a
// token.
func NewHTTPServer(server *mcp.Server, opts HTTPOptions) (*HTTPServer, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:8765"
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 30 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 2 * time.Minute
	}
	loopback := IsLoopback(opts.Addr)
	if !loopback && opts.Token == "" && len(opts.Agents) == 0 {
		return nil, fmt.Errorf("serving MCP on %s (not a loopback address) needs a bearer token: set one in an environment variable and pass --token-env NAME, or listen on 127.0.0.1", opts.Addr)
	}
	ids, err := newTokenTable(opts.Token, server, opts.Agents)
	if err != nil {
		return nil, err
	}
	var h http.Handler = mcp.NewStreamableHTTPHandler(ids.server,
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true, MaxRequestBodyBytes: opts.MaxBodyBytes})
	if opts.Metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("/", h)
		mux.Handle("GET /metrics", opts.Metrics)
		h = mux
	}
	if len(ids.tokens) > 0 {
		h = auth.RequireBearerToken(ids.verify, nil)(h)
	}
	if len(opts.Probes) > 0 {
		mux := http.NewServeMux()
		mux.Handle("/", h)
		for path, probe := range opts.Probes {
			mux.Handle("GET "+path, probe)
		}
		h = mux
	}
	if loopback {
		h = loopbackOrigin(h)
	}
	h = http.MaxBytesHandler(h, opts.MaxBodyBytes)
	if opts.Logger != nil {
		h = logRejections(h, opts.Logger)
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 5 * time.Second
	}
	srv := &http.Server{
		Addr:              opts.Addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	return &HTTPServer{Server: srv, shutdownTimeout: opts.ShutdownTimeout}, nil
}

// NewMetricsServer returns a server answering GET /metrics with metrics and nothing else,
// without a token: addr must be a loopback address (it refuses any other, since anyone who
// can reach the port could read the metrics), and Host and Origin must be loopback too
// (DNS-rebinding protection). Run it with Serve.
func NewMetricsServer(addr string, metrics http.Handler) (*HTTPServer, error) {
	if !IsLoopback(addr) {
		return nil, fmt.Errorf("the metrics address %s is not a loopback address: a separate metrics listener has no token, so it must be 127.0.0.1, [::1] or localhost (scrape it from this host), or leave it unset to serve /metrics on the MCP listener behind the bearer token", addr)
	}
	if metrics == nil {
		return nil, fmt.Errorf("tools: NewMetricsServer needs a metrics handler")
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	srv := &http.Server{
		Addr:              addr,
		Handler:           loopbackOrigin(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	return &HTTPServer{Server: srv, shutdownTimeout: 5 * time.Second}, nil
}

// HTTPServer is an MCP server over streamable HTTP built by NewHTTPServer; run it with Serve.
type HTTPServer struct {
	*http.Server
	shutdownTimeout time.Duration
}

// tokenTable maps bearer tokens to agents and agents to their servers.
type tokenTable struct {
	tokens  [][]byte // tokens[i] belongs to names[i]
	names   []string
	servers map[string]*mcp.Server // by agent name; "" is the default server
}

// DefaultAgent is the agent name of calls served by the default server (the runtime role).
const DefaultAgent = ""

func newTokenTable(token string, server *mcp.Server, agents []HTTPAgent) (*tokenTable, error) {
	t := &tokenTable{servers: map[string]*mcp.Server{}}
	if server != nil && (token != "" || len(agents) == 0) {
		t.servers[DefaultAgent] = server
	}
	if token != "" {
		t.tokens = append(t.tokens, []byte(token))
		t.names = append(t.names, DefaultAgent)
	}
	for _, a := range agents {
		if a.Name == "" || a.Token == "" || a.Server == nil {
			return nil, fmt.Errorf("tools: HTTP agent %q needs a name, a token and a server", a.Name)
		}
		if _, dup := t.servers[a.Name]; dup {
			return nil, fmt.Errorf("tools: HTTP agent %q is listed twice", a.Name)
		}
		for i, other := range t.tokens {
			if subtle.ConstantTimeCompare(other, []byte(a.Token)) == 1 {
				who := t.names[i]
				if who == DefaultAgent {
					who = "the default (--token-env)"
				}
				return nil, fmt.Errorf("agent %s has the same token as %s; each agent needs a token of its own (the token says which agent is calling)", a.Name, who)
			}
		}
		t.tokens = append(t.tokens, []byte(a.Token))
		t.names = append(t.names, a.Name)
		t.servers[a.Name] = a.Server
	}
	return t, nil
}

// verify finds the agent whose token was sent, comparing it with every token in constant time.
func (t *tokenTable) verify(_ context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
	got := []byte(token)
	found := -1
	for i, want := range t.tokens {
		if subtle.ConstantTimeCompare(got, want) == 1 {
			found = i
		}
	}
	if found < 0 {
		return nil, auth.ErrInvalidToken
	}
	return &auth.TokenInfo{UserID: t.names[found], Expiration: time.Now().Add(time.Hour)}, nil
}

// server is the MCP server of the request's agent.
func (t *tokenTable) server(r *http.Request) *mcp.Server {
	agent := DefaultAgent
	if ti := auth.TokenInfoFromContext(r.Context()); ti != nil {
		agent = ti.UserID
	}
	return t.servers[agent]
}

// logRejections logs requests answered with 401, 403 or 413, without any credential.
func logRejections(next http.Handler, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusRequestEntityTooLarge:
			logger.Warn("mcp http: request rejected", "status", rec.status, "method", r.Method,
				"path", r.URL.Path, "remote", r.RemoteAddr, "bearer_token_sent", strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "))
		}
	})
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Flush keeps streaming responses working through the recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// loopbackOrigin rejects requests whose Host or Origin is not loopback: a web page on another
// site (DNS rebinding, or a browser fetch) must not reach a server bound to 127.0.0.1.
func loopbackOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsLoopback(r.Host) {
			http.Error(w, "forbidden: Host must be a loopback address", http.StatusForbidden)
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || !IsLoopback(u.Host) {
				http.Error(w, "forbidden: cross-origin request", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// Serve listens on srv.Addr and serves until ctx is done, then shuts down gracefully: no new
// connections, in-flight requests get up to HTTPOptions.ShutdownTimeout, then the rest are
// closed. ready, when not nil, receives the bound address (useful with port 0).
func (srv *HTTPServer) Serve(ctx context.Context, ready func(addr string)) error {
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", srv.Addr, err)
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Server.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), srv.shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			_ = srv.Close()
		}
		return nil
	}
}

// ServeStdio serves server over stdin/stdout until the client closes the stream or ctx is
// done; both count as a normal end (nil). The transport is the go-sdk's stdio transport,
// except that a successful response's result is written as is, and a tool result as
// [EncodeResults] encoded it (see wire.go), without the go-sdk encoding it again. When stdin is a
// pipe or a socket it is read in non-blocking mode, through Go's network poller.
func ServeStdio(ctx context.Context, server *mcp.Server) error {
	err := serveStdio(ctx, server, pollableStdin(), os.Stdout, &resultStore{})
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
