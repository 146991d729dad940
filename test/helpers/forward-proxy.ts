// A forward proxy for tests: answers CONNECT by opening a TCP tunnel to the target, with its own
// name resolution (`hosts`), so that a client can only reach "registry.test" through it. Records
// every CONNECT it served.
import { createServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";

export interface ForwardProxy {
  url: string;
  /** "host:port" of every CONNECT, in order. */
  connects: string[];
  stop(): Promise<void>;
}

export async function startForwardProxy(hosts: Record<string, string>): Promise<ForwardProxy> {
  const connects: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => {
    res.writeHead(405, { "content-type": "text/plain" });
    res.end("this test proxy only tunnels (CONNECT)");
  });
  server.on("connect", (req, client: Socket, head: Buffer) => {
    const target = req.url ?? "";
    connects.push(target);
    const colon = target.lastIndexOf(":");
    const name = target.slice(0, colon);
    const port = Number(target.slice(colon + 1));
    const upstream = connect(port, hosts[name] ?? name, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => { client.destroy(); upstream.destroy(); });
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    connects,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
