import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signalReady, signalStopping, sdNotify } from "../../src/store/ready.js";
import { startNotifyReceiver, type NotifyReceiver } from "../helpers/notify-socket.js";

let dir = "";
const receivers: NotifyReceiver[] = [];
test.before(async () => { dir = await mkdtemp(join(tmpdir(), "esgz-notify-")); });
test.after(async () => {
  for (const r of receivers) r.close();
  await rm(dir, { recursive: true, force: true });
});

function recorder() {
  const lines: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => lines.push({ level, msg, fields });
  return { lines, log: { info: at("info"), warn: at("warn"), debug: at("debug") } };
}

const isRoot = process.getuid?.() === 0;

test("READY=1 arrives on a real datagram socket, sent on behalf of the store's pid; a log line says so", async () => {
  const r = await startNotifyReceiver(join(dir, "notify.sock"));
  receivers.push(r);
  const { lines, log } = recorder();
  const env = { ...process.env, NOTIFY_SOCKET: r.address };
  assert.ok(await signalReady("/var/lib/stargz-store/store", log, { env }));
  const msg = await r.next();
  const vars = msg.payload.split("\n").filter(Boolean);
  assert.ok(vars.includes("READY=1"), msg.payload);
  assert.ok(vars.includes(`MAINPID=${process.pid}`), msg.payload);
  assert.ok(vars.includes("STATUS=serving /var/lib/stargz-store/store"), msg.payload);
  // As root the kernel accepts the store's pid in the credentials: systemd attributes the message to
  // the main process, whatever becomes of systemd-notify.
  if (isRoot) assert.is(msg.pid, process.pid);
  assert.equal(lines[0], { level: "info", msg: "store ready", fields: { mountpoint: "/var/lib/stargz-store/store" } });

  // systemd-notify waited (BARRIER=1) until the receiver had processed READY=1 before exiting.
  await r.next(200).catch(() => undefined);
  assert.is(r.barriers, 1);

  assert.ok(await signalStopping(log, { env }));
  assert.ok((await r.next()).payload.split("\n").includes("STOPPING=1"));
});

test("an abstract socket (@name) works too", async () => {
  const name = `@esgz-notify-${process.pid}-${Date.now()}`;
  const r = await startNotifyReceiver(name);
  receivers.push(r);
  const { log } = recorder();
  assert.ok(await sdNotify(["READY=1"], log, { env: { ...process.env, NOTIFY_SOCKET: name } }));
  assert.ok((await r.next()).payload.split("\n").includes("READY=1"));
});

test("no NOTIFY_SOCKET: only the log line; failures are logged, never thrown", async () => {
  const { lines, log } = recorder();
  const env = { ...process.env };
  delete env.NOTIFY_SOCKET;
  assert.is(await signalReady("/m", log, { env }), false);
  assert.is(lines.length, 1);

  const nobody = { ...process.env, NOTIFY_SOCKET: join(dir, "nobody.sock") };
  assert.is(await sdNotify(["READY=1"], log, { env: nobody }), false);
  assert.is(lines[1].level, "warn");
  assert.match(lines[1].msg, /systemd-notify failed/);
  assert.match(String(lines[1].fields?.error), /\S/);

  assert.is(await sdNotify(["READY=1"], log, { env: nobody, command: join(dir, "no-such-systemd-notify") }), false);
  assert.match(lines[2].msg, /systemd-notify not found/);
});

test.run();
