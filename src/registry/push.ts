// Writing images (for `convert`): blobs uploaded monolithically or in chunks, never twice (HEAD
// first), mounted from another repository of the same registry when allowed; manifests and
// indexes PUT with their digest checked against the registry's answer.
import { RegistryError } from "./errors.js";
import { digestOf, hasherFor } from "./digest.js";
import { blobPath } from "./blob.js";
import type { Reference } from "./reference.js";
import type { Session, Target } from "./session.js";
import { discardSink, type ResponseHead } from "./http.js";

export interface UploadOptions {
  /** Known digest of a streamed blob: lets the existence check skip the upload. */
  digest?: string;
  /** Bytes per PATCH for chunked uploads; blobs up to this size go in one PUT. Default 16 MiB. */
  chunkSize?: number;
  /** Repositories on the same registry to try mounting the blob from. */
  mountFrom?: string[];
}

export interface UploadResult {
  digest: string;
  /** Bytes uploaded or held; -1 for a stream that was never read (it existed or was mounted). */
  size: number;
  /** How the registry came to hold it. */
  how: "existed" | "mounted" | "uploaded";
}

const pushTarget = (ref: Reference, object: string, extraScopes?: string[]): Target => ({ ref, object, push: true, extraScopes });
const location = (h: ResponseHead, object: string): URL => {
  const loc = h.headers.location;
  const v = Array.isArray(loc) ? loc[0] : loc;
  if (!v) throw new RegistryError("protocol", `upload answer ${h.status} without Location`, { object });
  return new URL(v, h.url);
};

/** True if the repository already holds the blob. */
export async function blobExists(session: Session, ref: Reference, digest: string): Promise<boolean> {
  try {
    await session.perform(pushTarget(ref, `blob ${digest}`), { method: "HEAD", path: blobPath(ref, digest), accept: (s) => s === 200, followRedirects: true }, () => discardSink);
    return true;
  } catch (err) {
    if (err instanceof RegistryError && err.code === "not-found") return false;
    throw err;
  }
}

/** Starts an upload session (or mounts, if `mount` is given and the registry agrees). */
async function startUpload(session: Session, ref: Reference, digest: string | undefined, from?: string): Promise<{ mounted: true } | { mounted: false; url: URL }> {
  const object = `blob ${digest ?? "(streamed)"}`;
  const query = from && digest ? `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}` : "";
  const head = await session.perform(
    pushTarget(ref, object, from ? [`repository:${from}:pull`] : undefined),
    { method: "POST", path: `/v2/${ref.repository}/blobs/uploads/${query}`, accept: (s) => s === 201 || s === 202 },
    () => discardSink,
  );
  if (head.status === 201 && from) return { mounted: true };
  return { mounted: false, url: location(head, object) };
}

function withDigest(url: URL, digest: string): URL {
  const u = new URL(url);
  u.searchParams.set("digest", digest);
  return u;
}

function checkAnswerDigest(h: ResponseHead, digest: string, object: string): void {
  const got = h.headers["docker-content-digest"];
  const v = Array.isArray(got) ? got[0] : got;
  if (v && v !== digest) throw new RegistryError("digest", `registry stored ${v}, expected ${digest}`, { object });
}

async function sendChunks(session: Session, ref: Reference, url: URL, chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, digestKnown: string | undefined): Promise<{ digest: string; size: number }> {
  const hasher = digestKnown ? undefined : hasherFor("sha256:");
  let at = 0;
  const object = `blob ${digestKnown ?? "(streamed)"}`;
  for await (const chunk of chunks) {
    if (chunk.length === 0) continue;
    hasher?.hash.update(chunk);
    const head = await session.perform(pushTarget(ref, object), {
      method: "PATCH", path: "", url,
      headers: { "content-type": "application/octet-stream", "content-range": `${at}-${at + chunk.length - 1}` },
      body: chunk, accept: (s) => s === 202,
    }, () => discardSink);
    at += chunk.length;
    url = location(head, object);
  }
  const digest = digestKnown ?? hasher!.finish();
  const head = await session.perform(pushTarget(ref, `blob ${digest}`), {
    method: "PUT", path: "", url: withDigest(url, digest), headers: { "content-type": "application/octet-stream" }, accept: (s) => s === 201,
  }, () => discardSink);
  checkAnswerDigest(head, digest, `blob ${digest}`);
  return { digest, size: at };
}

function* slices(data: Uint8Array, size: number): Generator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, Math.min(data.length, i + size));
}

