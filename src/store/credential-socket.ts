// The store's credential socket (`--addr`, as stargz-store's): a unix socket, mode 0600, on which an
// engine's auth helper (`esgz-fast store-helper`, or stargz-store-helper) hands over registry
// credentials. Bound here with node:net; the gRPC side (credential-rpc.ts, @grpc/grpc-js: ~150 ms
// and ~9 MiB to load) is imported at the first connection, so a store that never receives
// credentials never loads it. A stale socket file (nobody listening) is replaced; a live one is an
// error (another store); the file is removed on close.
import { connect, createServer, type Socket } from "node:net";
import { chmod, lstat, mkdir, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import type { Logger } from "../util/log.js";
import type { CredentialServer } from "./credential-rpc.js";

export interface CredentialSocket {
  readonly path: string;
  /** Stops listening, ends connections, removes the socket file. */
  close(): Promise<void>;
}

/** Whether something accepts connections on the unix socket at `path`. */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s: Socket = connect(path);
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNREFUSED" || err.code === "ENOENT") resolve(false);
      else reject(new Error(`${path}: ${err.message}`));
    });
  });
}

/** Makes `path` free to bind: its directory exists, a stale socket there is removed. */
async function prepare(path: string, log: Logger): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    return;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket; remove it or give --addr another path`);
  if (await listening(path)) throw new Error(`another process is listening on ${path} (another store?); stop it or give --addr another path`);
  await unlink(path);
  log.info("removed a stale credential socket", { addr: path });
}

/**
 * Listens on `path` and hands every AddCredential request's data to `onData` (which throws, without
 * quoting the data, to refuse it). Throws if the socket cannot be made.
 */
export async function openCredentialSocket(path: string, onData: (data: Uint8Array) => void, log: Logger): Promise<CredentialSocket> {
  await prepare(path, log);
  // Paused: grpc-js takes the connection over once it is loaded; nothing may be read before.
  const server = createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // The socket file is created by bind(2), synchronously inside listen(): with this umask it is
    // never accessible to others, not even for a moment (only its owner can connect).
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => { server.off("error", reject); resolve(); });
    } finally {
      process.umask(umask);
    }
  });
  await chmod(path, 0o600);
  const ino = (await lstat(path)).ino;
  server.unref();
  log.info("credential socket listening", { addr: path });

  let rpc: Promise<CredentialServer> | undefined;
  server.on("error", (err) => log.error("credential socket failed", { addr: path, error: err.message }));
  server.on("connection", (socket: Socket) => {
    rpc ??= import("./credential-rpc.js").then((m) => m.credentialServer(onData));
    rpc.then((s) => {
      // Reading starts now, and the HTTP/2 session takes the socket over in this same tick.
      socket.resume();
      s.inject(socket);
    }, (err: Error) => {
      log.error("cannot serve the credential socket", { addr: path, error: err.message });
      socket.destroy();
    });
  });

  let closed: Promise<void> | undefined;
  return {
    path,
    close() {
      closed ??= (async () => {
        const closing = new Promise<void>((r) => server.close(() => r())); // resolves once its connections end
        (await rpc?.catch(() => undefined))?.close();
        await closing;
        // Only our own file: another process may have replaced it meanwhile.
        try {
          if ((await lstat(path)).ino === ino) await unlink(path);
        } catch { /* already gone */ }
      })();
      return closed;
    },
  };
}
