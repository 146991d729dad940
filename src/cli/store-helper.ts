// `esgz-fast store-helper [ADDR]`: what containers/image runs as `additional-layer-store-auth-helper`
// (registries.conf), as stargz-store-helper is for stargz-store: reads the registry credentials JSON
// containers/image writes on stdin and hands it to the store's credential socket (default
// /var/lib/stargz-store/store.sock). Exit 0 when the store took it; otherwise one line on stderr
// (containers/image logs it) and exit 1. Nothing read from stdin is ever printed.
import type { CAC } from "cac";

export function register(cli: CAC): void {
  cli
    .command("store-helper [addr]", "Hand registry credentials (JSON on stdin, from containers/image) to a running store's credential socket")
    .usage("store-helper [ADDR]\n\nADDR: the store's --addr (default /var/lib/stargz-store/store.sock). stdin: {\"<image ref>\": {\"username\", \"password\", \"identityToken\"}}")
    .example("esgz-fast store-helper /var/lib/stargz-store/store.sock < creds.json")
    .action(async (addr: string | undefined) => {
      process.exitCode = await runStoreHelper(addr);
    });
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c as Buffer));
  return Buffer.concat(parts);
}

/** The command's work; returns the exit code. */
export async function runStoreHelper(addrArg: string | undefined, stdin: NodeJS.ReadableStream = process.stdin, stderr: { write(s: string): unknown } = process.stderr): Promise<number> {
  const fail = (msg: string) => { stderr.write(`esgz-fast store-helper: ${msg}\n`); return 1; };
  const [{ DEFAULT_ADDR }, { EngineCredentials }, { resolve }, { stat }] = await Promise.all([
    import("../store/config.js"), import("../registry/engine-credentials.js"), import("node:path"), import("node:fs/promises"),
  ]);
  const addr = resolve(addrArg || DEFAULT_ADDR);
  const data = await readAll(stdin);
  try {
    new EngineCredentials().add(data); // the store's own check: refuse here what it would refuse
  } catch (err) {
    return fail(`stdin: ${(err as Error).message}`);
  }
  try {
    if (!(await stat(addr)).isSocket()) return fail(`${addr} is not a socket`);
  } catch {
    return fail(`no credential socket at ${addr} (is \`esgz-fast mount\` running with --addr ${addr}?)`);
  }
  const { sendCredentials, SendError } = await import("../store/credential-rpc.js");
  try {
    await sendCredentials(addr, data);
  } catch (err) {
    if (err instanceof SendError && !err.unreachable) return fail(`the store refused the credentials: ${err.message}`);
    return fail(`cannot reach the store at ${addr}: ${(err as Error).message}`);
  }
  return 0;
}