/** Gathers a stream into pieces of `size` bytes (the last may be shorter). */
async function* rechunk(src: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let buf = new Uint8Array(size);
  let fill = 0;
  for await (const piece of src) {
    for (let i = 0; i < piece.length; ) {
      const n = Math.min(size - fill, piece.length - i);
      buf.set(piece.subarray(i, i + n), fill);
      fill += n;
      i += n;
      if (fill === size) { yield buf; buf = new Uint8Array(size); fill = 0; }
    }
  }
  if (fill) yield buf.subarray(0, fill);
}

/** Ends a stream that will not be read (a file ReadStream holds its descriptor until then). */
async function release(data: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
  if (data instanceof Uint8Array) return;
  const destroy = (data as { destroy?: () => void }).destroy;
  if (typeof destroy === "function") destroy.call(data);
  else await data[Symbol.asyncIterator]().return?.();
}

/** Uploads a blob unless the repository has it; bytes in memory or streamed (digest computed en route). */
export async function uploadBlob(session: Session, ref: Reference, data: Uint8Array | AsyncIterable<Uint8Array>, opts: UploadOptions = {}): Promise<UploadResult> {
  const chunkSize = opts.chunkSize ?? 16 << 20;
  const inMemory = data instanceof Uint8Array;
  const digest = inMemory ? digestOf(data) : opts.digest;
  if (inMemory && opts.digest && opts.digest !== digest) throw new RegistryError("digest", `upload of ${opts.digest}: the bytes hash to ${digest}`, { registry: ref.registry, repository: ref.repository });
  if (digest && (await blobExists(session, ref, digest))) {
    await release(data);
    return { digest, size: inMemory ? data.length : -1, how: "existed" };
  }

  // An upload session can die half-way (registry restart, 5xx on a PATCH): bytes in memory are sent
  // again from a fresh session; a stream cannot be replayed, so its first failure is final.
  for (let attempt = 1; ; attempt++) {
    try {
      return await uploadOnce(session, ref, data, digest, chunkSize, opts);
    } catch (err) {
      const restartable = err instanceof RegistryError &&
        (err.code === "network" || err.code === "timeout" || err.code === "range" || (err.code === "not-found" && /upload/i.test(err.detail)) || (err.status ?? 0) >= 500);
      if (!inMemory || attempt >= 3 || !restartable) throw err;
    }
  }
}

async function uploadOnce(session: Session, ref: Reference, data: Uint8Array | AsyncIterable<Uint8Array>, digest: string | undefined, chunkSize: number, opts: UploadOptions): Promise<UploadResult> {
  const inMemory = data instanceof Uint8Array;
  let url: URL | undefined;
  for (const from of digest ? opts.mountFrom ?? [] : []) {
    if (from === ref.repository) continue;
    const r = await startUpload(session, ref, digest, from);
    if (r.mounted) {
      await release(data);
      return { digest: digest!, size: inMemory ? data.length : -1, how: "mounted" };
    }
    url = r.url; // mount refused: the registry opened an ordinary upload instead
    break;
  }
  if (!url) {
    const r = await startUpload(session, ref, digest);
    if (r.mounted) throw new RegistryError("protocol", "registry answered an upload start as a mount", { registry: ref.registry, repository: ref.repository });
    url = r.url;
  }

  if (inMemory && data.length <= chunkSize) {
    const head = await session.perform(pushTarget(ref, `blob ${digest}`), {
      method: "PUT", path: "", url: withDigest(url, digest!), body: data,
      headers: { "content-type": "application/octet-stream" }, accept: (s) => s === 201,
    }, () => discardSink);
    checkAnswerDigest(head, digest!, `blob ${digest}`);
    return { digest: digest!, size: data.length, how: "uploaded" };
  }
  const r = await sendChunks(session, ref, url, inMemory ? slices(data, chunkSize) : rechunk(data, chunkSize), digest);
  if (opts.digest && r.digest !== opts.digest) throw new RegistryError("digest", `streamed blob hashed to ${r.digest}, expected ${opts.digest}`, { registry: ref.registry, repository: ref.repository });
  return { ...r, how: "uploaded" };
}

/** PUTs a manifest or index under a tag or digest; returns its digest. */
export async function putManifest(session: Session, ref: Reference, reference: string, bytes: Uint8Array, mediaType: string): Promise<string> {
  const digest = digestOf(bytes);
  const object = `manifest ${reference}`;
  const head = await session.perform(pushTarget(ref, object), {
    method: "PUT", path: `/v2/${ref.repository}/manifests/${reference}`, body: bytes, headers: { "content-type": mediaType }, accept: (s) => s === 201,
  }, () => discardSink);
  checkAnswerDigest(head, digest, object);
  return digest;
}
