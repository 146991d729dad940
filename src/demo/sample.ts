// The demo's embedded sample image, built as plain tar layers in memory:
//   base: a shell and a few tools copied from this host with the libraries they link (so that
//         `podman run` has something to execute without any download);
//   app:  a small greeting and configuration, text documents, and 32 MiB of incompressible data files
//         (the "model weights" most of an image is, and most containers never read whole).
// Deterministic: the app layer's data comes from a fixed-seed generator.
import { execFile } from "node:child_process";
import { readFile, realpath } from "node:fs/promises";
import { dirname } from "node:path";
import tar from "tar-stream";

export interface SampleFile {
  path: string;
  mode: number;
  data: Uint8Array;
}

export interface SampleLayer {
  name: string;
  tar: Buffer;
  files: SampleFile[];
}

/** Host programs the base layer carries (the first is installed as /bin/sh). */
const HOST_TOOLS = ["/bin/dash", "/usr/bin/cat", "/usr/bin/ls", "/usr/bin/head", "/usr/bin/sha256sum"];

export const GREETING = "Hello from a lazily pulled eStargz layer: only the bytes you read were fetched.\n";
export const DATA_FILES = 32;
export const DATA_FILE_SIZE = 1 << 20;

function libsOf(binary: string): Promise<string[]> {
  return new Promise((resolve) => {
    execFile("ldd", [binary], (err, stdout) => {
      if (err) return resolve([]); // static, or no ldd: nothing to add
      const libs = new Set<string>();
      for (const line of stdout.split("\n")) {
        const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
        if (m) libs.add(m[1]);
      }
      resolve([...libs]);
    });
  });
}

async function pack(files: SampleFile[]): Promise<Buffer> {
  const p = tar.pack();
  const out: Buffer[] = [];
  const drained = (async () => { for await (const c of p) out.push(c as Buffer); })();
  const mtime = new Date("2026-01-01T00:00:00Z");
  const dirs = new Set<string>();
  const entry = (h: Partial<tar.Header> & { name: string }, data?: Uint8Array) => new Promise<void>((resolve, reject) => {
    const cb = (err?: Error | null) => (err ? reject(err) : resolve());
    if (data) p.entry(h as tar.Header, Buffer.from(data.buffer, data.byteOffset, data.byteLength), cb);
    else p.entry(h as tar.Header, cb);
  });
  for (const f of files) {
    // parent directories first, each once
    const parents: string[] = [];
    for (let d = dirname(f.path); d !== "/" && d !== "." && !dirs.has(d); d = dirname(d)) parents.unshift(d);
    for (const d of parents) {
      dirs.add(d);
      await entry({ name: d.slice(1) + "/", type: "directory", mode: 0o755, uid: 0, gid: 0, mtime });
    }
    await entry({ name: f.path.slice(1), type: "file", mode: f.mode, uid: 0, gid: 0, mtime, size: f.data.byteLength }, f.data);
  }
  p.finalize();
  await drained;
  return Buffer.concat(out);
}

/** The base layer: HOST_TOOLS and their shared libraries, at the paths they have on this host. */
export async function baseLayer(): Promise<SampleLayer> {
  const files = new Map<string, SampleFile>();
  for (const tool of HOST_TOOLS) {
    const path = tool === "/bin/dash" ? "/bin/sh" : tool;
    files.set(path, { path, mode: 0o755, data: await readFile(tool) });
    for (const lib of await libsOf(tool)) {
      if (!files.has(lib)) files.set(lib, { path: lib, mode: 0o755, data: await readFile(await realpath(lib)) });
    }
  }
  const list = [...files.values()].sort((a, b) => a.path.localeCompare(b.path));
  return { name: "base", tar: await pack(list), files: list };
}

/** xorshift32: incompressible-looking bytes, the same on every machine. */
function noise(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const words = new Uint32Array(out.buffer, 0, n >>> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    words[i] = x;
  }
  return out;
}

/** The app layer. */
export async function appLayer(): Promise<SampleLayer> {
  const enc = new TextEncoder();
  const files: SampleFile[] = [
    { path: "/app/hello.txt", mode: 0o644, data: enc.encode(GREETING) },
    { path: "/app/config.json", mode: 0o644, data: enc.encode(JSON.stringify({ model: "data/part-*.bin", parts: DATA_FILES }, null, 2) + "\n") },
  ];
  for (let i = 0; i < 8; i++) {
    const para = `Chapter ${i + 1}. eStargz keeps every file its own gzip member, listed with its digest in a table of contents at the end of the layer.\n`;
    files.push({ path: `/app/docs/chapter-${i + 1}.txt`, mode: 0o644, data: enc.encode(para.repeat(200)) });
  }
  for (let i = 0; i < DATA_FILES; i++) {
    files.push({ path: `/app/data/part-${String(i).padStart(2, "0")}.bin`, mode: 0o644, data: noise(0x9e3779b9 + i, DATA_FILE_SIZE) });
  }
  return { name: "app", tar: await pack(files), files };
}
