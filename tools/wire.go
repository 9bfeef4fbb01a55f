package tools

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// This file cuts the go-sdk's repeated encoding of tool results. By default a tools/call
// result is encoded three times over: mcp.CallToolResult.MarshalJSON escapes the text block
// and json.Marshal re-validates (compacts) it and structuredContent; jsonrpc2 marshals the
// result again (compacting the whole of it) into the response; and the stdio transport
// compacts the result once more while encoding the JSON-RPC envelope. For a 1,000-row
// query_view that was most of the server's CPU. [EncodeResults] writes the result once
// (one escape of the text, structuredContent copied as is), leaving jsonrpc2 one validating
// pass; [ServeStdio]'s transport writes that validated result into the envelope as is. Under
// ServeStdio even that pass goes: jsonrpc2 encodes a small placeholder, and the transport
// writes the result the placeholder stands for (resultStore), valid JSON by construction.

// EncodeResults is a receiving middleware for a go-sdk server that encodes tools/call results
// in one pass (the text blocks escaped once, a json.RawMessage structuredContent copied as
// is) instead of the go-sdk's repeated re-encoding. The JSON is the same value the go-sdk
// would send. [NewServer] installs it; a host mounting the tools on its own server may add it
// with server.AddReceivingMiddleware(tools.EncodeResults). It changes nothing else: other
// methods and results pass through, and the go-sdk may still set _meta or the result type
// after it runs.
func EncodeResults(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		res, err := next(ctx, method, req)
		if r, ok := res.(*mcp.CallToolResult); ok && err == nil && r != nil {
			store, _ := ctx.Value(resultStoreKey{}).(*resultStore)
			return &encodedResult{CallToolResult: r, store: store}, nil
		}
		return res, err
	}
}

// encodedResult is a tools/call result that encodes itself (see EncodeResults). Embedding
// keeps it a mcp.Result whose _meta and result type the go-sdk can still set.
type encodedResult struct {
	*mcp.CallToolResult
	// store, when set (the session is served by ServeStdio), receives the encoding, and
	// MarshalJSON returns the placeholder the transport replaces with it.
	store *resultStore
}

// encodedJSON is structuredContent agentmv encoded itself (json.Marshal, or the row encoders
// of encode.go), valid JSON by construction: EncodeResults copies it without validating it.
// Any other json.RawMessage is validated before it skips the go-sdk's validation.
type encodedJSON []byte

// MarshalJSON returns the bytes (encoding/json validates them, as for a json.RawMessage).
func (e encodedJSON) MarshalJSON() ([]byte, error) { return e, nil }

// spliceMark is a per-process random text no result contains: the go-sdk encodes a copy of
// the result with placeholders made of it, and the real content replaces them.
var spliceMark = func() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "agentmv-splice-" + hex.EncodeToString(b)
}()

var (
	contentHole    = []byte(`{"type":"text","text":"` + spliceMark + `"}`)
	structuredHole = []byte(`"` + spliceMark + `-sc"`)
)

// MarshalJSON encodes the result: the go-sdk encodes a copy of it whose content and
// structuredContent are small placeholders (so every other field, present or future, is its
// own encoding), and the content blocks and structuredContent replace the placeholders.
func (r *encodedResult) MarshalJSON() ([]byte, error) {
	b, trusted, err := r.encode()
	if err != nil || r.store == nil {
		return b, err
	}
	if !trusted && !json.Valid(b) {
		// As the go-sdk would: no response (its jsonrpc2 reports a malformed result).
		return nil, fmt.Errorf("tools: the tool result is not valid JSON")
	}
	return r.store.put(b), nil
}

