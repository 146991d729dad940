// Docker credential helpers (`docker-credential-<name> get`), run the way containers/image runs them:
// the registry host on stdin, `{"ServerURL","Username","Secret"}` on stdout; Username `<token>` means
// the secret is an identity (refresh) token. Asynchronous, bounded in time; errors never carry the
// helper's answer (it may hold the secret), only its exit status and its stderr's first line.
import { spawn } from "node:child_process";
import type { Credentials } from "./credentials.js";
import { RegistryError } from "./errors.js";

/** What helpers print (exit status 1) when they hold nothing for the server. */
const NOT_FOUND = "credentials not found in native keychain";
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_OUTPUT = 64 * 1024;

export interface CredentialHelperOptions {
  /** Environment of the helper (default: this process's, PATH included). */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/**
 * Asks `docker-credential-<name>` for `server`'s credentials: undefined when it holds none; throws a
 * RegistryError("auth") saying what went wrong (not installed, failed, timed out, bad answer).
 */
export function helperCredentials(name: string, server: string, opts: CredentialHelperOptions = {}): Promise<Credentials | undefined> {
  const program = `docker-credential-${name}`;
  const fail = (why: string) => new RegistryError("auth", `credential helper ${program}: ${why}`, { registry: server });
  // A name is a suffix of a program on PATH, never a path.
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) return Promise.reject(fail("invalid helper name"));
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = spawn(program, ["get"], { env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish(() => reject(fail(`no answer within ${timeoutMs / 1000} s`)));
    }, timeoutMs);
    child.stdout.on("data", (b: Buffer) => { outBytes += b.length; if (outBytes <= MAX_OUTPUT) out.push(b); });
    child.stderr.on("data", (b: Buffer) => { if (err.length < 16) err.push(b); });
    child.on("error", (e: NodeJS.ErrnoException) => finish(() => reject(fail(e.code === "ENOENT" ? "not found on PATH" : e.message))));
    child.stdin.on("error", () => { /* the helper exited without reading: its status says why */ });
    child.stdin.end(server);
    child.on("close", (code, signal) => finish(() => {
      const stdout = Buffer.concat(out).toString("utf8").trim();
      if (code !== 0) {
        if (stdout === NOT_FOUND) return resolve(undefined);
        const first = Buffer.concat(err).toString("utf8").split("\n")[0].trim().slice(0, 200);
        return reject(fail(`${signal ? `killed by ${signal}` : `exit status ${code}`}${first ? ` (${first})` : ""}`));
      }
      if (outBytes > MAX_OUTPUT) return reject(fail(`answer over ${MAX_OUTPUT} bytes`));
      let answer: { Username?: unknown; Secret?: unknown };
      try {
        answer = JSON.parse(stdout);
      } catch {
        return reject(fail("answer is not JSON")); // not quoted: it may hold the secret
      }
      const user = answer?.Username;
      const secret = answer?.Secret;
      if ((user !== undefined && typeof user !== "string") || (secret !== undefined && typeof secret !== "string")) {
        return reject(fail("answer's Username and Secret must be strings"));
      }
      if (!user && !secret) return resolve(undefined);
      resolve(user === "<token>" ? { identityToken: secret as string } : { username: user ?? "", password: secret ?? "" });
    }));
  });
}
