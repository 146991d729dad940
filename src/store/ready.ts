// Readiness for service managers: a log line always, and sd_notify(3) `READY=1` when systemd gave us a
// NOTIFY_SOCKET (unit `Type=notify`).
//
// The notification is a datagram on a unix socket, which Node cannot send (node:dgram is UDP only).
// We run `systemd-notify` from the systemd package, which is on every host where NOTIFY_SOCKET is
// set, rather than an npm native addon (a compiler and libsystemd headers at install time). It is
// run with `--pid=<our pid>`: systemd-notify then sends the message *on behalf of* that pid (as root
// the kernel accepts those credentials) and adds MAINPID, so systemd attributes it to the store's main
// process even though systemd-notify itself exits at once — no race, and NotifyAccess=main would do.
// The unit still sets NotifyAccess=all, which also covers a store run as non-root (then the message
// carries systemd-notify's own pid).
import { execFile } from "node:child_process";

export interface NotifyOptions {
  /** Environment to read NOTIFY_SOCKET from and pass on (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The pid the message speaks for (default process.pid). */
  pid?: number;
  /** The systemd-notify executable (default "systemd-notify" on PATH). */
  command?: string;
  /** Give up after this many ms (default 5000). */
  timeoutMs?: number;
}

interface NotifyLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * Sends `assignments` (e.g. ["READY=1", "STATUS=..."]) to $NOTIFY_SOCKET. Resolves true when sent,
 * false when there is no socket or sending failed (logged; the store keeps serving either way).
 */
export function sdNotify(assignments: string[], log: NotifyLog, opts: NotifyOptions = {}): Promise<boolean> {
  const env = opts.env ?? process.env;
  if (!env.NOTIFY_SOCKET) return Promise.resolve(false);
  const command = opts.command ?? "systemd-notify";
  const args = [`--pid=${opts.pid ?? process.pid}`, ...assignments];
  return new Promise((resolve) => {
    execFile(command, args, { env, timeout: opts.timeoutMs ?? 5000 }, (err, _stdout, stderr) => {
      if (err) {
        const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
        log.warn(missing
          ? "sd_notify: systemd-notify not found (install the systemd package); the service manager was not told"
          : "sd_notify: systemd-notify failed; the service manager was not told", {
          notify_socket: env.NOTIFY_SOCKET, state: assignments.join(" "), error: (stderr || err.message).trim(),
        });
        resolve(false);
        return;
      }
      log.debug("sd_notify sent", { notify_socket: env.NOTIFY_SOCKET, state: assignments.join(" ") });
      resolve(true);
    });
  });
}

/** Logs that the store serves `mountpoint` and tells systemd (READY=1) if it is watching. */
export async function signalReady(mountpoint: string, log: NotifyLog, opts: NotifyOptions = {}): Promise<boolean> {
  log.info("store ready", { mountpoint });
  return sdNotify(["READY=1", `STATUS=serving ${mountpoint}`], log, opts);
}

/** Tells systemd the store is stopping (STOPPING=1), as stargz-store does on exit. */
export function signalStopping(log: NotifyLog, opts: NotifyOptions = {}): Promise<boolean> {
  return sdNotify(["STOPPING=1"], log, opts);
}
