import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile, readdir } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/store/config.js";
import { startOps, reportStartupError } from "../../src/store/ops.js";
import { startNotifyReceiver } from "../helpers/notify-socket.js";

let dir = "";
test.before(async () => { dir = await mkdtemp(join(tmpdir(), "esgz-ops-")); });
test.after(async () => { await rm(dir, { recursive: true, force: true }); });

test("startOps: notices logged once, cache under <root>/cache feeding the metrics, endpoint up, ready, clean close", async () => {
  const root = join(dir, "root");
  const conf = join(dir, "config.toml");
  await writeFile(conf, "metadata_store = \"db\"\nfoo = 1\n[blob]\nchunk_size = 1000\n");
  const cfg = await loadConfig(["-root", root, "-log-level", "debug", "-config", conf, "-metrics-address", "127.0.0.1:0", join(dir, "mnt")]);
  const lines: string[] = [];
  const receiver = await startNotifyReceiver(join(dir, "notify.sock"));
  const ops = await startOps(cfg, { sink: { write: (l: string) => lines.push(l) }, notify: { env: { ...process.env, NOTIFY_SOCKET: receiver.address } } });
  try {
    const logged = lines.map((l) => JSON.parse(l) as { level: string; msg: string; [k: string]: unknown });
    assert.ok(logged.some((o) => o.level === "warning" && /unknown key foo/.test(o.msg)));
    assert.is(logged.filter((o) => /not implemented: metadata_store/.test(o.msg)).length, 1);
    assert.ok(existsSync(join(root, "cache", "sha256")));

    const data = new TextEncoder().encode("chunk bytes");
    const hex = createHash("sha256").update(data).digest("hex");
    await ops.cache.put(hex, data);
    await ops.cache.get(hex, data.length);
    assert.equal(await readdir(join(root, "cache", "sha256", hex.slice(0, 2))), [hex]);

    const text = await (await fetch(ops.metricsServer!.url)).text();
    assert.match(text, /^esgz_cache_hits_total\{cache="memory"\} 1$/m);
    assert.match(text, new RegExp(`^esgz_cache_memory_bytes ${data.byteLength}$`, "m"));

    await ops.ready();
    assert.ok((await receiver.next()).payload.includes("READY=1"));
    assert.ok(lines.some((l) => JSON.parse(l).msg === "store ready"));
  } finally {
    await ops.close();
    receiver.close();
  }
  await ops.close();
  await fetch(ops.metricsServer!.url).then(() => assert.unreachable("endpoint closed"), () => {});
});

test("memory-only config: no cache directory", async () => {
  const root = join(dir, "root2");
  const conf = join(dir, "mem.toml");
  await writeFile(conf, 'filesystem_cache_type = "memory"\n');
  const ops = await startOps(await loadConfig(["--root", root, "--config", conf, "/m"]), { sink: { write() {} } });
  assert.not.ok(ops.cache.persistent);
  assert.not.ok(existsSync(join(root, "cache")));
  assert.is(ops.metricsServer, undefined);
  await ops.close();
});

test("start-up errors: a fatal JSON line, the usage text for command-line mistakes, the exit code", async () => {
  const out: string[] = [];
  const sink = { write: (s: string) => out.push(s) };
  const code = await loadConfig(["--bogus"]).then(() => 0, (e) => reportStartupError(e, sink));
  assert.is(code, 2);
  const first = JSON.parse(out[0]);
  assert.equal([first.level, first.msg], ["fatal", "flag provided but not defined: -bogus"]);
  assert.match(out[1], /^Usage: esgz-fast mount/);
  out.length = 0;
  const conf = join(dir, "dv.toml");
  await writeFile(conf, "disable_verification = true\n");
  assert.is(await loadConfig(["--config", conf, "/m"]).then(() => 0, (e) => reportStartupError(e, sink)), 1);
  assert.is(out.length, 1);
  assert.is(JSON.parse(out[0]).msg, "content verification can't be disabled");
});

test.run();
