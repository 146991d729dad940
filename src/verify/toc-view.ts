// The TOC as verify reads it: entries in TOC order and per regular file its chunk list, with the
// accessor names of src/core/toc.ts's TocIndex. TEMPORARY BACKEND: JSON.parse, until TocIndex lands;
// then this file becomes a thin wrapper over TocIndex.build.
import { cleanEntryName } from "../estargz/toc-json.js";

export const T_DIR = 1, T_REG = 2, T_SYMLINK = 3, T_HARDLINK = 4, T_CHAR = 5, T_BLOCK = 6, T_FIFO = 7, T_CHUNK = 8;
const TYPES: Record<string, number> = { dir: 1, reg: 2, symlink: 3, hardlink: 4, char: 5, block: 6, fifo: 7, chunk: 8 };
export const TYPE_NAMES = ["", "dir", "reg", "symlink", "hardlink", "char", "block", "fifo", "chunk"];

/** A malformed TOC: what, and the TOC entry it is about. */
export class TocFailure extends Error {
  constructor(message: string, readonly entry = -1) {
    super(message);
    this.name = "TocFailure";
  }
}

interface RawEntry {
  name?: unknown; type?: unknown; size?: unknown; linkName?: unknown; mode?: unknown; uid?: unknown; gid?: unknown;
  offset?: unknown; innerOffset?: unknown; chunkOffset?: unknown; chunkSize?: unknown; chunkDigest?: unknown; digest?: unknown;
}

interface Chunk { offset: number; innerOffset: number; chunkOffset: number; chunkSize: number; digest: Uint8Array | null; compressedEnd: number }
interface Node { name: string; type: number; size: number; linkName: string; mode: number; uid: number; gid: number; digest: Uint8Array | null; chunks: Chunk[]; shadowed: boolean }

const DIGEST = /^sha256:[0-9a-f]{64}$/;

function int(v: unknown, field: string, i: number): number {
  if (v === undefined) return 0;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new TocFailure(`entry ${i}: ${field} ${JSON.stringify(v)} is not a non-negative integer`, i);
  return v;
}

function digestBytes(v: unknown, field: string, i: number): Uint8Array | null {
  if (v === undefined || v === "") return null;
  if (typeof v !== "string" || !DIGEST.test(v)) throw new TocFailure(`entry ${i}: ${field} ${JSON.stringify(v)} is not sha256:<64 hex>`, i);
  return Uint8Array.from(Buffer.from(v.slice(7), "hex"));
}

export class TocView {
  private nodes: Node[] = [];
  private entryNodes: number[] = [];
  private entryChunks: number[] = [];
  private entryTypes: number[] = [];
  landmark: 0 | 1 | 2 = 0;

  private constructor() {}

