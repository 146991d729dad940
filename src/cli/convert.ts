// `esgz-fast convert IN OUT`: a tar / tar.gz layer file → an eStargz layer file, or an OCI image
// layout directory → a new OCI image layout with eStargz layers.
import type { CAC } from "cac";
import { open, readFile, stat } from "node:fs/promises";
import { convertLayerFile } from "../convert/layer.js";
import { convertOciLayout, isOciLayout } from "../convert/oci-layout.js";
import { convertRegistryImage } from "../convert/registry.js";
import { RegistryClient, type ResolverConfig } from "../registry/index.js";
import { parse as parseToml } from "smol-toml";
import type { WriterOptions } from "../estargz/writer.js";
import { Progress } from "./progress.js";

interface Flags {
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

async function writerOptions(f: Flags): Promise<WriterOptions> {
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

export function register(cli: CAC): void {
  cli
    .command("convert <in> <out>", "Convert a tar/tar.gz layer, an OCI image layout or a registry image to eStargz")
    .option("--chunk-size <bytes>", "Largest chunk of a regular file (default 4194304)")
    .option("--compression-level <0-9>", "gzip level (default 9)")
    .option("--min-chunk-size <bytes>", "Group small files into shared gzip members up to this size (default 0: off)")
    .option("--prioritized-files <file>", "File listing paths to put first (one per line), then .prefetch.landmark")
    .option("--json", "Print a JSON summary on stdout")
    .option("--hosts-config <file>", "registry: hosts configuration (stargz-store [resolver] TOML)")
    .example("esgz-fast convert layer.tar layer.esgz.tar.gz")
    .example("esgz-fast convert ./oci-in ./oci-out --prioritized-files prio.txt")
    .example("esgz-fast convert registry.example/app:1 registry.example/app:1-esgz")
    .action(async (input: string, output: string, flags: Flags) => {
      const opts = await writerOptions(flags);
      const st = await stat(input).catch(() => undefined);
      const progress = new Progress("converting");
      if (!st) {
        if (!/^[\w.-]+(:\d+)?\/|^[\w.-]+:[\w.-]+$|@sha256:/.test(input)) throw new Error(`input ${input} does not exist (and is not an image reference)`);
        // registry → registry
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
    });
}
