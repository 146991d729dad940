// npm run build:bundle (part of `npm run build`, after tsc): the CLI and its worker threads as a few
// ESM files in dist/bundle/, so that a command's start-up reads a handful of files instead of resolving,
// reading and compiling a few hundred modules one by one (see docs/decisions.md, "CLI bundle").
//
// Input is tsc's output (dist/src), so the bundle runs exactly the code the tests run unbundled.
// * Entries: cli.js (dist/src/cli/main.js) and the two worker entries. Every file lands flat in
//   dist/bundle/: the code that starts a worker finds it by `new URL("./<name>.js", import.meta.url)`,
//   which esbuild leaves as written, so a worker entry must keep its name and sit beside every chunk.
// * Splitting: the subcommands' lazy `import()`s become chunks; `--help` loads no checker, no store.
// * fuse-native (a native addon) and what src/registry/undici.ts loads with createRequire stay
//   outside: esbuild does not follow a `require` made by createRequire, they load from node_modules.
// * The library exports (`esgz-fast`, `esgz-fast/core`) stay unbundled in dist/src.
import { build } from "esbuild";
import { chmod, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "dist", "bundle");

await rm(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: {
    cli: "dist/src/cli/main.js",
    "store-worker": "dist/src/store/store-worker.js",
    "inflate-worker": "dist/src/verify/inflate-worker.js",
  },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  chunkNames: "chunk-[hash]",
  sourcemap: "linked",
  // CommonJS dependencies (cac's, fflate's, undici's) call require() for Node built-ins: an ESM chunk
  // needs a real `require` for that.
  banner: { js: 'import { createRequire as __esgzCreateRequire } from "node:module"; const require = __esgzCreateRequire(import.meta.url);' },
  // grpc-js requires @grpc/proto-loader (and with it protobufjs) only for channelz and ORCA, which the
  // credential socket does not use: left out, ~0.7 MiB less in the bundle.
  external: ["fuse-native", "node-gyp-build", "@grpc/proto-loader"],
  logLevel: "warning",
  metafile: true,
});
await chmod(join(outdir, "cli.js"), 0o755); // runnable through a symlink to a built checkout, as the bin
const outputs = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith(".js"));
const total = outputs.reduce((n, [, o]) => n + o.bytes, 0);
console.log(`dist/bundle: ${outputs.length} files, ${(total / 1024).toFixed(0)} KiB`);