  /** Parses and checks the TOC JSON; throws TocFailure naming the entry. `tocOffset` bounds member offsets. */
  static build(json: Uint8Array, tocOffset: number): TocView {
    let doc: { version?: unknown; entries?: unknown };
    try {
      doc = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
    } catch (err) {
      throw new TocFailure(`TOC is not valid JSON: ${(err as Error).message}`);
    }
    if (!doc || typeof doc !== "object") throw new TocFailure("TOC is not a JSON object");
    if (doc.version !== 1) throw new TocFailure(`TOC version ${JSON.stringify(doc.version)}, expected 1`);
    if (!Array.isArray(doc.entries)) throw new TocFailure(`TOC has no "entries" array`);
    const v = new TocView();
    const byName = new Map<string, number>();
    let last = -1; // node of the last reg entry, for chunk entries
    (doc.entries as RawEntry[]).forEach((e, i) => {
      if (!e || typeof e !== "object") throw new TocFailure(`entry ${i} is not an object`, i);
      if (typeof e.name !== "string") throw new TocFailure(`entry ${i}: no name`, i);
      const type = typeof e.type === "string" ? TYPES[e.type] : undefined;
      if (!type) throw new TocFailure(`entry ${i} ${JSON.stringify(e.name)}: unknown type ${JSON.stringify(e.type)}`, i);
      if (e.name.split("/").includes("..")) throw new TocFailure(`entry ${i}: name ${JSON.stringify(e.name)} contains ".."`, i);
      const name = cleanEntryName(e.name);
      const offset = int(e.offset, "offset", i);
      if (offset >= tocOffset && (type === T_REG || type === T_CHUNK) && e.offset !== undefined) {
        throw new TocFailure(`entry ${i} ${JSON.stringify(name)}: offset ${offset} is not before the TOC at ${tocOffset}`, i);
      }
      const chunk = (): Chunk => ({
        offset, innerOffset: int(e.innerOffset, "innerOffset", i), chunkOffset: int(e.chunkOffset, "chunkOffset", i),
        chunkSize: int(e.chunkSize, "chunkSize", i), digest: digestBytes(e.chunkDigest, "chunkDigest", i), compressedEnd: -1,
      });
      v.entryTypes.push(type);
      if (type === T_CHUNK) {
        const n = last >= 0 ? v.nodes[last] : undefined;
        if (!n || n.name !== name) throw new TocFailure(`entry ${i}: chunk of ${JSON.stringify(name)} does not follow that file's entry`, i);
        const c = chunk();
        const prev = n.chunks[n.chunks.length - 1];
        if (c.chunkOffset !== prev.chunkOffset + prev.chunkSize) {
          throw new TocFailure(`entry ${i}: chunk of ${JSON.stringify(name)} at chunkOffset ${c.chunkOffset}, expected ${prev.chunkOffset + prev.chunkSize}`, i);
        }
        n.chunks.push(c);
        v.entryNodes.push(last);
        v.entryChunks.push(n.chunks.length - 1);
        return;
      }
      const node: Node = {
        name, type, size: type === T_REG ? int(e.size, "size", i) : 0,
        linkName: typeof e.linkName === "string" ? e.linkName : "", mode: int(e.mode, "mode", i),
        uid: int(e.uid, "uid", i), gid: int(e.gid, "gid", i), digest: digestBytes(e.digest, "digest", i), chunks: [], shadowed: false,
      };
      const id = v.nodes.length;
      const dup = byName.get(name);
      if (dup !== undefined) v.nodes[dup].shadowed = true;
      byName.set(name, id);
      v.nodes.push(node);
      v.entryNodes.push(id);
      if (type === T_REG && node.size > 0) {
        const c = chunk();
        if (c.chunkOffset !== 0) throw new TocFailure(`entry ${i} ${JSON.stringify(name)}: first chunk at chunkOffset ${c.chunkOffset}`, i);
        node.chunks.push(c);
        v.entryChunks.push(0);
      } else v.entryChunks.push(-1);
      last = type === T_REG ? id : -1;
      if (name === ".prefetch.landmark") v.landmark = v.landmark === 0 ? 1 : v.landmark;
      if (name === ".no.prefetch.landmark") v.landmark = 2;
    });
    // resolve sizes (0 = to the end) and check they add up; compressedEnd = next distinct member offset
    const offsets = new Set<number>();
    for (const n of v.nodes) {
      n.chunks.forEach((c, k) => {
        const isLast = k === n.chunks.length - 1;
        if (c.chunkSize === 0) {
          if (!isLast) throw new TocFailure(`${JSON.stringify(n.name)} chunk ${k}: chunkSize 0 before the last chunk`);
          c.chunkSize = n.size - c.chunkOffset;
        }
        if (c.chunkSize <= 0 || c.chunkOffset + c.chunkSize > n.size) {
          throw new TocFailure(`${JSON.stringify(n.name)} chunk ${k}: [${c.chunkOffset}, +${c.chunkSize}) does not fit the file size ${n.size}`);
        }
        if (isLast && c.chunkOffset + c.chunkSize !== n.size) {
          throw new TocFailure(`${JSON.stringify(n.name)}: chunks cover ${c.chunkOffset + c.chunkSize} bytes, file size is ${n.size}`);
        }
        offsets.add(c.offset);
      });
    }
    const sorted = [...offsets, tocOffset].sort((a, b) => a - b);
    for (const n of v.nodes) for (const c of n.chunks) {
      let lo = 0, hi = sorted.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (sorted[mid] > c.offset) hi = mid;
        else lo = mid + 1;
      }
      c.compressedEnd = sorted[lo];
    }
    return v;
  }

  get entryCount(): number { return this.entryTypes.length; }
  entryNode(i: number): number { return this.entryNodes[i]; }
  entryChunk(i: number): number { return this.entryChunks[i]; }
  entryType(i: number): number { return this.entryTypes[i]; }
  get nodeCount(): number { return this.nodes.length; }
  name(id: number): string { return this.nodes[id].name; }
  type(id: number): number { return this.nodes[id].type; }
  typeName(id: number): string { return TYPE_NAMES[this.nodes[id].type]; }
  size(id: number): number { return this.nodes[id].size; }
  linkName(id: number): string { return this.nodes[id].linkName; }
  mode(id: number): number { return this.nodes[id].mode; }
  uid(id: number): number { return this.nodes[id].uid; }
  gid(id: number): number { return this.nodes[id].gid; }
  digest(id: number): Uint8Array | null { return this.nodes[id].digest; }
  isShadowed(id: number): boolean { return this.nodes[id].shadowed; }
  chunkCount(id: number): number { return this.nodes[id].chunks.length; }
  chunkOffset(id: number, k: number): number { return this.nodes[id].chunks[k].chunkOffset; }
  chunkSize(id: number, k: number): number { return this.nodes[id].chunks[k].chunkSize; }
  chunkMemberOffset(id: number, k: number): number { return this.nodes[id].chunks[k].offset; }
  chunkInnerOffset(id: number, k: number): number { return this.nodes[id].chunks[k].innerOffset; }
  chunkCompressedEnd(id: number, k: number): number { return this.nodes[id].chunks[k].compressedEnd; }
  chunkDigest(id: number, k: number): Uint8Array | null { return this.nodes[id].chunks[k].digest; }
  dispose(): void {}
}
