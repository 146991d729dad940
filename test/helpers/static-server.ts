// A tiny read-only HTTP server on 127.0.0.1 (port chosen by the OS) for browser tests: serves an
// explicit table of URL paths → files or in-memory bodies, nothing else (404), with the content
// types browsers insist on for modules and Wasm.
import { createServer, type Server } from "node:http";
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import type { AddressInfo } from "node:net";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".gz": "application/gzip",
  ".json": "application/json",
};

/** A route: a file on disk, or a body held in memory. */
export type Route = { file: string } | { body: string | Uint8Array; type: string };

export interface StaticServer {
  /** Base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  /** Paths requested so far (for assertions and diagnostics). */
  requested: string[];
  close(): Promise<void>;
}

export async function startStaticServer(routes: Map<string, Route>): Promise<StaticServer> {
  const requested: string[] = [];
  const server: Server = createServer(async (req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    requested.push(path);
    const route = routes.get(path);
    if (!route || req.method !== "GET") {
      res.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${path}`);
      return;
    }
    try {
      const [body, type] = "file" in route
        ? [await readFile(route.file), TYPES[extname(route.file)] ?? "application/octet-stream"]
        : [route.body, route.type];
      res.writeHead(200, { "content-type": type, "cache-control": "no-store" }).end(body);
    } catch (err) {
      res.writeHead(500, { "content-type": "text/plain" }).end(String(err));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requested,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
