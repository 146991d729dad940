// Manifests and indexes: OCI and Docker schema 2 media types, validation of what the client relies
// on, and platform selection in an index (default: the host's os/architecture/variant).
import { RegistryError, type RegistryErrorContext } from "./errors.js";
import { isDigest } from "./reference.js";

export const MediaType = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

/** What a manifest GET asks for, best first. */
export const MANIFEST_ACCEPT = [MediaType.ociIndex, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.dockerManifest].join(", ");

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: Platform;
  artifactType?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
  subject?: Descriptor;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export type ParsedManifest = { kind: "manifest"; mediaType: string; manifest: ImageManifest } | { kind: "index"; mediaType: string; index: ImageIndex };

const INDEX_TYPES = new Set<string>([MediaType.ociIndex, MediaType.dockerManifestList]);
const MANIFEST_TYPES = new Set<string>([MediaType.ociManifest, MediaType.dockerManifest]);

function checkDescriptor(d: unknown, where: string, ctx: RegistryErrorContext): Descriptor {
  const bad = (why: string) => new RegistryError("protocol", `${where}: ${why}`, ctx);
  if (typeof d !== "object" || d === null) throw bad("descriptor is not an object");
  const desc = d as Descriptor;
  if (typeof desc.mediaType !== "string") throw bad("descriptor without mediaType");
  if (typeof desc.digest !== "string" || !isDigest(desc.digest)) throw bad(`descriptor digest ${JSON.stringify(desc.digest)} is not a sha256/sha512 digest`);
  if (!Number.isSafeInteger(desc.size) || desc.size < 0) throw bad(`descriptor ${desc.digest} has an invalid size ${JSON.stringify(desc.size)}`);
  if (desc.annotations !== undefined && (typeof desc.annotations !== "object" || desc.annotations === null)) throw bad(`descriptor ${desc.digest} annotations are not an object`);
  return desc;
}

/** Parses manifest bytes; the Content-Type is used only when the body does not name its media type. */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, ctx: RegistryErrorContext = {}): ParsedManifest {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (err) {
    throw new RegistryError("protocol", `manifest is not valid JSON (${(err as Error).message})`, ctx);
  }
  if (typeof json !== "object" || json === null) throw new RegistryError("protocol", "manifest is not a JSON object", ctx);
  const ct = contentType?.split(";")[0].trim();
  const mediaType = (typeof json.mediaType === "string" ? json.mediaType : undefined) ?? ct ?? "";
  if (json.schemaVersion !== 2) {
    throw new RegistryError("protocol", `unsupported manifest schemaVersion ${JSON.stringify(json.schemaVersion)} (media type ${mediaType || "unknown"}); only schema 2 / OCI`, ctx);
  }
  const isIndex = INDEX_TYPES.has(mediaType) || (!MANIFEST_TYPES.has(mediaType) && Array.isArray(json.manifests));
  if (isIndex) {
    if (!Array.isArray(json.manifests)) throw new RegistryError("protocol", "index without a manifests array", ctx);
    (json.manifests as unknown[]).forEach((d, i) => checkDescriptor(d, `index manifests[${i}]`, ctx));
    return { kind: "index", mediaType: mediaType || MediaType.ociIndex, index: json as unknown as ImageIndex };
  }
  if (!MANIFEST_TYPES.has(mediaType) && mediaType !== "") {
    throw new RegistryError("protocol", `unsupported manifest media type ${mediaType}`, ctx);
  }
  checkDescriptor(json.config, "manifest config", ctx);
  if (!Array.isArray(json.layers)) throw new RegistryError("protocol", "manifest without a layers array", ctx);
  (json.layers as unknown[]).forEach((d, i) => checkDescriptor(d, `manifest layers[${i}]`, ctx));
  return { kind: "manifest", mediaType: mediaType || MediaType.ociManifest, manifest: json as unknown as ImageManifest };
}

const ARCH: Record<string, string> = { x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64", loong64: "loong64", mips: "mips", mipsel: "mipsle" };

/** The platform of this process, in OCI terms. */
export function hostPlatform(): Platform {
  const architecture = ARCH[process.arch] ?? process.arch;
  const p: Platform = { os: process.platform === "win32" ? "windows" : process.platform, architecture };
  if (architecture === "arm") {
    const v = (process.config.variables as Record<string, unknown>).arm_version;
    p.variant = `v${typeof v === "string" || typeof v === "number" ? v : "7"}`;
  }
  return p;
}

/** "linux/arm64/v8" → Platform. */
export function parsePlatform(s: string): Platform {
  const [os, architecture, variant, ...rest] = s.split("/");
  if (!os || !architecture || rest.length) throw new RegistryError("platform", `platform ${JSON.stringify(s)} must be os/arch[/variant]`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

// arm64's only variant is v8, so an absent one means v8 (as containerd's platform matcher does).
function normVariant(p: Platform): string | undefined {
  if (p.architecture === "arm64" && (p.variant === undefined || p.variant === "v8")) return "v8";
  return p.variant;
}

/** The index entry for `want`: os and architecture equal; variant equal when `want` names one. */
export function selectManifest(index: ImageIndex, want: Platform, ctx: RegistryErrorContext = {}): Descriptor {
  const candidates = index.manifests.filter((d) => MANIFEST_TYPES.has(d.mediaType) || INDEX_TYPES.has(d.mediaType) || d.mediaType === undefined);
  const matches = candidates.filter((d) => {
    const p = d.platform;
    if (!p || p.os !== want.os || p.architecture !== want.architecture) return false;
    return want.variant === undefined || normVariant(p) === normVariant(want);
  });
  if (matches.length === 0) {
    const have = candidates.map((d) => (d.platform ? formatPlatform(d.platform) : "unknown")).join(", ");
    throw new RegistryError("platform", `no manifest for platform ${formatPlatform(want)} in the index (has: ${have || "none"})`, ctx);
  }
  // With no variant wanted, prefer the entry without one, then the highest (v8 over v7 over v6).
  if (want.variant === undefined && matches.length > 1) {
    matches.sort((a, b) => (a.platform!.variant ?? "~").localeCompare(b.platform!.variant ?? "~")).reverse();
  }
  return matches[0];
}
