// External client test: the official MCP TypeScript SDK talks to agentmv's runtime server over
// stdio (the thin binary) and over streamable HTTP (agent-mv mcp runtime --http), with and
// without the bearer token. Run by mcpclient_test.go, which sets:
//   AGENTMV_RUNTIME_BIN  path of agent-materialize-runtime-mcp
//   AGENTMV_CLI_BIN      path of agent-mv
//   AGENT_MV_RUNTIME_URL, AGENT_MV_TARGET_SCHEMA   the database fixture
//   AGENTMV_QUERY_GUARD  "on" when the binaries were built with the SQL parser
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const guardOn = process.env.AGENTMV_QUERY_GUARD === "on";
const RUNTIME_TOOLS = ["describe_view", "get_lineage", "list_views", "query_view", "refresh_view"];

function json(result) {
  assert.equal(result.content.length, 1);
  assert.equal(result.content[0].type, "text");
  return JSON.parse(result.content[0].text);
}

// structured checks a successful result the way a structured-output client reads it: the SDK
// has already validated structuredContent against the tool's outputSchema (callTool throws on
// a mismatch or on a missing structuredContent); the text block carries the same JSON.
function structured(result, label) {
  assert.ok(!result.isError, `${label}: ${result.content?.[0]?.text}`);
  assert.equal(typeof result.structuredContent, "object", `${label}: no structuredContent`);
  assert.deepEqual(json(result), result.structuredContent, `${label}: text and structuredContent differ`);
  return result.structuredContent;
}

async function exercise(client, label) {
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), RUNTIME_TOOLS, `${label}: tool names`);
  const qv = tools.find((t) => t.name === "query_view");
  assert.equal(qv.inputSchema.type, "object");
  assert.deepEqual(qv.inputSchema.required, ["sql"]);
  assert.equal(qv.annotations.readOnlyHint, true);
  for (const t of tools) {
    assert.equal(t.outputSchema?.type, "object", `${label}: ${t.name} declares no outputSchema`);
  }

  const lv = await client.callTool({ name: "list_views", arguments: {} });
  const names = structured(lv, `${label}: list_views`).views.map((v) => v.name);
  assert.deepEqual(names, ["customer_rollup", "daily_revenue", "fragile", "top_customers"], `${label}: views`);

  const q = await client.callTool({
    name: "query_view",
    arguments: { sql: "SELECT customer_id, revenue FROM customer_rollup ORDER BY customer_id", limit: 5 },
  });
  const body = json(q);
  if (guardOn) {
    structured(q, `${label}: query_view`);
    assert.deepEqual(body.columns.map((c) => c.name), ["customer_id", "revenue"]);
    assert.equal(body.row_count, 5);
    assert.equal(body.truncated, true);
    assert.equal(body.rows[0][0], 1);
  } else {
    assert.equal(q.isError, true);
    assert.equal(body.error_type, "internal");
  }
  const bad = await client.callTool({ name: "query_view", arguments: { sql: "SELECT * FROM public.secrets" } });
  assert.equal(bad.isError, true, `${label}: base table read must fail`);
  assert.ok(["not_allowed", "internal"].includes(json(bad).error_type));

  const dv = structured(await client.callTool({ name: "describe_view", arguments: { name: "customer_rollup" } }), `${label}: describe_view`);
  assert.deepEqual(dv.columns.map((c) => c.name), ["customer_id", "name", "orders", "revenue"]);
  const gl = structured(await client.callTool({ name: "get_lineage", arguments: { name: "top_customers" } }), `${label}: get_lineage`);
  assert.deepEqual(gl.depends_on, ["customer_rollup"]);
  const rv = structured(await client.callTool({ name: "refresh_view", arguments: { name: "customer_rollup" } }), `${label}: refresh_view`);
  assert.ok(["success", "fresh", "busy"].includes(rv.status), `${label}: refresh_view status ${rv.status}`);

  const unknown = await client.callTool({ name: "describe_view", arguments: { name: "secrets" } });
  assert.equal(unknown.isError, true);
  assert.deepEqual(Object.keys(json(unknown)).sort(), ["error_type", "hint", "message"]);
  assert.equal(json(unknown).error_type, "unknown_view");

  // Prompts (the querying skill) and view resources, as any MCP client sees them.
  const { prompts } = await client.listPrompts();
  assert.deepEqual(prompts.map((p) => p.name), ["query-views"], `${label}: prompts`);
  const pr = await client.getPrompt({ name: "query-views", arguments: { question: "Top customers?" } });
  assert.match(pr.messages[0].content.text, /query_view/, `${label}: prompt text`);
  assert.match(pr.messages[0].content.text, /Top customers\?\n$/, `${label}: prompt argument`);
  const { resources } = await client.listResources();
  assert.deepEqual(resources.map((r) => r.name).sort(), ["customer_rollup", "daily_revenue", "fragile", "top_customers"], `${label}: resources`);
  const uri = resources.find((r) => r.name === "customer_rollup").uri;
  const rr = await client.readResource({ uri });
  const doc = JSON.parse(rr.contents[0].text);
  assert.equal(rr.contents[0].mimeType, "application/json");
  assert.deepEqual(doc.columns.map((c) => c.description ?? ""), ["", "", "Number of orders the customer placed", "Sum of the order amounts, in euros"], `${label}: resource columns`);
  const { resourceTemplates } = await client.listResourceTemplates();
  assert.deepEqual(resourceTemplates.map((t) => t.uriTemplate), [uri.replace(/customer_rollup$/, "{name}")], `${label}: resource templates`);
  console.log(`ok ${label}`);
}