// encode returns the result's JSON, and whether it is valid JSON by construction (every
// part encoded by encoding/json, appendString or agentmv's own structuredContent encoder).
func (r *encodedResult) encode() (_ []byte, trusted bool, _ error) {
	var raw []byte
	isRaw, trusted := false, true
	switch sc := r.StructuredContent.(type) {
	case nil:
	case encodedJSON:
		raw, isRaw = sc, true
	case json.RawMessage:
		raw, isRaw, trusted = sc, true, false
	default:
		b, err := r.CallToolResult.MarshalJSON()
		return b, true, err
	}
	shell := *r.CallToolResult
	shell.Content = []mcp.Content{&mcp.TextContent{Text: spliceMark}}
	if isRaw {
		if len(raw) == 0 {
			b, err := r.CallToolResult.MarshalJSON() // let the go-sdk report it
			return b, true, err
		}
		shell.StructuredContent = json.RawMessage(structuredHole)
	}
	head, err := shell.MarshalJSON()
	if err != nil {
		return nil, false, err
	}
	ci := bytes.Index(head, contentHole)
	si := len(head)
	if isRaw {
		si = bytes.Index(head, structuredHole)
	}
	if ci < 0 || si < ci { // not the shape expected: the go-sdk's own encoding
		b, err := r.CallToolResult.MarshalJSON()
		return b, true, err
	}
	size := len(head) + len(raw) + 64
	for _, c := range r.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			size += len(tc.Text) + len(tc.Text)/8
		}
	}
	out := make([]byte, 0, size)
	out = append(out, head[:ci]...)
	for i, c := range r.Content {
		if i > 0 {
			out = append(out, ',')
		}
		if out, err = appendContent(out, c); err != nil {
			return nil, false, err
		}
	}
	out = append(out, head[ci+len(contentHole):si]...)
	if isRaw {
		out = append(out, raw...)
		out = append(out, head[si+len(structuredHole):]...)
	}
	return out, trusted, nil
}

// resultStoreKey is the context key of the resultStore of a ServeStdio session.
type resultStoreKey struct{}

// resultStore holds encoded tool results from EncodeResults' MarshalJSON, which hands
// jsonrpc2 a small placeholder instead (so jsonrpc2 validates a few bytes, not the whole
// result), until the stdio transport writes the response and takes the result back. The
// placeholder {"<spliceMark>":<n>} names it: spliceMark is random per process, so no client
// or tool can forge one, and a response's result never starts with it otherwise (a
// CallToolResult encodes as an object whose first key is content or _meta). Results whose
// response is never written (the connection closed first) are dropped beyond
// maxStoredResults, oldest first.
type resultStore struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64][]byte
}

const maxStoredResults = 256

var placeholderPrefix = []byte(`{"` + spliceMark + `":`)

// put stores b and returns its placeholder.
func (s *resultStore) put(b []byte) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[uint64][]byte{}
	}
	if len(s.m) >= maxStoredResults {
		oldest := s.next
		for k := range s.m {
			oldest = min(oldest, k)
		}
		delete(s.m, oldest)
	}
	s.next++
	s.m[s.next] = b
	out := append([]byte(nil), placeholderPrefix...)
	out = strconv.AppendUint(out, s.next, 10)
	return append(out, '}')
}

