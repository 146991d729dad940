// An HTTP proxy in front of a real registry that injects faults into chosen requests: error
// statuses, connections dropped mid-body, slow answers, bodies trickled a byte at a time, truncated
// bodies, rewritten headers and redirects. Every request it sees is recorded (method, path, headers).
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse, type Server } from "node:http";

export type Fault =
  | { kind: "status"; status: number; headers?: Record<string, string>; body?: string }
  | { kind: "drop-mid-body" }
  /** The request reaches the registry, the answer never reaches the client. */
  | { kind: "lose-answer" }
  | { kind: "delay"; ms: number }
  /** The registry's head at once (status, lengths, ranges all right), then the body one byte every `everyMs`. */
  | { kind: "trickle"; everyMs: number }
  | { kind: "truncate" }
  | { kind: "header"; name: string; rewrite: (value: string | undefined) => string }
  | { kind: "redirect"; location: (path: string) => string; status?: number }
  | { kind: "strip-range" };

export interface FaultRule {
  match: (req: { method: string; path: string; headers: IncomingMessage["headers"] }) => boolean;
  fault: Fault;
  /** How many matching requests it applies to (default 1). */
  times?: number;
}

export interface SeenRequest { method: string; path: string; headers: IncomingMessage["headers"] }

export interface FaultProxy {
  host: string;
  url: string;
  rules: FaultRule[];
  seen: SeenRequest[];
  /** Trickled answers whose client hung up before their last byte. */
  readonly cutShort: number;
  stop(): Promise<void>;
}

/**
 * Forwards to `upstream` (http://host:port), applying the first matching rule. `addHeaders` go to the
 * upstream only (a "blob storage" that holds its own credentials); `seen` keeps what the client sent.
 */
export async function startFaultProxy(upstream: string, opts: { addHeaders?: Record<string, string> } = {}): Promise<FaultProxy> {
  const agent = new Agent({ keepAlive: true });
  const target = new URL(upstream);
  const state = { rules: [] as FaultRule[], seen: [] as SeenRequest[], cutShort: 0 };

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, fault?: Fault) => {
    // The client's Host is kept: the registry builds upload Locations from it, so they point back here.
    const headers = { ...req.headers, ...(opts.addHeaders ?? {}) };
    if (fault?.kind === "strip-range") delete headers.range;
    const up = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (ur) => {
      const outHeaders = { ...ur.headers };
      if (fault?.kind === "header") outHeaders[fault.name] = fault.rewrite(ur.headers[fault.name] as string | undefined);
      const chunks: Buffer[] = [];
      ur.on("data", (c: Buffer) => chunks.push(c));
      ur.on("end", () => {
        const all = Buffer.concat(chunks);
        if (fault?.kind === "lose-answer") {
          res.socket?.destroy();
          return;
        }
        if (fault?.kind === "drop-mid-body") {
          res.writeHead(ur.statusCode ?? 502, outHeaders);
          res.write(all.subarray(0, all.length >> 1), () => res.socket?.destroy());
          return;
        }
        if (fault?.kind === "trickle") {
          res.writeHead(ur.statusCode ?? 502, outHeaders);
          res.flushHeaders();
          let at = 0;
          const timer = setInterval(() => {
            if (at < all.length) res.write(all.subarray(at, ++at));
            else { clearInterval(timer); res.end(); }
          }, fault.everyMs);
          res.on("close", () => { clearInterval(timer); if (at < all.length) state.cutShort++; });
          return;
        }
        if (fault?.kind === "truncate") {
          const half = all.subarray(0, all.length >> 1);
          outHeaders["content-length"] = String(half.length);
          res.writeHead(ur.statusCode ?? 502, outHeaders);
          res.end(half);
          return;
        }
        res.writeHead(ur.statusCode ?? 502, outHeaders);
        res.end(all);
      });
    });
    up.on("error", () => res.destroy());
    up.end(body);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const info = { method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers };
      state.seen.push(info);
      const i = state.rules.findIndex((r) => r.match(info));
      let fault: Fault | undefined;
      if (i >= 0) {
        const rule = state.rules[i];
        fault = rule.fault;
        rule.times = (rule.times ?? 1) - 1;
        if (rule.times <= 0) state.rules.splice(i, 1);
      }
      const body = Buffer.concat(chunks);
      if (fault?.kind === "status") {
        res.writeHead(fault.status, { "content-type": "application/json", ...(fault.headers ?? {}) });
        res.end(fault.body ?? `{"errors":[{"code":"INJECTED","message":"injected ${fault.status}"}]}`);
      } else if (fault?.kind === "redirect") {
        res.writeHead(fault.status ?? 307, { location: fault.location(info.path), "content-length": "0" });
        res.end();
      } else if (fault?.kind === "delay") {
        const t = setTimeout(() => forward(req, res, body), fault.ms);
        res.on("close", () => clearTimeout(t));
      } else {
        forward(req, res, body, fault);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    get rules() { return state.rules; },
    set rules(v) { state.rules = v; },
    get seen() { return state.seen; },
    set seen(v) { state.seen = v; },
    get cutShort() { return state.cutShort; },
    async stop() {
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
