// The README's main command: `esgz-fast demo` end to end (real docker-registry, real FUSE mount in its
// own process, real podman). What a user checks: it ends well, the container saw the sample's bytes,
// the store fetched a small part of the app layer for them, and nothing is left behind.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFile } from "node:fs/promises";
import { runCli } from "../helpers/run-cli.js";
import { GREETING } from "../../src/demo/sample.js";

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test("esgz-fast demo converts, serves, mounts, runs and reads lazily, then cleans up", async () => {
  const r = await runCli(["demo"]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.ok(r.stdout.includes(`| ${GREETING.trimEnd()}`), "podman printed the sample's greeting");
  assert.not.match(r.stdout, /FAIL/);
  assert.match(r.stdout, /every check passed/);
  // Lazy: for `cat hello.txt; sha256sum part-07.bin` (1 MiB) the store fetched a few MiB of the 32 MiB layer.
  const m = /app layer: podman downloaded ([\d.]+) MiB, the store fetched ([\d.]+) MiB of ([\d.]+) MiB/.exec(r.stdout);
  assert.ok(m, r.stdout);
  assert.is(Number(m![1]), 0, "podman downloaded nothing of the app layer itself");
  assert.ok(Number(m![2]) >= 1 && Number(m![2]) < Number(m![3]) / 4, `fetched ${m![2]} of ${m![3]} MiB`);
  // Nothing left: the registry and the store are gone, nothing of the demo is mounted.
  const pids = [...r.stdout.matchAll(/\(pid (\d+)/g)].map((x) => Number(x[1]));
  assert.is(pids.length, 2, "registry and store pids reported");
  for (const pid of pids) assert.not.ok(alive(pid), `process ${pid} still runs`);
  const mounts = await readFile("/proc/mounts", "utf8");
  assert.not.ok(mounts.includes("esgz-demo-"), "a demo mount is left");
});

test("esgz-fast demo --help describes the embedded default", async () => {
  const r = await runCli(["demo", "--help"]);
  assert.is(r.code, 0);
  assert.match(r.stdout, /--no-podman/);
});

test.run();
