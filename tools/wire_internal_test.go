package tools

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// tricky is text that every JSON encoder must escape differently from plain ASCII: quotes,
// backslashes, control characters, HTML characters (escaped by the go-sdk, not by us),
// JavaScript line terminators, non-ASCII and invalid UTF-8.
const tricky = "a \"quoted\" \\ path\n\ttab \x01 <b>&amp;</b> \u2028\u2029 é 日本 \xff end"

// trickyValid is tricky as it comes back through JSON (invalid UTF-8 replaced).
var trickyValid = strings.ToValidUTF8(tricky, "\ufffd")

// sameJSON fails unless a and b are valid JSON of the same value.
func sameJSON(t *testing.T, label string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: our encoding is not JSON: %v\n%s", label, err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: the go-sdk's encoding is not JSON: %v\n%s", label, err, want)
	}
	if d := cmp.Diff(w, g); d != "" {
		t.Errorf("%s: encodings differ (-go-sdk +ours):\n%s\nours: %s", label, d, got)
	}
}

// TestEncodeResultsSameJSON: the one-pass encoding of a tool result is the same JSON value as
// the go-sdk's own, for every shape of result (text blocks, structuredContent as bytes or as
// a Go value, errors, _meta, other content types).
func TestEncodeResultsSameJSON(t *testing.T) {
	structured, err := json.Marshal(map[string]any{"columns": []string{"x"}, "rows": [][]any{{tricky, 1.5, nil}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		res  *mcp.CallToolResult
	}{
		{"text only", &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: tricky}}}},
		{"text and structured bytes", &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(structured)}}, StructuredContent: json.RawMessage(structured)}},
		{"no content", &mcp.CallToolResult{Content: []mcp.Content{}}},
		{"error", &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: `{"error_type":"internal"}`}}}},
		{"meta", &mcp.CallToolResult{Meta: mcp.Meta{"k": "v <&>", "content": []any{}}, Content: []mcp.Content{&mcp.TextContent{Text: "x"}}, StructuredContent: json.RawMessage(`{"a":1}`)}},
		{"two blocks", &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "one"}, &mcp.TextContent{Text: tricky}}}},
		{"annotated text", &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "x", Annotations: &mcp.Annotations{Priority: 0.5}}}}},
		{"image", &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "x"}, &mcp.ImageContent{Data: []byte{1, 2, 3}, MIMEType: "image/png"}}}},
		{"structured Go value", &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "x"}}, StructuredContent: map[string]any{"s": tricky}}},
		{"request state", &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "x"}}, RequestState: "st"}},
	} {
		want, err := c.res.MarshalJSON()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := (&encodedResult{CallToolResult: c.res}).MarshalJSON()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		sameJSON(t, c.name, got, want)
		if strings.Contains(string(got), spliceMark) {
			t.Errorf("%s: a placeholder is left in %s", c.name, got)
		}
		// Under ServeStdio: a placeholder, and the store gives back the same encoding.
		store := &resultStore{}
		ph, err := (&encodedResult{CallToolResult: c.res, store: store}).MarshalJSON()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		stored, isPlaceholder, found := store.take(ph)
		if !isPlaceholder || !found || !json.Valid(ph) {
			t.Fatalf("%s: MarshalJSON under a store gave %s (placeholder %v, found %v)", c.name, ph, isPlaceholder, found)
		}
		sameJSON(t, c.name+" (stored)", stored, want)
	}
}

// TestEncodeResultsValidatesForeignJSON: under ServeStdio, where jsonrpc2 no longer validates
// the result, a json.RawMessage structuredContent (a host's tool) is validated, while
// agentmv's own encodedJSON is trusted.
func TestEncodeResultsValidatesForeignJSON(t *testing.T) {
	store := &resultStore{}
	bad := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "x"}}, StructuredContent: json.RawMessage(`{"a":`)}
	if b, err := (&encodedResult{CallToolResult: bad, store: store}).MarshalJSON(); err == nil {
		t.Errorf("invalid structuredContent encoded as %s", b)
	}
	if _, err := bad.MarshalJSON(); err == nil {
		t.Error("the go-sdk accepts invalid structuredContent; the test proves nothing")
	}
	good := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "x"}}, StructuredContent: encodedJSON(`{"a":1}`)}
	if _, err := (&encodedResult{CallToolResult: good, store: store}).MarshalJSON(); err != nil {
		t.Error(err)
	}
}

