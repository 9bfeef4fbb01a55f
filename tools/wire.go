package tools

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
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
// pass; [ServeStdio]'s transport writes that validated result into the envelope as is.

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
			return &encodedResult{r}, nil
		}
		return res, err
	}
}

// encodedResult is a tools/call result that encodes itself (see EncodeResults). Embedding
// keeps it a mcp.Result whose _meta and result type the go-sdk can still set.
type encodedResult struct {
	*mcp.CallToolResult
}

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
	raw, isRaw := r.StructuredContent.(json.RawMessage)
	if r.StructuredContent != nil && !isRaw {
		return r.CallToolResult.MarshalJSON()
	}
	shell := *r.CallToolResult
	shell.Content = []mcp.Content{&mcp.TextContent{Text: spliceMark}}
	if isRaw {
		if len(raw) == 0 {
			return r.CallToolResult.MarshalJSON() // let the go-sdk report it
		}
		shell.StructuredContent = json.RawMessage(structuredHole)
	}
	head, err := shell.MarshalJSON()
	if err != nil {
		return nil, err
	}
	ci := bytes.Index(head, contentHole)
	si := len(head)
	if isRaw {
		si = bytes.Index(head, structuredHole)
	}
	if ci < 0 || si < ci {
		return r.CallToolResult.MarshalJSON() // not the shape expected: the go-sdk's own encoding
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
			return nil, err
		}
	}
	out = append(out, head[ci+len(contentHole):si]...)
	if isRaw {
		out = append(out, raw...)
		out = append(out, head[si+len(structuredHole):]...)
	}
	return out, nil
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
	in  io.ReadCloser
	out io.Writer
}

func (t *stdioTransport) Connect(ctx context.Context) (mcp.Connection, error) {
	w := &lockedWriter{w: t.out}
	r := &batchWatch{r: t.in}
	inner, err := (&mcp.IOTransport{Reader: r, Writer: w}).Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &stdioConn{Connection: inner, w: w, r: r}, nil
}

type stdioConn struct {
	mcp.Connection
	w *lockedWriter
	r *batchWatch
}

func (c *stdioConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	resp, ok := msg.(*jsonrpc.Response)
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

// newStdioTransport is the transport of [ServeStdio].
func newStdioTransport() mcp.Transport {
	return &stdioTransport{in: os.Stdin, out: os.Stdout}
}
