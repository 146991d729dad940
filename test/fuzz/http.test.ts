// Fuzzing the registry client's own HTTP/1.1 response parser (RangeSockets in src/registry/transport.ts, the path
// every GET to a registry takes), differential against undici (llhttp) on the same bytes: a raw TCP
// server answers each request with a generated response — status line, random and duplicated headers,
// Content-Length or chunked framing (random chunk sizes, extensions, trailers, hex case), random body —
// as it is or mutated. What our parser accepts, undici must read with the same status and the same
// body; whatever it refuses or hands back (FALLBACK) ends without a hang or a stray exception; and the
// same client then reads a good answer correctly.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer, type Server, type Socket } from "node:net";
import { createRequire } from "node:module";
import { deadlineIn } from "../../src/registry/deadline.js";
import { RangeSockets } from "../../src/registry/transport.js";
import { fc, fuzz, mutate, mutationArb } from "../helpers/fuzz.js";

const undici = createRequire(import.meta.url)("undici") as typeof import("undici");

const GOOD_BODY = Buffer.from("a good answer after the case\n".repeat(20));
const GOOD = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${GOOD_BODY.length}\r\n\r\n`), GOOD_BODY]);

let server: Server;
let origin: string;
/** What the server answers to the next request for /case (the raw bytes), and to /good. */
let answer: Buffer = Buffer.alloc(0);
const sockets = new Set<Socket>();

test.before(async () => {
  server = createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.on("error", () => {});
    let head = "";
    sock.on("data", (d) => {
      head += d.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      const path = head.split(" ")[1];
      head = head.slice(end + 4);
      // one answer per connection, then the close: a body framed wrongly cannot leave a request waiting
      sock.end(path === "/good" ? GOOD : answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
test.after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

type Got = { kind: "ok"; status: number; body: Buffer } | { kind: "error"; why: string } | { kind: "fallback" };

/** A GET through our parser, the body collected by a sink like the client's. */
async function ours(rs: RangeSockets, path: string): Promise<Got> {
  const parts: Buffer[] = [];
  try {
    const r = await rs.send(new URL(origin + path), { "user-agent": "fuzz" }, deadlineIn(2000, "request"), () => ({
      data: (c) => { parts.push(Buffer.from(c)); },
      end: () => {},
    }));
    if (typeof r === "symbol") return { kind: "fallback" }; // the path's "not mine": the transport asks undici
    return { kind: "ok", status: r.status, body: Buffer.concat(parts) };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    assert.ok(typeof code === "string", `a refusal carries an error code (${(err as Error).message})`);
    return { kind: "error", why: `${code}: ${(err as Error).message}` };
  }
}

/** The same GET through undici. */
async function theirs(path: string): Promise<Got> {
  const agent = new undici.Agent({ pipelining: 0, headersTimeout: 2000, bodyTimeout: 2000 });
  try {
    const r = await undici.request(origin + path, { dispatcher: agent, headers: { "user-agent": "fuzz" } });
    const body = Buffer.from(await r.body.arrayBuffer());
    return { kind: "ok", status: r.statusCode, body };
  } catch (err) {
    return { kind: "error", why: (err as Error).message };
  } finally {
    await agent.close().catch(() => {});
  }
}

const headerNameArb = fc.constantFrom("content-type", "Content-Type", "x-extra", "docker-content-digest", "content-range", "Connection", "keep-alive", "etag");
const headerValueArb = fc.constantFrom("application/octet-stream", "close", "keep-alive", "timeout=5", "bytes 0-9/100", "\"etag\"", "", " padded ");
const responseArb = fc.record({
  version: fc.constantFrom("1.1", "1.1", "1.0"),
  status: fc.constantFrom(200, 206, 206, 404, 500, 301, 204, 100),
  reason: fc.constantFrom("OK", "Partial Content", "", "Whatever Reason"),
  headers: fc.array(fc.tuple(headerNameArb, headerValueArb), { maxLength: 4 }),
  body: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 200_000 }).map((n) => new Uint8Array(n).map((_, i) => i & 255))),
  framing: fc.constantFrom("length", "length", "chunked", "chunked", "none", "both"),
  lengthCase: fc.constantFrom("content-length", "Content-Length", "CONTENT-LENGTH"),
  chunks: fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 6 }),
  ext: fc.constantFrom("", "", ";name=value", "  "),
  upper: fc.boolean(),
  zeros: fc.constantFrom("", "", "000"),
  trailer: fc.constantFrom("", "", "x-trailer: yes\r\n"),
});
type Response = typeof responseArb extends fc.Arbitrary<infer T> ? T : never;

function build(r: Response): Buffer {
  const lines = [`HTTP/${r.version} ${r.status}${r.reason ? " " + r.reason : ""}`, ...r.headers.map(([k, v]) => `${k}: ${v}`)];
  const body = Buffer.from(r.body);
  if (r.framing === "length" || r.framing === "both") lines.push(`${r.lengthCase}: ${body.length}`);
  if (r.framing === "chunked" || r.framing === "both") lines.push("Transfer-Encoding: chunked");
  const head = Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1");
  if (r.framing !== "chunked" && r.framing !== "both") return Buffer.concat([head, body]);
  const parts: Buffer[] = [head];
  for (let at = 0, i = 0; at < body.length; i++) {
    const n = Math.min(r.chunks[i % r.chunks.length], body.length - at);
    const size = r.zeros + (r.upper ? n.toString(16).toUpperCase() : n.toString(16));
    parts.push(Buffer.from(`${size}${r.ext}\r\n`, "latin1"), body.subarray(at, at + n), Buffer.from("\r\n"));
    at += n;
  }
  parts.push(Buffer.from(`0${r.ext}\r\n${r.trailer}\r\n`, "latin1"));
  return Buffer.concat(parts);
}

test("HTTP responses, framed every way and mutated: what our parser accepts, undici reads the same; the client then reads a good answer", async () => {
  const rs = new RangeSockets({ connections: 2, keepAliveTimeoutMs: 4000 });
  try {
    await fuzz("http/responses", [responseArb, fc.option(mutationArb(), { freq: 2 })], async (r, muts) => {
      const bytes = build(r);
      answer = muts ? Buffer.from(mutate(bytes, muts)) : bytes;
      const a = await ours(rs, "/case");
      if (a.kind === "ok") {
        const b = await theirs("/case");
        assert.ok(b.kind === "ok", `ours read status ${a.status} and ${a.body.length} bytes, undici refused: ${b.kind === "error" ? b.why : b.kind}`);
        assert.is(a.status, b.kind === "ok" ? b.status : -1, "same status as undici");
        assert.ok(b.kind === "ok" && a.body.equals(b.body), `same body as undici (ours ${a.body.length} bytes, undici ${b.kind === "ok" ? b.body.length : "-"})`);
        if (!muts && r.framing !== "none" && r.status >= 200 && r.status !== 204) assert.ok(a.body.equals(Buffer.from(r.body)), "an intact answer's body exactly");
      }
      const good = await ours(rs, "/good");
      assert.ok(good.kind === "ok" && good.status === 200 && good.body.equals(GOOD_BODY), "the same client reads a good answer after the case");
    }, { runs: 300, deadlineMs: 10_000 });
  } finally {
    rs.close();
  }
});

test.run();