// TestResultStore: a placeholder is taken once; results never taken are dropped beyond the
// bound, oldest first, and the transport answers a dropped one with a JSON-RPC error; other
// results are not placeholders.
func TestResultStore(t *testing.T) {
	s := &resultStore{}
	var phs [][]byte
	for i := range maxStoredResults + 10 {
		phs = append(phs, s.put([]byte(fmt.Sprint(i))))
	}
	if len(s.m) != maxStoredResults {
		t.Fatalf("%d results stored, want %d", len(s.m), maxStoredResults)
	}
	if b, ok, found := s.take(phs[len(phs)-1]); !ok || !found || string(b) != fmt.Sprint(maxStoredResults+9) {
		t.Errorf("newest: %s %v %v", b, ok, found)
	}
	if _, ok, found := s.take(phs[len(phs)-1]); !ok || found {
		t.Error("a placeholder was taken twice")
	}
	if _, ok, found := s.take(phs[0]); !ok || found {
		t.Error("the oldest result was kept past the bound")
	}
	if _, ok, _ := s.take([]byte(`{"content":[]}`)); ok {
		t.Error("a result taken for a placeholder")
	}
	// The transport's answer to a dropped result.
	var buf strings.Builder
	w := &lockedWriter{w: &buf}
	inner, err := (&mcp.IOTransport{Reader: io.NopCloser(strings.NewReader("")), Writer: w}).Connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := &stdioConn{Connection: inner, w: w, r: &batchWatch{}, store: s}
	id, err := jsonrpc.MakeID(float64(7))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Write(context.Background(), &jsonrpc.Response{ID: id, Result: phs[0]}); err != nil {
		t.Fatal(err)
	}
	var resp rpcResponse
	if err := json.Unmarshal([]byte(buf.String()), &resp); err != nil || resp.Error == nil || fmt.Sprint(resp.ID) != "7" || strings.Contains(buf.String(), spliceMark) {
		t.Errorf("dropped result answered with %s (%v)", buf.String(), err)
	}
}

// wireOut is the output of the tools the session tests call.
type wireOut struct {
	Text string   `json:"text"`
	List []string `json:"list"`
}

func wireRegistry(t *testing.T) *Registry {
	t.Helper()
	reg := NewRegistry()
	echo := func(_ context.Context, in struct {
		Text string `json:"text"`
	}) (wireOut, error) {
		return wireOut{Text: in.Text, List: []string{tricky, "b"}}, nil
	}
	fail := func(context.Context, struct{}) (wireOut, error) {
		return wireOut{}, fmt.Errorf("it failed: %s", tricky)
	}
	if err := reg.Add(New("echo", "Echo.", echo), New("echo_text", "Echo as text.", echo, TextOnly()), New("fail", "Fail.", fail)); err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestEncodeResultsOverSessions: through real go-sdk sessions, at the current protocol (where
// the go-sdk adds _meta and the result type after the middleware ran) and at 2025-06-18, a
// server built by NewServer answers exactly what a plain go-sdk server with the same tools
// answers.
func TestEncodeResultsOverSessions(t *testing.T) {
	ctx := context.Background()
	connect := func(s *mcp.Server, version string) *mcp.ClientSession {
		st, ct := mcp.NewInMemoryTransports()
		if _, err := s.Connect(ctx, st, nil); err != nil {
			t.Fatal(err)
		}
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "v0"}, nil).Connect(ctx, ct, &mcp.ClientSessionOptions{ProtocolVersion: version})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.Close() })
		return cs
	}
	reg := wireRegistry(t)
	plain := mcp.NewServer(&mcp.Implementation{Name: "n", Version: "v"}, nil)
	reg.Mount(plain)
	for _, version := range []string{"", "2025-06-18"} {
		ours, theirs := connect(NewServer("n", "v", reg), version), connect(plain, version)
		for _, call := range []*mcp.CallToolParams{
			{Name: "echo", Arguments: map[string]any{"text": tricky}},
			{Name: "echo_text", Arguments: map[string]any{"text": "plain"}},
			{Name: "fail", Arguments: map[string]any{}},
			{Name: "echo", Arguments: map[string]any{"text": 7}}, // invalid arguments
		} {
			got, err := ours.CallTool(ctx, call)
			if err != nil {
				t.Fatalf("%s at %q: %v", call.Name, version, err)
			}
			want, err := theirs.CallTool(ctx, call)
			if err != nil {
				t.Fatal(err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			sameJSON(t, fmt.Sprintf("%s at %q", call.Name, version), g, w)
		}
	}
}

// stdioPipes serves server as ServeStdio does (with store) on two OS pipes (as stdin and stdout) and
// returns the client's ends: a writer of request lines and a reader of response lines.
func stdioPipes(t *testing.T, server *mcp.Server, store *resultStore) (io.Writer, *bufio.Reader) {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveStdio(ctx, server, inR, outW, store) }()
	t.Cleanup(func() {
		inW.Close()
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Error("the stdio server did not stop")
		}
		outW.Close()
		outR.Close()
	})
	return inW, bufio.NewReaderSize(outR, 1<<20)
}

// storeUsed fails unless every one of calls tool results went through store (the placeholder
// path: the session's requests saw ServeStdio's context) and none is left in it.
func storeUsed(t *testing.T, store *resultStore, calls int) {
	t.Helper()
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.next != uint64(calls) || len(store.m) != 0 {
		t.Errorf("%d results went through the store, %d left in it; want %d and 0", store.next, len(store.m), calls)
	}
}

