// The installed command: package.json's `bin` is the bundled CLI (dist/bundle/, scripts/bundle.mjs),
// and it runs from an install that has the bundle but not the unbundled dist/src: package.json, the
// bundle and the Wasm core copied to a temp dir, node_modules beside them (fuse-native and undici stay
// outside the bundle), the command run through a symlink as npm installs it, shebang and all.
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fixtures, repoRoot } from "../helpers/paths.js";
import { factFlags, ALL_CHECKS } from "../verify/util.js";

interface Run { code: number; stdout: string; stderr: string }

let tmp: string;
let bin: string;

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { env: { ...process.env, ...env }, cwd: tmp, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number") return reject(err);
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "esgz-bin-"));
  const pkg = join(tmp, "lib", "esgz-fast");
  const manifest = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { bin: Record<string, string> };
  await mkdir(join(pkg, "build"), { recursive: true });
  await cp(join(repoRoot, "package.json"), join(pkg, "package.json"));
  await cp(join(repoRoot, "dist", "bundle"), join(pkg, "dist", "bundle"), { recursive: true });
  for (const f of ["core.wasm", "core.debug.wasm"]) await cp(join(repoRoot, "build", f), join(pkg, "build", f));
  await symlink(join(repoRoot, "node_modules"), join(pkg, "node_modules"));
  await mkdir(join(tmp, "bin"));
  bin = join(tmp, "bin", "esgz-fast");
  await symlink(join(pkg, manifest.bin["esgz-fast"]), bin);
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test("package.json's bin is the bundle", async () => {
  const manifest = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { bin: Record<string, string> };
  assert.is(manifest.bin["esgz-fast"], "dist/bundle/cli.js");
});

test("--version and --help run from the bundle alone", async () => {
  const v = await run(["--version"]);
  assert.is(v.code, 0, v.stderr);
  assert.match(v.stdout, /^esgz-fast\/0\.1\.0 /);
  const h = await run(["--help"]);
  assert.is(h.code, 0, h.stderr);
  for (const c of ["demo", "mount", "verify", "convert"]) assert.ok(h.stdout.includes(`  ${c} `), `${c} listed`);
  const m = await run(["mount", "--help"]); // the store's flags: a lazily loaded chunk
  assert.is(m.code, 0, m.stderr);
  assert.match(m.stdout, /-root/);
});

async function verifyAll(env: NodeJS.ProcessEnv): Promise<void> {
  const f = fixtures().find((x) => x.blob === "estargz-c64k.tar.gz")!;
  const r = await run(["verify", "--json", f.path, ...factFlags(f)], env);
  assert.is(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout) as { ok: boolean; layers: Array<{ checks: Record<string, { status: string }> }> };
  assert.ok(out.ok);
  for (const c of ALL_CHECKS) assert.is(out.layers[0].checks[c].status, "pass", c);
}

test("verify of a fixture passes every check with the inflate worker, found beside the bundle", async () => {
  await verifyAll({});
});

test("verify of a fixture passes every check inflated on the main thread (ESGZ_VERIFY_INLINE_BYTES)", async () => {
  await verifyAll({ ESGZ_VERIFY_INLINE_BYTES: String(1 << 30) });
});

test.run();
