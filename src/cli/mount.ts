// `esgz-fast mount [flags] MOUNTPOINT`: the Additional Layer Store, a drop-in for stargz-store.
// Flags and config.toml are stargz-store's (Go flag syntax: -root and --root both work), parsed by
// src/store/config.ts from the raw arguments, so cac does not see them.
import type { CAC } from "cac";
import { ConfigError, announceConfig, loadConfig, usageText } from "../store/config.js";
import { createLogger } from "../util/log.js";
import { StoreMetrics, startMetrics } from "../store/metrics.js";
import { startStore, type RunningStore } from "../store/service.js";

export function register(cli: CAC): void {
  cli
    .command("mount [...args]", "Serve eStargz layers lazily to podman/CRI-O as an Additional Layer Store (stargz-store's flags and config.toml)")
    .allowUnknownOptions()
    .usage("mount [-config FILE] [-root DIR] [-log-level LEVEL] [-metrics-address HOST:PORT] MOUNTPOINT")
    .action(async () => {
      const i = process.argv.indexOf("mount");
      process.exitCode = await runMount(process.argv.slice(i + 1));
    });
}

/** Runs the store until SIGTERM/SIGINT; returns the exit code. */
export async function runMount(argv: string[]): Promise<number> {
  let cfg;
  try {
    cfg = await loadConfig(argv);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`esgz-fast mount: ${err.message}\n`);
    if (err.exitCode === 2) process.stderr.write(usageText());
    return err.exitCode;
  }
  if (cfg.help) { process.stdout.write(usageText()); return 0; }
  if (cfg.version) { process.stdout.write("esgz-fast 0.1.0\n"); return 0; }

  const log = createLogger({ level: cfg.logLevel });
  announceConfig(cfg, log);
  let running: RunningStore | undefined;
  const metrics = new StoreMetrics({ cacheBytes: () => running?.cache.memoryBytes ?? 0 });
  const server = await startMetrics(cfg, metrics, log);
  try {
    running = await startStore(cfg, log, metrics);
  } catch (err) {
    log.fatal("cannot mount the store", { mountpoint: cfg.mountpoint, error: (err as Error).message });
    await server?.close();
    return 1;
  }
  log.info("store ready", { mountpoint: cfg.mountpoint, root: cfg.root, pid: process.pid });

  const stopped = new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  const signal = await stopped;
  log.info("stopping", { signal });
  await running.close();
  await server?.close();
  log.info("unmounted", { mountpoint: cfg.mountpoint });
  // Worker threads, keep-alive sockets and libuv handles of fuse-native would keep the loop alive.
  setImmediate(() => process.exit(0));
  return 0;
}
