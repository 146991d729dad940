// Writes small OCI image layouts for tests: blobs by digest, a config with diff_ids, manifests, an
// index (optionally nested), the oci-layout file.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

export const sha = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Record<string, string>;
}

export class LayoutWriter {
  constructor(readonly dir: string) {
    mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
    writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  }

  blob(data: Uint8Array, mediaType: string, extra: Partial<Desc> = {}): Desc {
    const digest = sha(data);
    writeFileSync(join(this.dir, "blobs", "sha256", digest.slice(7)), data);
    return { mediaType, digest, size: data.length, ...extra };
  }

  json(doc: unknown, mediaType: string, extra: Partial<Desc> = {}): Desc {
    return this.blob(Buffer.from(JSON.stringify(doc)), mediaType, extra);
  }

  /** An image: layers are [data, mediaType] pairs; diff_ids computed from the data. */
  image(layers: Array<[Uint8Array, string, Record<string, string>?]>, extra: Partial<Desc> = {}): Desc {
    const descs = layers.map(([d, mt, ann]) => this.blob(d, mt, ann ? { annotations: ann } : {}));
    const diffIds = layers.map(([d, mt]) => sha(mt.endsWith("gzip") ? gunzipSync(d) : d));
    const config = this.json(
      { architecture: "amd64", os: "linux", config: { Cmd: ["/bin/sh"] }, rootfs: { type: "layers", diff_ids: diffIds }, history: [] },
      "application/vnd.oci.image.config.v1+json",
    );
    return this.json(
      { schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config, layers: descs, annotations: { "org.example": "kept" } },
      "application/vnd.oci.image.manifest.v1+json",
      extra,
    );
  }

  index(manifests: Desc[]): void {
    writeFileSync(join(this.dir, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests }));
  }
}

export function readBlob(dir: string, digest: string): Buffer {
  const data = readFileSync(join(dir, "blobs", "sha256", digest.slice(7)));
  if (sha(data) !== digest) throw new Error(`blob ${digest} does not match its content`);
  return data;
}

export function readJson<T = any>(dir: string, digest: string): T {
  return JSON.parse(readBlob(dir, digest).toString());
}
