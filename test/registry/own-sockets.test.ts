// The fast path for blob range GETs (src/registry/transport.ts) against a real docker-registry:
// bytes of single ranges, multipart and whole-blob windows; one kept-alive connection reused, counted
// by a TCP relay; a server closing kept-alive connections between requests; answers it does not
// frame itself handed to undici; chunked bodies; and TLS (in a child process trusting a test CA).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { randomBytes, createHash } from "node:crypto";
import { createServer as createNetServer, connect as netConnect, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pushImage, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { RegistryClient } from "../../src/registry/index.js";
import { RangeSockets } from "../../src/registry/transport.js";
import { deadlineIn } from "../../src/registry/deadline.js";

const run = promisify(execFile);
const hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const MiB = 1024 * 1024;
const blob = randomBytes(5 * MiB + 123);
const digest = "sha256:" + hex(blob);
let reg: TestRegistry;
let relay: TcpProxy;
let ref: string;

test.before(async () => {
  reg = await startRegistry();
  await pushImage(reg, "fast/app", "v1", { layers: [{ data: blob }] });
  const [h, p] = reg.host.split(":");
  relay = await startTcpProxy(h, Number(p));
  ref = `${relay.host}/fast/app`;
});
test.after(async () => {
  await relay?.stop();
  await reg?.stop();
});

const slice = (offset: number, length: number) => blob.subarray(offset, offset + length);

test("single ranges, several in one multipart request, the whole blob in windows: right bytes, all on the fast path", async () => {
  const client = new RegistryClient();
  try {
    const reader = await client.openBlob(ref, digest, blob.length);
    for (const [offset, length] of [[0, 1], [blob.length - 10, 10], [1_234_567, MiB], [4 * MiB, MiB + 123]]) {
      assert.is(hex(await reader.read(offset, length)), hex(slice(offset, length)), `bytes ${offset}+${length}`);
    }
    const ranges = [{ offset: 10, length: 100 }, { offset: 2 * MiB, length: 70_000 }, { offset: 5 * MiB, length: 50 }];
    const got = await reader.readRanges(ranges);
    ranges.forEach((r, i) => assert.is(hex(got[i]), hex(slice(r.offset, r.length)), `range ${i}`));
    const whole = createHash("sha256");
    let n = 0;
    for await (const piece of reader.stream({ windowBytes: MiB })) { whole.update(piece); n++; }
    assert.is("sha256:" + whole.digest("hex"), digest);
    assert.is(n, 6);
    const stats = client.rangeSocketStats!;
    assert.is(stats.requests, 4 + 1 + 6, "every blob GET went on the fast path");
    assert.is(stats.fallbacks, 0);
    const log = (await reg.accessLog()).filter((e) => e.method === "GET" && e.path.endsWith(digest));
    assert.is(log.length, 11);
    assert.ok(log.every((e) => e.status === 206));
  } finally {
    await client.close();
  }
});

test("sequential reads share one kept-alive connection; parallel ones stay within `connections`", async () => {
  const client = new RegistryClient({ connections: 2 });
  try {
    const reader = await client.openBlob(ref, digest, blob.length);
    const before = relay.connections;
    for (let i = 0; i < 10; i++) {
      const offset = i * 400_000;
      assert.is(hex(await reader.read(offset, 65_536)), hex(slice(offset, 65_536)));
    }
    assert.is(relay.connections - before, 1, "one connection for ten reads");
    const parallel = await Promise.all(Array.from({ length: 6 }, (_, i) => reader.read(i * 700_000, 300_000)));
    parallel.forEach((b, i) => assert.is(hex(b), hex(slice(i * 700_000, 300_000))));
    assert.ok(relay.connections - before <= 2, `${relay.connections - before} connections, at most 2`);
    assert.is(client.rangeSocketStats!.connections, relay.connections - before);
  } finally {
    await client.close();
  }
});

test("the server closes kept-alive connections between requests: the client reconnects, no error", async () => {
  const client = new RegistryClient({ blob: { max_retries: 0 } }); // a surfaced error would not be retried away
  try {
    const reader = await client.openBlob(ref, digest, blob.length);
    assert.is(hex(await reader.read(0, 1000)), hex(slice(0, 1000)));
    const before = relay.connections;
    // Closed while the client may not have seen the FIN yet (the request goes out on the dead one) …
    relay.closeAll();
    assert.is(hex(await reader.read(5000, 100_000)), hex(slice(5000, 100_000)));
    // … and closed long before the next request.
    relay.closeAll();
    await new Promise((r) => setTimeout(r, 200));
    assert.is(hex(await reader.read(3 * MiB, 100_000)), hex(slice(3 * MiB, 100_000)));
    assert.is(relay.connections - before, 2, "one new connection after each close");
    assert.is(client.rangeSocketStats!.fallbacks, 0);
  } finally {
    await client.close();
  }
});

/**
 * A raw HTTP/1.1 server answering ranged GETs of `blob`, keep-alive, framed as `mode` says:
 * "close" (no length, ended by closing) or "chunked" (odd chunk sizes, an extension, a trailer).
 */
async function rawServer(mode: "close" | "chunked"): Promise<{ host: string; requests: number; connections: number; server: Server }> {
  const state = { host: "", requests: 0, connections: 0, server: undefined as unknown as Server };
  state.server = createNetServer((s: Socket) => {
    state.connections++;
    let pending = Buffer.alloc(0);
    s.on("error", () => undefined);
    s.on("data", (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      for (let end; (end = pending.indexOf("\r\n\r\n")) >= 0; ) {
        const head = pending.subarray(0, end).toString("latin1");
        pending = pending.subarray(end + 4);
        state.requests++;
        const m = /\r\nrange: bytes=(\d+)-(\d+)/i.exec(head)!;
        const a = Number(m[1]), b = Number(m[2]);
        const body = blob.subarray(a, b + 1);
        const top = `HTTP/1.1 206 Partial Content\r\ncontent-range: bytes ${a}-${b}/${blob.length}\r\n`;
        if (mode === "close") {
          s.end(Buffer.concat([Buffer.from(top + "connection: close\r\n\r\n"), body]));
          return;
        }
        const parts: Buffer[] = [Buffer.from(top + "transfer-encoding: chunked\r\n\r\n")];
        for (let at = 0; at < body.length; at += 7777) {
          const piece = body.subarray(at, at + 7777);
          parts.push(Buffer.from(`${piece.length.toString(16)};ext=1\r\n`), piece, Buffer.from("\r\n"));
        }
        parts.push(Buffer.from("0\r\nx-trailer: yes\r\n\r\n"));
        s.write(Buffer.concat(parts));
      }
    });
  });
  await new Promise<void>((r) => state.server.listen(0, "127.0.0.1", r));
  state.host = `127.0.0.1:${(state.server.address() as { port: number }).port}`;
  return state;
}

test("a body ended by the close goes to undici (asked again there); a chunked one stays on the fast path", async () => {
  const closing = await rawServer("close");
  const chunked = await rawServer("chunked");
  const client = new RegistryClient({ blob: { max_retries: 0 } });
  try {
    const [a] = await client.readBlob(`${closing.host}/raw/blob`, digest, [{ offset: 1000, length: 300_000 }], { size: blob.length });
    assert.is(hex(a), hex(slice(1000, 300_000)));
    assert.is(client.rangeSocketStats!.fallbacks, 1);
    assert.is(closing.requests, 2, "once on the fast path, once on undici");

    for (const [offset, length] of [[0, 1], [777, 123_456], [2 * MiB, MiB]]) {
      const [b] = await client.readBlob(`${chunked.host}/raw/blob`, digest, [{ offset, length }], { size: blob.length });
      assert.is(hex(b), hex(slice(offset, length)));
    }
    assert.is(chunked.requests, 3);
    assert.is(chunked.connections, 1, "the connection is reused after a chunked body");
    assert.is(client.rangeSocketStats!.fallbacks, 1);
  } finally {
    await client.close();
    closing.server.close();
    chunked.server.close();
  }
});

test("TLS: a mirror on https is read on the fast path with the default CAs (here a test CA via NODE_EXTRA_CA_CERTS)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "esgz-tls-"));
  const [h, p] = reg.host.split(":");
  let server: Server | undefined;
  try {
    await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
      "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]);
    const tlsServer = createTlsServer({ key: await readFile(join(dir, "key.pem")), cert: await readFile(join(dir, "cert.pem")) }, (s) => {
      const up = netConnect({ host: h, port: Number(p) });
      s.pipe(up).pipe(s);
      s.on("error", () => up.destroy());
      up.on("error", () => s.destroy());
    });
    server = tlsServer;
    await new Promise<void>((r) => tlsServer.listen(0, "127.0.0.1", r));
    const port = (tlsServer.address() as { port: number }).port;
    const clientModule = fileURLToPath(new URL("../../src/registry/index.js", import.meta.url));
    const script = `
      import { RegistryClient } from ${JSON.stringify(clientModule)};
      import { createHash } from "node:crypto";
      const c = new RegistryClient({ resolver: { host: { "mirrored.invalid": { mirrors: [{ host: "https://127.0.0.1:${port}" }] } } }, blob: { max_retries: 0 } });
      const r = await c.openBlob("mirrored.invalid/fast/app", ${JSON.stringify(digest)}, ${blob.length});
      const out = [];
      for (const [o, l] of [[0, 100], [1000000, 3000000], [${blob.length - 5}, 5]]) out.push(createHash("sha256").update(await r.read(o, l)).digest("hex"));
      const multi = await r.readRanges([{ offset: 5, length: 10 }, { offset: 4000000, length: 20000 }]);
      out.push(...multi.map((b) => createHash("sha256").update(b).digest("hex")));
      console.log(JSON.stringify({ out, stats: c.rangeSocketStats }));
      await c.close();`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], { env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, "cert.pem") } });
    const { out, stats } = JSON.parse(stdout) as { out: string[]; stats: { requests: number; connections: number; fallbacks: number } };
    assert.equal(out, [hex(slice(0, 100)), hex(slice(1_000_000, 3_000_000)), hex(slice(blob.length - 5, 5)), hex(slice(5, 10)), hex(slice(4_000_000, 20_000))]);
    assert.equal(stats, { requests: 4, connections: 1, fallbacks: 0, staleRetries: 0 });
  } finally {
    server?.close();
    await rm(dir, { recursive: true, force: true });
  }
});

