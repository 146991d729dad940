// The real `esgz-fast mount` process as systemd runs it: JSON logs on stderr, READY=1 on a real
// NOTIFY_SOCKET only once the FUSE mount (and the credential socket, mode 0600) is in place, metrics
// served, STOPPING=1, a clean unmount and the socket removed on SIGTERM; start-up refusals as fatal
// JSON lines with stargz-store's exit codes.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile, mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { cliPath, runCli } from "../helpers/run-cli.js";
import { cleanupMount, tempDir } from "../helpers/fuse.js";
import { startNotifyReceiver, type NotifyReceiver } from "../helpers/notify-socket.js";

let dir = "";
let child: ChildProcess | undefined;
let receiver: NotifyReceiver | undefined;
test.before(async () => { dir = await tempDir("esgz-mountcli-"); });
test.after(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  receiver?.close();
  await cleanupMount(dir, join(dir, "mnt"));
});

async function mounted(path: string): Promise<boolean> {
  const info = await readFile("/proc/self/mountinfo", "utf8");
  return info.split("\n").some((l) => l.split(" ")[4] === path);
}

test("systemd's view: READY=1 after the mount is up, metrics served, STOPPING=1 and unmount on SIGTERM", async () => {
  const root = join(dir, "root"), mnt = join(dir, "mnt");
  await mkdir(root, { recursive: true });
  // A service manager slow to acknowledge READY=1: the stop below arrives while the store still waits.
  receiver = await startNotifyReceiver(join(dir, "notify.sock"), { barrierDelayMs: 1500 });
  const env = { ...process.env, NOTIFY_SOCKET: receiver.address };
  const c = spawn(process.execPath, [cliPath, "mount", "-config=", "-root", root, "-addr", join(root, "store.sock"), "--log-level=debug", "--metrics-address=127.0.0.1:0", mnt], { env, stdio: ["ignore", "pipe", "pipe"] });
  child = c;
  let stderr = "";
  // Scrape the endpoint as soon as its log line appears, while the store runs.
  let metricsDone: Promise<{ url: unknown; ok: boolean }> | undefined;
  c.stderr!.on("data", (d) => {
    stderr += d;
    const m = /"msg":"serving Prometheus metrics"[^\n]*"url":"([^"]+)"/.exec(stderr);
    if (m && !metricsDone) {
      metricsDone = fetch(m[1]).then(async (r) => {
        const text = await r.text();
        return { url: m[1], ok: r.status === 200 && /^process_resident_memory_bytes \d+$/m.test(text) && /^# TYPE esgz_fuse_operations_total counter$/m.test(text) };
      }, () => ({ url: m[1], ok: false }));
    }
  });
  const exited = new Promise<number | null>((r) => c.on("exit", (code) => r(code)));

  const ready = await Promise.race([
    receiver.next(60_000),
    exited.then((code) => { throw new Error(`esgz-fast mount exited (${code}) before READY=1:\n${stderr}`); }),
  ]);
  const vars = ready.payload.split("\n");
  assert.ok(vars.includes("READY=1"), ready.payload);
  assert.ok(vars.includes(`MAINPID=${c.pid}`), ready.payload);
  assert.ok(await mounted(mnt), "the mount is in place when READY=1 arrives");
  const sock = await stat(join(root, "store.sock"));
  assert.ok(sock.isSocket(), "the credential socket is there when READY=1 arrives");
  assert.is(sock.mode & 0o777, 0o600, "credential socket mode");
  // A stop right after readiness (systemctl restart) must still unmount cleanly.
  c.kill("SIGTERM");
  const stopping = await receiver.next(30_000);
  assert.ok(stopping.payload.split("\n").includes("STOPPING=1"), stopping.payload);
  assert.is(await exited, 0, stderr);
  assert.not.ok(await mounted(mnt), "unmounted on SIGTERM");
  assert.not.ok(existsSync(join(root, "store.sock")), "credential socket removed on exit");

  const lines = stderr.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const l of lines) assert.ok(typeof l.level === "string" && typeof l.msg === "string" && typeof l.time === "string", JSON.stringify(l));
  assert.ok(lines.some((l) => l.msg === "store ready" && l.mountpoint === mnt));
  assert.ok(lines.some((l) => l.msg === "unmounted"));
  const served = lines.find((l) => l.msg === "serving Prometheus metrics");
  assert.ok(served, stderr);
  assert.ok(metricsDone, "metrics scraped while running");
  assert.equal(await metricsDone, { url: served!.url, ok: true });
});
test("start-up refusals: fatal JSON line, exit 1 for the config, exit 2 and usage for flags", async () => {
  const conf = join(dir, "dv.toml");
  await writeFile(conf, "disable_verification = true\n");
  const a = await runCli(["mount", "--config", conf, join(dir, "nomnt")]);
  assert.is(a.code, 1);
  const fatal = JSON.parse(a.stderr.trim().split("\n")[0]);
  assert.equal([fatal.level, fatal.msg], ["fatal", "content verification can't be disabled"]);

  const b = await runCli(["mount", "-bogus", "/x"]);
  assert.is(b.code, 2);
  assert.is(JSON.parse(b.stderr.split("\n")[0]).msg, "flag provided but not defined: -bogus");
  assert.match(b.stderr, /Usage: esgz-fast mount/);

  const h = await runCli(["mount", "--help"]);
  assert.is(h.code, 0);
  assert.match(h.stdout, /mount .*MOUNTPOINT/);
});

test.run();
