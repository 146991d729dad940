#!/usr/bin/env node
// The esgz-fast command line. Each subcommand's module under src/cli/ declares its flags and help
// text only; its action imports the implementation when it runs, so `verify` does not load the
// converter, the registry client or the store.
import type { CAC } from "cac";
import { VERSION } from "../util/version.js";

const command = process.argv[2];
if (command === "verify" && !process.argv.includes("--help") && !process.argv.includes("-h")) {
  // The inflate worker's start-up (a Node thread's bootstrap, its modules, its Wasm core: longer than
  // the work on a small layer) begins first, on the other core, while this thread loads the CLI —
  // unless the input is a blob file small enough to be inflated on this thread.
  const input = process.argv.slice(3).find((a) => !a.startsWith("-"));
  void import("../verify/pass.js").then((m) => m.warmInflateWorkerFor(input), () => {});
}
if (command === "mount") {
  // stargz-store's Go-style flags, -h and --help included, belong to src/store/config.ts: cac would
  // answer `mount --help` with its own (flagless) help.
  const { runMount } = await import("./mount.js");
  process.exitCode = await runMount(process.argv.slice(3));
} else {
  const [{ cac }, { registerDemo }, { register: registerMount }, { register: registerVerify }, { register: registerConvert }, { register: registerStoreHelper }] = await Promise.all([
    import("cac"), import("./demo.js"), import("./mount.js"), import("./verify.js"), import("./convert.js"), import("./store-helper.js"),
  ]);
  const cli: CAC = cac("esgz-fast");
  registerDemo(cli);
  registerMount(cli);
  registerVerify(cli);
  registerConvert(cli);
  registerStoreHelper(cli);
  cli.help();
  cli.version(VERSION);

  try {
    cli.parse(process.argv, { run: false });
    if (!cli.matchedCommand) {
      // cac has already printed the help or version it was asked for
      if (!cli.options.help && !cli.options.version) {
        cli.outputHelp();
        process.exitCode = cli.args.length ? 2 : 0;
      }
    } else {
      await cli.runMatchedCommand();
    }
  } catch (err) {
    process.stderr.write(`esgz-fast: ${(err as Error).message}\n`);
    process.exitCode = 2;
  }
}
