// What `esgz-fast convert` runs (src/cli/convert.ts declares its flags and loads this on use).
import { open, readFile, stat } from "node:fs/promises";
import { convertLayerFile } from "../convert/layer.js";
import { convertOciLayout, isOciLayout } from "../convert/oci-layout.js";
import type { ResolverConfig } from "../registry/index.js";
import type { WriterOptions } from "../estargz/writer.js";
import { Progress } from "./progress.js";

export interface ConvertFlags {
  chunkSize?: string | number;
  compressionLevel?: string | number;
  minChunkSize?: string | number;
  prioritizedFiles?: string;
  json?: boolean;
  hostsConfig?: string;
}

/** stargz-store's hosts configuration ([resolver] table of its config.toml, or the table alone). */
async function resolverConfig(path: string | undefined): Promise<ResolverConfig | undefined> {
  if (!path) return undefined;
  try {
    const { parse: parseToml } = await import("smol-toml");
    const doc = parseToml(await readFile(path, "utf8")) as Record<string, unknown>;
    return (doc.resolver ?? doc) as ResolverConfig;
  } catch (err) {
    throw new Error(`--hosts-config ${path}: ${(err as Error).message}`);
  }
}

function intFlag(name: string, v: string | number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  return n;
}

async function writerOptions(f: ConvertFlags): Promise<WriterOptions> {
  const opts: WriterOptions = {
    chunkSize: intFlag("chunk-size", f.chunkSize, 1),
    compressionLevel: intFlag("compression-level", f.compressionLevel, 0, 9),
    minChunkSize: intFlag("min-chunk-size", f.minChunkSize, 0),
  };
  if (f.prioritizedFiles) {
    const text = await readFile(f.prioritizedFiles, "utf8");
    opts.prioritizedFiles = text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  }
  return opts;
}

export async function runConvert(input: string, output: string, flags: ConvertFlags): Promise<void> {
  const opts = await writerOptions(flags);
  const st = await stat(input).catch(() => undefined);
  const progress = new Progress("converting");
  if (!st) {
    if (!/^[\w.-]+(:\d+)?\/|^[\w.-]+:[\w.-]+$|@sha256:/.test(input)) throw new Error(`input ${input} does not exist (and is not an image reference)`);
    // registry → registry; converting a file or a layout does not load the registry client
    const [{ convertRegistryImage }, { RegistryClient }] = await Promise.all([import("../convert/registry.js"), import("../registry/index.js")]);
    const client = new RegistryClient({ resolver: await resolverConfig(flags.hostsConfig) });
    try {
      const r = await convertRegistryImage(client, input, output, {
        ...opts,
        onLayer: (i, _n, d) => progress.stage(`layer ${i + 1} ${d.slice(7, 19)}`),
        onProgress: (n) => progress.update(n),
      });
      progress.done();
      if (flags.json) process.stdout.write(JSON.stringify({ input, output, ...r }, null, 2) + "\n");
      else {
        for (const l of r.layers) process.stdout.write(`${l.from} -> ${l.to}  toc ${l.tocDigest}\n`);
        process.stdout.write(`${output}@${r.digest}\n`);
      }
    } finally {
      progress.done();
      await client.close();
    }
    return;
  }
  if (await stat(output).then(() => true, () => false)) throw new Error(`output ${output} already exists`);
  try {
    if (st.isDirectory()) {
      if (!(await isOciLayout(input))) throw new Error(`${input} is a directory but not an OCI image layout`);
      const r = await convertOciLayout(input, output, {
        ...opts,
        onLayer: (i, n, d) => progress.stage(`layer ${i + 1}/${n} ${d.slice(7, 19)}`),
        onProgress: (n) => progress.update(n),
      });
      progress.done();
      if (flags.json) process.stdout.write(JSON.stringify({ input, output, ...r }, null, 2) + "\n");
      else {
        for (const l of r.layers) process.stdout.write(`${l.from} -> ${l.to}  toc ${l.tocDigest}\n`);
        for (const m of r.manifests) process.stdout.write(`manifest ${m.from} -> ${m.to}\n`);
      }
    } else if (st.isFile()) {
      // a plain tar's size is the total the progress counts towards; a gzip one's is unknown
      const head = new Uint8Array(2);
      const fh = await open(input, "r");
      await fh.read(head, 0, 2, 0).finally(() => fh.close());
      progress.stage("converting", head[0] === 0x1f && head[1] === 0x8b ? 0 : st.size);
      const r = await convertLayerFile(input, output, { ...opts, onProgress: (n) => progress.update(n) });
      progress.done();
      if (flags.json) process.stdout.write(JSON.stringify({ input, output, ...r }, null, 2) + "\n");
      else {
        process.stdout.write(
          `${output}\n  digest            ${r.digest}\n  size              ${r.size}\n  toc digest        ${r.tocDigest}\n` +
            `  diff id           ${r.diffId}\n  uncompressed size ${r.uncompressedSize}\n`,
        );
        if (r.missingPrioritized.length) process.stdout.write(`  not found (prioritized): ${r.missingPrioritized.join(", ")}\n`);
      }
    } else {
      throw new Error(`input ${input} is neither a file nor a directory`);
    }
  } catch (err) {
    progress.done();
    throw err;
  }
}
