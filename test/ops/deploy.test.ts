import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "smol-toml";
import { repoRoot } from "../helpers/paths.js";
import { cliPath } from "../helpers/run-cli.js";
import { loadConfig, DEFAULT_CONFIG_PATH, DEFAULT_ROOT, UNIMPLEMENTED_KEYS } from "../../src/store/config.js";
import { StoreMetrics } from "../../src/store/metrics.js";

const deploy = join(repoRoot, "deploy");
let dir = "";
test.before(async () => { dir = await mkdtemp(join(tmpdir(), "esgz-deploy-")); });
test.after(async () => { await rm(dir, { recursive: true, force: true }); });

function directives(unit: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of unit.split("\n")) {
    const d = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (d) m.set(d[1], [...(m.get(d[1]) ?? []), d[2]]);
  }
  return m;
}

test("the systemd unit passes systemd-analyze verify and serves stargz-store's paths", async () => {
  const unit = await readFile(join(deploy, "esgz-fast.service"), "utf8");
  const d = directives(unit);
  assert.equal(d.get("Type"), ["notify"]);
  assert.equal(d.get("Restart"), ["always"]);
  assert.equal(d.get("NotifyAccess"), ["all"]);
  assert.ok(d.get("Before")![0].split(/\s+/).includes("crio.service") && d.get("Before")![0].includes("podman.service"));
  const exec = d.get("ExecStart")![0].split(/\s+/);
  assert.equal(exec.slice(0, 2), ["/usr/local/bin/esgz-fast", "mount"]);
  assert.ok(exec.includes(`--config=${DEFAULT_CONFIG_PATH}`));
  const mountpoint = exec[exec.length - 1];
  assert.is(mountpoint, `${DEFAULT_ROOT}/store`);
  const stop = d.get("ExecStopPost")![0];
  assert.ok(stop.includes(`fusermount3 -u ${mountpoint}`) && stop.includes(`umount -l ${mountpoint}`));
  // The flags in ExecStart are ones the store accepts.
  const cfg = await loadConfig([...exec.slice(2, -1).filter((a) => !a.startsWith("--config")), "--config=", mountpoint]);
  assert.is(cfg.mountpoint, mountpoint);

  // systemd's own checker, on a copy whose ExecStart binary exists on this machine.
  const copy = join(dir, "esgz-fast.service");
  await writeFile(copy, unit.replace("/usr/local/bin/esgz-fast", process.execPath));
  const r = spawnSync("systemd-analyze", ["verify", copy], { encoding: "utf8" });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr.trim(), "", r.stderr);
});

test("the storage.conf snippet points containers/storage at the mount with :ref", async () => {
  const conf = parse(await readFile(join(deploy, "storage.conf"), "utf8")) as { storage: { driver: string; options: { additionallayerstores: string[] } } };
  assert.is(conf.storage.driver, "overlay");
  assert.equal(conf.storage.options.additionallayerstores, [`${DEFAULT_ROOT}/store:ref`]);
});

test("the example config.toml is read without warnings and states exactly the defaults", async () => {
  const example = await loadConfig(["--config", join(deploy, "config.toml"), "/m"]);
  const defaults = await loadConfig(["--config=", "/m"]);
  assert.equal(example.warnings, []);
  assert.equal(example.unimplemented, []);
  const { configPath: _a, resolver, ...e } = example;
  const { configPath: _b, resolver: noResolver, ...dflt } = defaults;
  assert.equal(e, dflt);
  // The resolver's default timeout is the registry client's; the example spells it out.
  assert.equal([resolver, noResolver], [{ request_timeout_sec: 30 }, {}]);
});

test("docs/operators.md lists exactly the metrics the store exports and every key it does not implement", async () => {
  const doc = await readFile(join(repoRoot, "docs", "operators.md"), "utf8");
  const exported = [...new StoreMetrics({ cacheBytes: () => 0 }).registry.render().matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
  const documented = [...doc.matchAll(/^\| `([a-z_]+)` \| (counter|gauge|histogram) \|/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
  assert.equal(documented, exported);
  const table = doc.slice(doc.indexOf("Accepted but without effect"), doc.indexOf("Beyond stargz-store"));
  for (const key of Object.keys(UNIMPLEMENTED_KEYS)) {
    const [section, name] = key.includes(".") ? key.split(".") : ["", key];
    const row = table.split("\n").find((l) => new RegExp(`[\`\\s]${name}\``).test(l) && (section === "" || l.includes(`[${section}]`)));
    assert.ok(row, `operators.md lists ${key} as not implemented`);
  }
});

test("the registries.conf drop-in names the helper wrapper, which runs `esgz-fast store-helper`", async () => {
  const conf = parse(await readFile(join(deploy, "registries.conf"), "utf8")) as Record<string, unknown>;
  assert.equal(Object.entries(conf), [["additional-layer-store-auth-helper", "/usr/local/bin/esgz-fast-store-helper"]]);
  // The wrapper as containers/image runs it, with `esgz-fast` on PATH being the built CLI.
  const bin = join(dir, "bin");
  await mkdir(bin);
  await symlink(cliPath, join(bin, "esgz-fast"));
  const wrapper = join(deploy, "esgz-fast-store-helper");
  assert.is((await stat(wrapper)).mode & 0o111, 0o111, "executable");
  const addr = join(dir, "no-store.sock");
  const r = spawnSync(wrapper, [addr], { input: "{}", encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  assert.equal([r.status, r.stdout, r.stderr], [1, "", `esgz-fast store-helper: no credential socket at ${addr} (is \`esgz-fast mount\` running with --addr ${addr}?)\n`]);
});

test.run();
