// A registry that says what the test tells it to: the distribution API's read side (GET/HEAD of
// /v2/, manifests by tag or digest, blobs by digest with single Range requests) over an explicit
// table, on 127.0.0.1 and a port the OS picks. A real docker-registry refuses to serve a blob under a
// digest it does not hash to; this one serves whatever bytes the test puts under any name, which is
// what a lying (or compromised) registry does.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { sha256Digest } from "./registry.js";
import type { Descriptor } from "../../src/registry/manifest.js";

export interface ScriptedLayer {
  /** The digest the manifest lists (not necessarily the bytes' own). */
  digest?: string;
  /** The bytes served under that digest. */
  data: Uint8Array;
  annotations?: Record<string, string>;
}

export interface ScriptedRegistry {
  /** "127.0.0.1:PORT" */
  host: string;
  /** Puts an image under `repo:tag` (replacing what the tag named); returns its reference and manifest digest. */
  setImage(repo: string, tag: string, layers: ScriptedLayer[], diffIds: string[]): { ref: string; manifestDigest: string; layers: Descriptor[] };
  /** Paths of the GET requests so far. */
  gets: string[];
  close(): Promise<void>;
}

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";

export async function startScriptedRegistry(): Promise<ScriptedRegistry> {
  const manifests = new Map<string, Uint8Array>(); // `${repo}:${tag or digest}`
  const blobs = new Map<string, Uint8Array>(); // `${repo}@${digest}`
  const gets: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (req.method === "GET") gets.push(path);
    if (req.method !== "GET" && req.method !== "HEAD") return void res.writeHead(405).end();
    if (path === "/v2/" || path === "/v2") return void res.writeHead(200, { "content-type": "application/json" }).end("{}");
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    const body = m && (m[2] === "manifests" ? manifests.get(`${m[1]}:${m[3]}`) : blobs.get(`${m[1]}@${m[3]}`));
    if (!m || !body) return void res.writeHead(404, { "content-type": "application/json" }).end('{"errors":[{"code":"UNKNOWN"}]}');
    const headers: Record<string, string | number> = { "content-type": m[2] === "manifests" ? OCI_MANIFEST : "application/octet-stream" };
    if (m[2] === "manifests") headers["docker-content-digest"] = sha256Digest(body);
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(Number(range[2]), body.length - 1);
      if (start > end) return void res.writeHead(416).end();
      headers["content-range"] = `bytes ${start}-${end}/${body.length}`;
      headers["content-length"] = end - start + 1;
      res.writeHead(206, headers);
      return void res.end(req.method === "HEAD" ? undefined : body.subarray(start, end + 1));
    }
    headers["content-length"] = body.length; // also a multi-range request: the whole blob, as registries may
    res.writeHead(200, headers);
    res.end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    gets,
    setImage(repo, tag, layers, diffIds) {
      const config = new TextEncoder().encode(JSON.stringify({
        architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: diffIds }, config: { Cmd: ["/bin/sh"] },
      }));
      const configDigest = sha256Digest(config);
      blobs.set(`${repo}@${configDigest}`, config);
      const descs: Descriptor[] = layers.map((l) => {
        const digest = l.digest ?? sha256Digest(l.data);
        blobs.set(`${repo}@${digest}`, l.data);
        const d: Descriptor = { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest, size: l.data.byteLength };
        if (l.annotations) d.annotations = l.annotations;
        return d;
      });
      const manifest = new TextEncoder().encode(JSON.stringify({
        schemaVersion: 2, mediaType: OCI_MANIFEST,
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.byteLength },
        layers: descs,
      }));
      const manifestDigest = sha256Digest(manifest);
      manifests.set(`${repo}:${tag}`, manifest);
      manifests.set(`${repo}:${manifestDigest}`, manifest);
      return { ref: `${host}/${repo}:${tag}`, manifestDigest, layers: descs };
    },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
