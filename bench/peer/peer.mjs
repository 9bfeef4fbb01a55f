// Peer benchmark: agentmv's runtime server (query_view) against the reference Postgres MCP
// server (@modelcontextprotocol/server-postgres, tool `query`), both spawned over stdio and
// driven by the official TypeScript client, on the same database as the same role.
//
// Each case runs in interleaved rounds: a block of PEER_CALLS calls to one server, then the
// same block to the other, the order swapped every round. A round's ratio is the median call
// time of agentmv ÷ the reference's in that round; the case's ratio is the median of the
// rounds' ratios, so load that comes and goes on a shared machine hits both sides.
//
// Run by BenchmarkPeerStdio (scripts/peer-bench.sh) and smoke-tested by
// test/mcpclient's TestPeerBenchSmoke. Environment:
//   AGENTMV_RUNTIME_BIN     path of agent-materialize-runtime-mcp
//   AGENT_MV_RUNTIME_URL    the runtime role's DSN (both servers use it)
//   AGENT_MV_TARGET_SCHEMA  the target schema (default agent_mv)
//   PEER_CASES              JSON [{"name", "sql", "rows"}]: sql is run as is by both servers
//                           (qualify the views), rows is the row count both must return
//   PEER_ROUNDS, PEER_CALLS, PEER_WARMUP   rounds, calls per server per round, warm-up calls
//   PEER_OURS_ENV           JSON object of more environment for agentmv's server (experiments)
//   PEER_REF_BIN            experiments, build against build: the reference side is this other
//                           agentmv runtime binary (query_view, same environment) instead of the
//                           reference server; "reference" in the output names it
// Prints one JSON object per case on stdout ({"case", "rounds", "calls", "ratio", "ours_us",
// "ref_us", ...}); anything else goes to stderr.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const env = (name, dflt) => {
  const v = process.env[name] ?? dflt;
  if (v === undefined || v === "") throw new Error(`${name} is not set`);
  return v;
};
const int = (name, dflt) => {
  const n = Number.parseInt(env(name, String(dflt)), 10);
  if (!(n > 0)) throw new Error(`${name} must be a positive integer`);
  return n;
};

const dsn = env("AGENT_MV_RUNTIME_URL");
const cases = JSON.parse(env("PEER_CASES"));
const rounds = int("PEER_ROUNDS", 200);
const calls = int("PEER_CALLS", 1);
const warmup = int("PEER_WARMUP", 20);

// The reference server's entry point, as installed by npm next to this file.
const require = createRequire(import.meta.url);
const refPkg = require.resolve("@modelcontextprotocol/server-postgres/package.json");
const refVersion = require(refPkg).version;
const refMain = refPkg.replace(/package\.json$/, "dist/index.js");

async function connect(name, command, args, extraEnv) {
  const transport = new StdioClientTransport({
    command,
    args,
    env: { PATH: process.env.PATH ?? "", ...extraEnv },
    stderr: "inherit",
  });
  const client = new Client({ name: `peer-bench-${name}`, version: "1.0.0" });
  await client.connect(transport);
  return client;
}

const oursEnv = {
  AGENT_MV_RUNTIME_URL: dsn,
  AGENT_MV_TARGET_SCHEMA: env("AGENT_MV_TARGET_SCHEMA", "agent_mv"),
};
const ours = await connect("agentmv", env("AGENTMV_RUNTIME_BIN"), [], {
  ...oursEnv,
  // Experiments only (e.g. {"GOMAXPROCS": "1"}): more environment for agentmv's server.
  ...JSON.parse(process.env.PEER_OURS_ENV || "{}"),
});
// Experiments only: another agentmv build on the reference side.
const refBin = process.env.PEER_REF_BIN || "";
const ref = refBin
  ? await connect("reference", refBin, [], oursEnv)
  : await connect("reference", process.execPath, [refMain, dsn], {});
const refName = refBin ? `agentmv build ${refBin}` : `@modelcontextprotocol/server-postgres@${refVersion}`;

function text(result, label) {
  assert.ok(!result.isError, `${label}: ${result.content?.[0]?.text}`);
  assert.equal(result.content[0].type, "text");
  return result.content[0].text;
}

// One call each, result checked the way a client reads it (the text block parsed as JSON).
const queryView = async (client, c) => {
  const r = await client.callTool({ name: "query_view", arguments: { sql: c.sql } });
  const body = JSON.parse(text(r, `query_view ${c.name}`));
  assert.equal(body.row_count, c.rows, `query_view ${c.name}: row_count`);
  assert.equal(body.truncated, false, `query_view ${c.name}: truncated`);
};
const sides = {
  ours: (c) => queryView(ours, c),
  ref: refBin ? (c) => queryView(ref, c) : async (c) => {
    const r = await ref.callTool({ name: "query", arguments: { sql: c.sql } });
    const rows = JSON.parse(text(r, `query ${c.name}`));
    assert.equal(rows.length, c.rows, `reference query ${c.name}: rows`);
  },
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function block(side, c, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await sides[side](c);
    times.push(performance.now() - t0);
  }
  return times;
}

try {
  for (const c of cases) {
    // Warm both servers: connections, statement caches, plans, JIT of the client.
    for (let i = 0; i < warmup; i++) {
      await sides.ours(c);
      await sides.ref(c);
    }
    const ratios = [];
    const all = { ours: [], ref: [] };
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? ["ours", "ref"] : ["ref", "ours"];
      const med = {};
      for (const side of order) {
        const t = await block(side, c, calls);
        all[side].push(...t);
        med[side] = median(t);
      }
      ratios.push(med.ours / med.ref);
    }
    console.log(JSON.stringify({
      case: c.name,
      rows: c.rows,
      rounds,
      calls: rounds * calls,
      ratio: median(ratios),
      ratio_min: Math.min(...ratios),
      ratio_max: Math.max(...ratios),
      ours_us: median(all.ours) * 1000,
      ref_us: median(all.ref) * 1000,
      reference: refName,
      node: process.version,
    }));
  }
} finally {
  await ours.close();
  await ref.close();
}
