#!/usr/bin/env node
// The esgz-fast command line. Each subcommand lives in its own module under src/cli/.
import { cac } from "cac";
import { registerDemo } from "./demo.js";
import { register as registerMount } from "./mount.js";
import { register as registerVerify } from "./verify.js";
import { register as registerConvert } from "./convert.js";

const cli = cac("esgz-fast");
registerDemo(cli);
registerMount(cli);
registerVerify(cli);
registerConvert(cli);
cli.help();
cli.version("0.1.0");

try {
  cli.parse(process.argv, { run: false });
  if (!cli.matchedCommand) {
    cli.outputHelp();
    process.exit(cli.args.length ? 2 : 0);
  }
  await cli.runMatchedCommand();
} catch (err) {
  process.stderr.write(`esgz-fast: ${(err as Error).message}\n`);
  process.exitCode = 2;
}
