// Runs the built CLI (dist/bundle/cli.js, the installed `bin`) as a subprocess, as a user or a CI job would.
import { execFile } from "node:child_process";
import { cliPath } from "../../src/demo/store.js";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export { cliPath };

export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cliPath, ...args], { env: { ...process.env, ...opts.env }, cwd: opts.cwd, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number") return reject(err);
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}
