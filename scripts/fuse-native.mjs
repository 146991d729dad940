// npm postinstall (so `npm ci` in scripts/setup.sh) and setup.sh itself: fuse-native 2.2.6 with paged
// readdir. Applies patches/fuse-native-2.2.6-readdir.patch to the installed package and builds it with
// node-gyp against this Node's own headers (no download); node-gyp-build then loads
// build/Release/fuse.node before the package's prebuild. N-API: one build serves every Node ≥ 20.
// Idempotent (a build newer than the patched source is kept). Never fails the install: if the patch or
// the build fails, it says so and the prebuild stays in use — the store then lists a directory in one
// piece, as before (see docs/decisions.md, "Paged readdir").
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const patch = join(root, "patches", "fuse-native-2.2.6-readdir.patch");
const MARKER = "esgz-fast: readdir is paged";
const say = (msg) => console.error(`fuse-native: ${msg}`);

function main() {
  const require = createRequire(join(root, "package.json"));
  const dir = dirname(require.resolve("fuse-native/package.json"));
  const version = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version;
  if (version !== "2.2.6") return say(`version ${version}, the patch is for 2.2.6: prebuild kept, readdir not paged`);
  const source = join(dir, "fuse-native.c");
  const built = join(dir, "build", "Release", "fuse.node");
  if (!readFileSync(source, "utf8").includes(MARKER)) {
    execFileSync("patch", ["-p1", "--forward", "--quiet", "-d", dir, "-i", patch], { stdio: "inherit" });
  } else if (existsSync(built) && statSync(built).mtimeMs > statSync(source).mtimeMs) {
    return;
  }
  const prefix = dirname(dirname(process.execPath));
  const gyp = process.env.npm_config_node_gyp ?? join(prefix, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js");
  const args = [gyp, "rebuild", "--loglevel=warn"];
  // This Node's headers, where it has them (Debian/NodeSource /usr, official tarballs): no download.
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, "include", "node", "node_api.h"))) args.push(`--nodedir=${prefix}`);
  try {
    execFileSync(process.execPath, args, { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
  } catch (e) {
    rmSync(join(dir, "build"), { recursive: true, force: true }); // never a half build before the prebuild
    throw e;
  }
  // What the store will load (node-gyp-build's choice) must be the build.
  const loads = require("node-gyp-build").resolve(dir);
  if (loads !== built) throw new Error(`node-gyp-build loads ${loads}, not ${built}`);
  say(`built with paged readdir (${built})`);
}

try {
  main();
} catch (e) {
  say(`${e.message.split("\n")[0]}; the prebuild stays in use and readdir is not paged (needs patch, make, a C compiler, python3)`);
}
