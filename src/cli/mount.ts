// `esgz-fast mount [flags] MOUNTPOINT`: the Additional Layer Store, a drop-in for stargz-store.
// Flags and config.toml are stargz-store's (Go flag syntax: -root and --root both work), parsed by
// src/store/config.ts from the raw arguments, so cac does not see them.
import type { CAC } from "cac";
import type { StoreConfig } from "../store/config.js";
import type { OpsRuntime } from "../store/ops.js";
import type { RunningStore } from "../store/service.js";
import type { StoreMount } from "../store/mountpoint.js";
import type { CredentialSocket } from "../store/credential-socket.js";

export function register(cli: CAC): void {
  // main.ts hands `mount …` to runMount before cac parses (cac would answer `mount --help` itself);
  // the command is declared here for the command list of `esgz-fast --help`.
  cli
    .command("mount [...args]", "Serve eStargz layers lazily to podman/CRI-O as an Additional Layer Store (stargz-store's flags and config.toml)")
    .allowUnknownOptions()
    .usage("mount [-config FILE] [-root DIR] [-log-level LEVEL] [-addr SOCKET] [-metrics-address HOST:PORT] MOUNTPOINT")
    .action(async () => {
      const i = process.argv.indexOf("mount");
      process.exitCode = await runMount(process.argv.slice(i + 1));
    });
}

/** Runs the store until SIGTERM/SIGINT; returns the exit code. `argv`: the arguments after `mount`. */
export async function runMount(argv: string[]): Promise<number> {
  // Loaded here, not at the top: other subcommands must not pay for the store's module graph, and
  // `mount --help` needs only the flags (config.ts), not FUSE.
  const { loadConfig, storeLogger, usageText } = await import("../store/config.js");
  let cfg: StoreConfig;
  try {
    cfg = await loadConfig(argv);
  } catch (err) {
    const { reportStartupError } = await import("../store/ops.js");
    return reportStartupError(err);
  }
  if (cfg.help) { process.stdout.write(usageText()); return 0; }
  if (cfg.version) { process.stdout.write(`esgz-fast ${(await import("../util/version.js")).VERSION}\n`); return 0; }
  // The mount comes first (the engines stat the mountpoint at every command): only the FUSE side and
  // the logger are loaded before it; lookups that arrive meanwhile wait for the store.
  const { mountStore } = await import("../store/mountpoint.js");
  const log = storeLogger(cfg);
  let mount: StoreMount;
  try {
    mount = await mountStore(cfg, log);
  } catch (err) {
    log.fatal("cannot mount the store", { mountpoint: cfg.mountpoint, error: (err as Error).message });
    return 1;
  }
  const [{ compileCoreModule }, { storeWorkerPool }, { reportStartupError, startOps }, { startStore }] = await Promise.all([
    import("../node/core.js"), import("../store/workers.js"), import("../store/ops.js"), import("../store/service.js"),
  ]);
  await compileCoreModule();
  const pool = storeWorkerPool();
  let ops: OpsRuntime;
  let running: RunningStore;
  try {
    // The disk cache's "which of these chunks are on disk?" for a fetch window: one worker round trip.
    ops = await startOps(cfg, { log, filesExist: (dir, hexes) => pool.run("chunksExist", { dir, hexes }, { priority: "low" }) });
  } catch (err) {
    await pool.close();
    await mount.mounted.unmount().catch(() => {});
    return reportStartupError(err);
  }
  try {
    running = await startStore(ops, { pool, mount });
  } catch (err) {
    log.fatal("cannot start the store", { mountpoint: cfg.mountpoint, error: (err as Error).message });
    await mount.mounted.unmount().catch(() => {});
    await pool.close();
    await ops.close();
    return 1;
  }
  // The credential socket, before readiness (an engine may pull at once); grpc-js itself is loaded
  // at its first connection. Cannot listen (another store on it): stop, as stargz-store does.
  let credentialSocket: CredentialSocket | undefined;
  try {
    if (cfg.addr) {
      const { openCredentialSocket } = await import("../store/credential-socket.js");
      credentialSocket = await openCredentialSocket(cfg.addr, running.addCredentials, log);
    } else {
      log.info("no credential socket (--addr is empty)");
    }
  } catch (err) {
    log.fatal("cannot serve the credential socket", { addr: cfg.addr, error: (err as Error).message });
    await running.close();
    await ops.close();
    return 1;
  }
  // Signal handlers before READY=1: a stop that follows readiness at once must still unmount.
  const stopped = new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  await ops.ready();
  const signal = await stopped;
  log.info("stopping", { signal });
  await credentialSocket?.close();
  await running.close();
  await ops.close();
  log.info("unmounted", { mountpoint: cfg.mountpoint });
  // Worker threads, keep-alive sockets and fuse-native's libuv handle would keep the loop alive.
  setImmediate(() => process.exit(0));
  return 0;
}
