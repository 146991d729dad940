// A real `docker-registry` (Debian's CNCF distribution 2.8) for tests: started on 127.0.0.1 on a free
// port with filesystem storage in a temp dir, optionally behind htpasswd or token auth or as a
// pull-through cache; stopped by PID. Its access log (combined format on stdout) is parsed so that
// tests can prove which requests reached the registry and how many bytes each one sent.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { freePort, startLocalRegistry, type AccessEntry, type LocalRegistry, type RegistryTls } from "../../src/demo/registry.js";
import type { Descriptor } from "../../src/registry/manifest.js";

export { freePort, type AccessEntry, type RegistryTls };

export interface StartRegistryOptions {
  /** Basic auth with one user (bcrypt htpasswd file). */
  htpasswd?: { user: string; password: string };
  /** Token auth: the registry trusts JWTs signed by a key whose cert chain ends in rootCertBundle (PEM file path). */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string };
  /** Pull-through cache of this upstream registry URL (e.g. another TestRegistry's `url`). */
  proxyRemoteUrl?: string;
  proxyUser?: string;
  proxyPassword?: string;
  /** HTTPS (and client certificates), see src/demo/registry.ts. */
  tls?: RegistryTls;
  /** Serve another registry's storage (e.g. a plain one the test pushed to). */
  dataDir?: string;
}

export type TestRegistry = LocalRegistry;

// The auth and pull-through sections of the registry's config.yml.
async function extraConfig(dir: string, opts: StartRegistryOptions): Promise<string[]> {
  const lines: string[] = [];
  if (opts.htpasswd && opts.token) throw new Error("startRegistry: htpasswd and token auth are exclusive");
  if (opts.htpasswd) {
    const htpasswdPath = join(dir, "htpasswd");
    await writeFile(htpasswdPath, `${opts.htpasswd.user}:${bcrypt.hashSync(opts.htpasswd.password, 5)}\n`);
    lines.push("auth:", "  htpasswd:", "    realm: esgz-test", `    path: ${JSON.stringify(htpasswdPath)}`);
  }
  if (opts.token) {
    const t = opts.token;
    lines.push(
      "auth:", "  token:",
      `    realm: ${JSON.stringify(t.realm)}`,
      `    service: ${JSON.stringify(t.service)}`,
      `    issuer: ${JSON.stringify(t.issuer)}`,
      `    rootcertbundle: ${JSON.stringify(t.rootCertBundle)}`,
    );
  }
  if (opts.proxyRemoteUrl) {
    lines.push("proxy:", `  remoteurl: ${JSON.stringify(opts.proxyRemoteUrl)}`);
    if (opts.proxyUser !== undefined) lines.push(`  username: ${JSON.stringify(opts.proxyUser)}`);
    if (opts.proxyPassword !== undefined) lines.push(`  password: ${JSON.stringify(opts.proxyPassword)}`);
  }
  return lines;
}

/** Starts one registry (src/demo/registry.ts) with the given auth / pull-through configuration. */
export function startRegistry(opts: StartRegistryOptions = {}): Promise<TestRegistry> {
  return startLocalRegistry({ extraConfig: (dir) => extraConfig(dir, opts), tls: opts.tls, dataDir: opts.dataDir });
}

// ---------------------------------------------------------------------------------------------
// Pushing test images straight over the distribution API (no client code under test involved).

export interface PushLayer {
  data: Uint8Array;
  /** Default: application/vnd.oci.image.layer.v1.tar+gzip */
  mediaType?: string;
  annotations?: Record<string, string>;
}

export interface PushImageOptions {
  layers: PushLayer[];
  /** Image config JSON; default: a minimal linux/amd64 config with the given diffIds (or layer digests). */
  config?: Record<string, unknown>;
  /** Docker schema 2 media types instead of OCI. */
  docker?: boolean;
  manifestAnnotations?: Record<string, string>;
  /** Basic credentials for an htpasswd registry. */
  auth?: { user: string; password: string };
  /** Extra request headers (e.g. a bearer token for a token-auth registry). */
  headers?: Record<string, string>;
}

export interface PushedImage {
  /** "HOST/repo:tag" */
  ref: string;
  manifestDigest: string;
  manifestBytes: Uint8Array;
  manifest: { schemaVersion: 2; mediaType: string; config: Descriptor; layers: Descriptor[]; annotations?: Record<string, string> };
  configDigest: string;
  configBytes: Uint8Array;
  layers: Descriptor[];
}

export const sha256Digest = (data: Uint8Array): string => "sha256:" + createHash("sha256").update(data).digest("hex");

function headersFor(opts: { auth?: { user: string; password: string }; headers?: Record<string, string> }): Record<string, string> {
  const h: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.auth) h.authorization = "Basic " + Buffer.from(`${opts.auth.user}:${opts.auth.password}`).toString("base64");
  return h;
}