// Found by the fuzz suite (test/fuzz/http.test.ts): answers llhttp refuses that this path read.
test("heads and chunk lines llhttp refuses are not read here: a bare CR or a non-token name goes to undici, a loose chunk line is refused", async () => {
  const answers = [
    "HTTP/1.1 200 OK\rHTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc",
    "HTTP/1.1 200 OK\r\nx-a: 1\rx-b: 2\r\ncontent-length: 3\r\n\r\nabc",
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3  \r\nabc\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;x=y;z=\"a b\"\r\nabc\r\n0\r\nx-trailer: 1\r\n\r\n",
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3 ;x=y\r\nabc\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3;ansfer-Encoding: chunked\r\nabc\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nx y: 1\r\ncontent-length: 3\r\n\r\nabc",
    "HTTP/1.1 200 OK\r\ncontent-length:\xa03\r\n\r\nabc",
  ];
  const server = createNetServer((sock: Socket) => {
    sock.on("error", () => undefined);
    sock.once("data", (d: Buffer) => sock.end(Buffer.from(answers[Number(/GET \/(\d+)/.exec(d.toString("latin1"))![1])], "latin1")));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const rs = new RangeSockets({ connections: 1, keepAliveTimeoutMs: 1000 });
  const get = async (i: number) => {
    const parts: Buffer[] = [];
    const url = new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}/${i}`);
    const r = await rs.send(url, {}, deadlineIn(2000, "request"), () => ({ data: (c) => { parts.push(Buffer.from(c)); }, end: () => {} })).catch((err) => err as Error);
    // the path's "not mine" answer (a symbol): the transport sends the request again on undici
    return typeof r === "symbol" ? "fallback" : r instanceof Error ? `error ${(r as Error & { code?: string }).code}` : Buffer.concat(parts).toString();
  };
  try {
    assert.is(await get(0), "fallback", "a bare CR in the status line");
    assert.is(await get(1), "fallback", "a bare CR between headers");
    assert.is(await get(2), "error HPE_INVALID_CHUNK_SIZE");
    assert.is(await get(3), "abc", "extensions and trailers as llhttp reads them");
    assert.is(await get(4), "error HPE_INVALID_CHUNK_SIZE", "blanks before an extension (llhttp refuses them)");
    assert.is(await get(5), "error HPE_INVALID_CHUNK_SIZE", "an extension name that is not a token");
    assert.is(await get(6), "fallback", "a header name that is not a token");
    assert.is(await get(7), "fallback", "a Content-Length after a latin1 no-break space (0xA0) is no length here");
  } finally {
    rs.close();
    server.close();
  }
});

test.run();
