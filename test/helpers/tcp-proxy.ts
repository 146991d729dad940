// A TCP relay in front of a server that counts the connections made through it and can close them
// all (a server ending kept-alive connections between requests).
import { createServer, connect, type Socket } from "node:net";

export interface TcpProxy {
  host: string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Closes every open connection on both sides. */
  closeAll(): void;
  stop(): Promise<void>;
}

export async function startTcpProxy(upstreamHost: string, upstreamPort: number): Promise<TcpProxy> {
  let connections = 0;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    connections++;
    const up = connect({ host: upstreamHost, port: upstreamPort });
    for (const s of [client, up]) {
      open.add(s);
      s.on("close", () => open.delete(s));
      s.on("error", () => undefined);
    }
    client.pipe(up);
    up.pipe(client);
    client.on("close", () => up.destroy());
    up.on("close", () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    get connections() { return connections; },
    closeAll() { for (const s of open) s.destroy(); },
    stop: () => new Promise<void>((r) => { for (const s of open) s.destroy(); server.close(() => r()); }),
  };
}