/** Uploads one blob monolithically (POST then PUT ?digest=), skipping it if the registry has it. */
export async function pushBlob(
  reg: Pick<TestRegistry, "url">, repo: string, data: Uint8Array,
  opts: { auth?: { user: string; password: string }; headers?: Record<string, string> } = {},
): Promise<string> {
  const digest = sha256Digest(data);
  const h = headersFor(opts);
  const head = await fetch(`${reg.url}/v2/${repo}/blobs/${digest}`, { method: "HEAD", headers: h });
  if (head.ok) return digest;
  const post = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/`, { method: "POST", headers: h });
  await post.arrayBuffer();
  if (post.status !== 202) throw new Error(`pushBlob: POST upload to ${reg.url}/${repo} answered ${post.status}`);
  const loc = new URL(post.headers.get("location")!, reg.url);
  loc.searchParams.set("digest", digest);
  const put = await fetch(loc, {
    method: "PUT", body: data as Uint8Array<ArrayBuffer>,
    headers: { ...h, "content-type": "application/octet-stream" },
  });
  const text = await put.text();
  if (put.status !== 201) throw new Error(`pushBlob: PUT ${digest} to ${reg.url}/${repo} answered ${put.status}: ${text}`);
  return digest;
}

/** PUTs a manifest or index under a tag or digest; returns its digest. */
export async function pushManifest(
  reg: Pick<TestRegistry, "url">, repo: string, reference: string, mediaType: string, bytes: Uint8Array,
  opts: { auth?: { user: string; password: string }; headers?: Record<string, string> } = {},
): Promise<string> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${reference}`, {
    method: "PUT", body: bytes as Uint8Array<ArrayBuffer>, headers: { ...headersFor(opts), "content-type": mediaType },
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`pushManifest: PUT ${repo}:${reference} answered ${res.status}: ${text}`);
  return sha256Digest(bytes);
}

/**
 * Pushes a single-platform image built from raw layer blobs to `repo:tag` and returns every digest.
 * Layers are pushed as given (e.g. eStargz fixtures with their TOC-digest annotation).
 */
export async function pushImage(reg: Pick<TestRegistry, "url" | "host">, repo: string, tag: string, opts: PushImageOptions): Promise<PushedImage> {
  const layerType = opts.docker ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : "application/vnd.oci.image.layer.v1.tar+gzip";
  const configType = opts.docker ? "application/vnd.docker.container.image.v1+json" : "application/vnd.oci.image.config.v1+json";
  const manifestType = opts.docker ? "application/vnd.docker.distribution.manifest.v2+json" : "application/vnd.oci.image.manifest.v1+json";
  const layers: Descriptor[] = [];
  for (const layer of opts.layers) {
    const digest = await pushBlob(reg, repo, layer.data, opts);
    const d: Descriptor = { mediaType: layer.mediaType ?? layerType, digest, size: layer.data.byteLength };
    if (layer.annotations) d.annotations = layer.annotations;
    layers.push(d);
  }
  const config = opts.config ?? {
    architecture: "amd64", os: "linux",
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.annotations?.["containerd.io/uncompressed"] ?? l.digest) },
    config: {},
  };
  const configBytes = new TextEncoder().encode(JSON.stringify(config));
  const configDigest = await pushBlob(reg, repo, configBytes, opts);
  const manifest: PushedImage["manifest"] = {
    schemaVersion: 2, mediaType: manifestType,
    config: { mediaType: configType, digest: configDigest, size: configBytes.byteLength },
    layers,
  };
  if (opts.manifestAnnotations) manifest.annotations = opts.manifestAnnotations;
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest));
  const manifestDigest = await pushManifest(reg, repo, tag, manifestType, manifestBytes, opts);
  return { ref: `${reg.host}/${repo}:${tag}`, manifestDigest, manifestBytes, manifest, configDigest, configBytes, layers };
}

/** Pushes an OCI image index over already-pushed manifests; returns its digest and bytes. */
export async function pushIndex(
  reg: Pick<TestRegistry, "url">, repo: string, tag: string, manifests: Descriptor[],
  opts: { docker?: boolean; auth?: { user: string; password: string }; headers?: Record<string, string> } = {},
): Promise<{ digest: string; bytes: Uint8Array }> {
  const mediaType = opts.docker ? "application/vnd.docker.distribution.manifest.list.v2+json" : "application/vnd.oci.image.index.v1+json";
  const bytes = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType, manifests }));
  const digest = await pushManifest(reg, repo, tag, mediaType, bytes, opts);
  return { digest, bytes };
}

/**
 * Copies an image with skopeo (e.g. `oci:/path/to/layout:tag` → this registry), TLS verification off
 * for the loopback registry. Returns skopeo's stdout.
 */
export function skopeoCopy(src: string, dest: string, extra: string[] = []): string {
  const r = spawnSync("skopeo", ["copy", "--src-tls-verify=false", "--dest-tls-verify=false", ...extra, src, dest], {
    encoding: "utf8", timeout: 120000,
  });
  if (r.status !== 0) throw new Error(`skopeo copy ${src} ${dest} failed (${r.status ?? r.signal}): ${r.stderr}`);
  return r.stdout;
}