// rpcResponse is one JSON-RPC response as the client reads it.
type rpcResponse struct {
	JSONRPC string             `json:"jsonrpc"`
	ID      any                `json:"id"`
	Result  mcp.CallToolResult `json:"result"`
	Error   *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestStdioTransportWire: over real pipes, ServeStdio's transport answers single calls (number
// and string ids), errors, and JSON-RPC batches (one array, as the go-sdk does) with
// well-formed newline-delimited JSON-RPC, and every result carries its text and structured
// content.
func TestStdioTransportWire(t *testing.T) {
	store := &resultStore{}
	w, r := stdioPipes(t, NewServer("n", "v", wireRegistry(t)), store)
	send := func(line string) {
		t.Helper()
		if _, err := io.WriteString(w, line+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	readLine := func() []byte {
		t.Helper()
		line, err := r.ReadBytes('\n')
		if err != nil {
			t.Fatalf("reading a response: %v (got %q)", err, line)
		}
		return line
	}
	checkEcho := func(resp rpcResponse, id any) {
		t.Helper()
		if resp.JSONRPC != "2.0" || fmt.Sprint(resp.ID) != fmt.Sprint(id) || resp.Error != nil || resp.Result.IsError {
			t.Fatalf("response %+v, want a result for id %v", resp, id)
		}
		text := resp.Result.Content[0].(*mcp.TextContent).Text
		var out wireOut
		if err := json.Unmarshal([]byte(text), &out); err != nil || out.Text != trickyValid || out.List[0] != trickyValid {
			t.Errorf("text block %q: %v", text, err)
		}
		sc, _ := json.Marshal(resp.Result.StructuredContent)
		sameJSON(t, "structuredContent", sc, []byte(text))
	}
	// 2025-03-26 is the last protocol version with JSON-RPC batches.
	send(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`)
	readLine()
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	arg, _ := json.Marshal(map[string]any{"text": tricky})
	call := func(id string) string {
		return `{"jsonrpc":"2.0","id":` + id + `,"method":"tools/call","params":{"name":"echo","arguments":` + string(arg) + `}}`
	}
	for _, id := range []string{"1", `"a[1]"`, "2"} {
		send(call(id))
		var resp rpcResponse
		if err := json.Unmarshal(readLine(), &resp); err != nil {
			t.Fatal(err)
		}
		var want any
		_ = json.Unmarshal([]byte(id), &want)
		checkEcho(resp, want)
	}
	send(`{"jsonrpc":"2.0","id":3,"method":"no/such/method"}`)
	var bad rpcResponse
	if err := json.Unmarshal(readLine(), &bad); err != nil || bad.Error == nil || fmt.Sprint(bad.ID) != "3" {
		t.Fatalf("unknown method: %+v, %v", bad, err)
	}
	send(`[` + call("4") + `,` + call("5") + `]`)
	var batch []rpcResponse
	if line := readLine(); json.Unmarshal(line, &batch) != nil || len(batch) != 2 {
		t.Fatalf("batch answered with %s, want one array of two responses", line)
	}
	checkEcho(batch[0], 4)
	checkEcho(batch[1], 5)
	send(call("6")) // after a batch, single calls still get single responses
	var resp rpcResponse
	if err := json.Unmarshal(readLine(), &resp); err != nil {
		t.Fatal(err)
	}
	checkEcho(resp, 6)
	storeUsed(t, store, 6)
}

// TestStdioTransportClient: the go-sdk client works against ServeStdio's transport as against
// its own, at the current protocol.
func TestStdioTransportClient(t *testing.T) {
	ctx := context.Background()
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	store := &resultStore{}
	go func() { done <- serveStdio(sctx, NewServer("n", "v", wireRegistry(t)), inR, outW, store) }()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "v0"}, nil).Connect(ctx, &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": fmt.Sprint(tricky, i)}})
		if err != nil || res.IsError {
			t.Fatalf("call %d: %v %+v", i, err, res)
		}
		var out wireOut
		if err := json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &out); err != nil || out.Text != fmt.Sprint(trickyValid, i) {
			t.Fatalf("call %d: %+v %v", i, out, err)
		}
	}
	storeUsed(t, store, 20)
	cs.Close()
	cancel()
	<-done
	outW.Close()
}

// TestBatchWatch: only a top-level array is a batch, wherever the reads split the stream;
// brackets inside messages and strings (with escaped quotes) are not.
func TestBatchWatch(t *testing.T) {
	for _, c := range []struct {
		stream string
		batch  bool
	}{
		{`{"a":"[x"}` + "\n" + `{"b":["x",[1]]}`, false},
		{`{"a":"\"[\\"}` + "\n" + `{"a":"\\\"["}`, false},
		{`{"params":{"l":[{"x":"]"}]}}` + "\n", false},
		{`[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, true},
		{`{"a":1}` + "\n  " + `[{"b":2}]`, true},
		{`{"a":"}"}[{"b":2}]`, true},
	} {
		for split := 1; split <= len(c.stream); split++ {
			b := &batchWatch{r: io.NopCloser(strings.NewReader(c.stream))}
			buf := make([]byte, split)
			for {
				if _, err := b.Read(buf); err != nil {
					break
				}
			}
			if b.batched.Load() != c.batch {
				t.Errorf("%s (reads of %d bytes): batch = %v, want %v", c.stream, split, !c.batch, c.batch)
				break
			}
		}
	}
}