// 1. stdio: the thin binary, spawned by the SDK.
{
  const transport = new StdioClientTransport({
    command: env("AGENTMV_RUNTIME_BIN"),
    env: {
      PATH: process.env.PATH ?? "",
      AGENT_MV_RUNTIME_URL: env("AGENT_MV_RUNTIME_URL"),
      AGENT_MV_TARGET_SCHEMA: env("AGENT_MV_TARGET_SCHEMA"),
    },
    stderr: "inherit",
  });
  const client = new Client({ name: "agentmv-node-test", version: "1.0.0" });
  await client.connect(transport);
  assert.equal(client.getServerVersion().name, "agent-materialize-runtime");
  await exercise(client, "stdio");
  await client.close();
}

// 2. streamable HTTP with a bearer token.
const token = "node-test-token-" + Math.random().toString(36).slice(2);
const server = spawn(env("AGENTMV_CLI_BIN"), ["mcp", "runtime", "--http", "127.0.0.1:0", "--token-env", "MCP_TOKEN"], {
  env: { ...process.env, MCP_TOKEN: token },
  stdio: ["ignore", "inherit", "pipe"],
});
try {
  const url = await new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error("HTTP server did not start: " + buf)), 30000);
    server.stderr.on("data", (d) => {
      buf += d.toString();
      const m = buf.match(/serving MCP on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(new URL(m[1]));
      }
    });
    server.on("exit", (code) => reject(new Error(`agent-mv mcp runtime exited ${code}: ${buf}`)));
  });

  // Without a token (and with a wrong one): 401, for a raw request and for the SDK client.
  const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } } };
  for (const auth of [undefined, "Bearer wrong-token"]) {
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    if (auth) headers.authorization = auth;
    const res = await fetch(url, { method: "POST", headers, body: JSON.stringify(init) });
    assert.equal(res.status, 401, `POST with ${auth ?? "no token"}`);
  }
  await assert.rejects(new Client({ name: "no-token", version: "1" }).connect(new StreamableHTTPClientTransport(url)));

  // A foreign Origin is refused on loopback (DNS-rebinding / browser protection).
  const evil = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${token}`, origin: "http://evil.example" },
    body: JSON.stringify(init),
  });
  assert.equal(evil.status, 403);

  const client = new Client({ name: "agentmv-node-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  await exercise(client, "http");
  await client.close();
} finally {
  server.kill("SIGTERM");
}
console.log("all ok");
