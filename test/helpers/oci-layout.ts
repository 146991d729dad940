// Writes an OCI image layout (oci-layout, index.json, blobs/sha256/…) from layer blobs, the way skopeo
// or `ctr-remote convert` would lay it out: manifest with eStargz annotations, config with diff_ids.
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface LayoutLayer {
  data: Uint8Array;
  diffId: string;
  tocDigest?: string;
  uncompressedSize?: number;
  mediaType?: string;
}

export interface LayoutImage {
  layers: LayoutLayer[];
  platform?: { os: string; architecture: string };
  refName?: string;
  /** The config's rootfs.diff_ids when not the layers' own (to write an inconsistent image). */
  diffIds?: string[];
}

const sha = (b: Uint8Array) => "sha256:" + createHash("sha256").update(b).digest("hex");

async function putBlob(dir: string, data: Uint8Array): Promise<{ digest: string; size: number }> {
  const digest = sha(data);
  await writeFile(join(dir, "blobs", "sha256", digest.slice(7)), data);
  return { digest, size: data.length };
}

/** Writes the images; with one image index.json lists its manifest, with several each carries its platform. */
export async function writeOciLayout(dir: string, images: LayoutImage[]): Promise<{ manifestDigests: string[]; configDigests: string[] }> {
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  await writeFile(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  const manifests: unknown[] = [];
  const manifestDigests: string[] = [], configDigests: string[] = [];
  for (const img of images) {
    const platform = img.platform ?? { os: "linux", architecture: "amd64" };
    const config = Buffer.from(JSON.stringify({ ...platform, rootfs: { type: "layers", diff_ids: img.diffIds ?? img.layers.map((l) => l.diffId) }, config: {} }));
    const c = await putBlob(dir, config);
    const layers = [];
    for (const l of img.layers) {
      const b = await putBlob(dir, l.data);
      const annotations: Record<string, string> = {};
      if (l.tocDigest) annotations["containerd.io/snapshot/stargz/toc.digest"] = l.tocDigest;
      if (l.uncompressedSize !== undefined) annotations["io.containers.estargz.uncompressed-size"] = String(l.uncompressedSize);
      layers.push({ mediaType: l.mediaType ?? "application/vnd.oci.image.layer.v1.tar+gzip", ...b, annotations });
    }
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...c }, layers,
    }));
    const m = await putBlob(dir, manifest);
    manifestDigests.push(m.digest);
    configDigests.push(c.digest);
    manifests.push({
      mediaType: "application/vnd.oci.image.manifest.v1+json", ...m,
      ...(images.length > 1 ? { platform } : {}),
      ...(img.refName ? { annotations: { "org.opencontainers.image.ref.name": img.refName } } : {}),
    });
  }
  await writeFile(join(dir, "index.json"), JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests }));
  return { manifestDigests, configDigests };
}