// take returns the result a placeholder stands for (ok false when result is no
// placeholder) and forgets it; found is false for a placeholder whose result was dropped.
func (s *resultStore) take(result []byte) (b []byte, ok, found bool) {
	rest, ok := bytes.CutPrefix(result, placeholderPrefix)
	if !ok {
		return nil, false, false
	}
	n, err := strconv.ParseUint(string(bytes.TrimSuffix(rest, []byte("}"))), 10, 64)
	if err != nil {
		return nil, true, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, found = s.m[n]
	delete(s.m, n)
	return b, true, found
}

// appendContent appends one content block: a plain text block directly, any other as
// encoding/json writes it.
func appendContent(buf []byte, c mcp.Content) ([]byte, error) {
	if tc, ok := c.(*mcp.TextContent); ok && tc != nil && tc.Meta == nil && tc.Annotations == nil {
		buf = append(buf, `{"type":"text","text":`...)
		buf = appendString(buf, []byte(tc.Text))
		return append(buf, '}'), nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return append(buf, b...), nil
}

// stdioTransport is the go-sdk's stdio transport (mcp.IOTransport over stdin and stdout)
// with one change: a successful response is written as `{"jsonrpc":"2.0","id":…,"result":…}`
// around the result the go-sdk already encoded and validated (jsonrpc2.NewResponse), instead
// of being compacted once more. Everything else (requests and notifications the server sends,
// error responses, and every response once the client has sent a JSON-RPC batch, whose
// responses the go-sdk collects into one array) goes through the go-sdk's connection.
type stdioTransport struct {
	in    io.ReadCloser
	out   io.Writer
	store *resultStore // where the session's EncodeResults put results (see resultStore)
}

func (t *stdioTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	w := &lockedWriter{w: t.out}
	r := &batchWatch{r: t.in}
	inner, err := (&mcp.IOTransport{Reader: r, Writer: w}).Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &stdioConn{Connection: inner, w: w, r: r, store: t.store}, nil
}

type stdioConn struct {
	mcp.Connection
	w     *lockedWriter
	r     *batchWatch
	store *resultStore
}

func (c *stdioConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	resp, ok := msg.(*jsonrpc.Response)
	if ok && resp.Error == nil && c.store != nil {
		if b, isPlaceholder, found := c.store.take(resp.Result); isPlaceholder {
			r := *resp
			r.Result = b
			if !found {
				r.Result, r.Error = nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError,
					Message: "the tool result was dropped before it could be sent (too many results in flight); call the tool again"}
			}
			resp, msg = &r, &r
		}
	}
	if !ok || resp.Error != nil || len(resp.Result) == 0 || c.r.batched.Load() {
		return c.Connection.Write(ctx, msg)
	}
	buf := make([]byte, 0, len(resp.Result)+64)
	buf = append(buf, `{"jsonrpc":"2.0","id":`...)
	switch id := resp.ID.Raw().(type) {
	case int64:
		buf = strconv.AppendInt(buf, id, 10)
	case string:
		buf = appendString(buf, []byte(id))
	default:
		return c.Connection.Write(ctx, msg)
	}
	buf = append(buf, `,"result":`...)
	buf = append(buf, resp.Result...)
	buf = append(buf, "}\n"...)
	if err := ctx.Err(); err != nil { // as the go-sdk's connection: no writes after the call ended
		return err
	}
	_, err := c.w.Write(buf)
	return err
}

// lockedWriter makes each Write atomic: the go-sdk's connection and stdioConn write whole
// messages to the same stdout.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Close does nothing: stdout stays open for the process (as with mcp.StdioTransport).
func (l *lockedWriter) Close() error { return nil }

// batchWatch passes the client's bytes through and notes whether a JSON-RPC batch (a
// top-level array) ever arrived: from then on every response goes through the go-sdk's
// connection, which answers a batch with one array. It follows the JSON structure (strings,
// escapes, nesting) across reads, so a '[' inside a message or a string is not a batch.
type batchWatch struct {
	r       io.ReadCloser
	batched atomic.Bool
	depth   int
	inStr   bool
	esc     bool
}

func (b *batchWatch) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if !b.batched.Load() {
		b.scan(p[:n])
	}
	return n, err
}

func (b *batchWatch) scan(p []byte) {
	for _, c := range p {
		if b.inStr {
			switch {
			case b.esc:
				b.esc = false
			case c == '\\':
				b.esc = true
			case c == '"':
				b.inStr = false
			}
			continue
		}
		switch c {
		case '"':
			b.inStr = true
		case '{':
			b.depth++
		case '[':
			if b.depth == 0 {
				b.batched.Store(true)
				return
			}
			b.depth++
		case '}', ']':
			if b.depth > 0 {
				b.depth--
			}
		}
	}
}

func (b *batchWatch) Close() error { return b.r.Close() }

// serveStdio is ServeStdio on in and out: server.Run on the stdio transport, with the
// session's resultStore in the context its requests inherit.
func serveStdio(ctx context.Context, server *mcp.Server, in io.ReadCloser, out io.Writer, store *resultStore) error {
	return server.Run(context.WithValue(ctx, resultStoreKey{}, store), &stdioTransport{in: in, out: out, store: store})
}
