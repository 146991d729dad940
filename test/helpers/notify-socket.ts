// A real sd_notify receiver for tests: python3 binds a unix datagram socket (a path, or an abstract
// name starting with "@") with SO_PASSCRED, prints "bound", then prints each datagram it receives as
// one JSON line { payload, pid, uid } (pid/uid from the kernel-checked SCM_CREDENTIALS). Like systemd,
// it closes file descriptors passed with a message: that is how sd_notify_barrier (BARRIER=1, which
// systemd-notify sends after READY=1) learns the manager has processed what came before.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

const RECEIVER = `
import socket, struct, json, sys, os, time
addr = sys.argv[1]
barrier_delay = float(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind("\\0" + addr[1:] if addr.startswith("@") else addr)
print("bound", flush=True)
while True:
    data, anc, flags, _ = s.recvmsg(4096, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(16 * 4))
    pid = uid = None
    for level, kind, d in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid, uid, gid = struct.unpack("iII", d[:12])
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            time.sleep(barrier_delay)
            for fd in struct.unpack("%di" % (len(d) // 4), d[: len(d) - len(d) % 4]):
                os.close(fd)
    print(json.dumps({"payload": data.decode(), "pid": pid, "uid": uid}), flush=True)
`;

export interface NotifyMessage { payload: string; pid: number | null; uid: number | null }

export interface NotifyReceiver {
  /** The NOTIFY_SOCKET value. */
  address: string;
  /** The next datagram other than a barrier (rejects after `timeoutMs`). */
  next(timeoutMs?: number): Promise<NotifyMessage>;
  /** BARRIER=1 datagrams received so far. */
  readonly barriers: number;
  close(): void;
}

/** `barrierDelayMs`: answer barriers that late, like a busy service manager. */
export async function startNotifyReceiver(address: string, opts: { barrierDelayMs?: number } = {}): Promise<NotifyReceiver> {
  const child: ChildProcess = spawn("python3", ["-c", RECEIVER, address, String((opts.barrierDelayMs ?? 0) / 1000)], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const queue: string[] = [];
  const waiters: Array<(line: string) => void> = [];
  lines.on("line", (l) => { const w = waiters.shift(); if (w) w(l); else queue.push(l); });
  const nextLine = (timeoutMs: number) => new Promise<string>((resolve, reject) => {
    const l = queue.shift();
    if (l !== undefined) return resolve(l);
    const waiter = (line: string) => { clearTimeout(t); resolve(line); };
    const t = setTimeout(() => {
      waiters.splice(waiters.indexOf(waiter), 1);
      reject(new Error(`no datagram on ${address} within ${timeoutMs} ms`));
    }, timeoutMs);
    waiters.push(waiter);
  });
  const first = await nextLine(10_000).catch((err) => { child.kill(); throw err; });
  if (first !== "bound") { child.kill(); throw new Error(`notify receiver: ${first}`); }
  let barriers = 0;
  return {
    address,
    async next(timeoutMs = 10_000) {
      for (;;) {
        const m = JSON.parse(await nextLine(timeoutMs)) as NotifyMessage;
        if (m.payload.split("\n").includes("BARRIER=1")) barriers++;
        else return m;
      }
    },
    get barriers() { return barriers; },
    close: () => { if (child.exitCode === null) child.kill(); },
  };
}
