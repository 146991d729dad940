// The decompressed stream, read once (the inflate worker hashes it for the diffID): for an eStargz layer the tar
// walked entry by entry against the TOC — same names in the same order, same type, size, link, mode and
// owner — with every chunk and every regular file hashed where the tar really has it.
import { createHash, type Hash } from "node:crypto";
import { EStargzError } from "../estargz/errors.js";
import { StreamInput } from "../estargz/tar/input.js";
import { TarReader, type TarEntry } from "../estargz/tar/reader.js";
import { LANDMARK_CONTENTS, NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, TOC_TAR_NAME, cleanEntryName } from "../estargz/toc-json.js";
import type { CheckBook } from "./checks.js";
import { TocType } from "../core/toc.js";
import type { TocView } from "./toc-view.js";

/** What the stream showed, for the checks that also need the member boundaries. */
export interface StreamFacts {
  /** Per TOC node: decompressed offset of its payload in the tar (-1: not seen). */
  payloadOffset?: Float64Array;
  /** Decompressed offset of the TOC's tar header, and the sha256 of the TOC payload in the stream. */
  tocHeaderOffset?: number;
  tocDigestInStream?: string;
  entries: number;
  chunks: number;
  files: number;
  /** The tar walk stopped early (broken tar); the offsets checks then cover what was seen. */
  stopped?: string;
}

const hex = (b: Uint8Array) => "sha256:" + Buffer.from(b).toString("hex");
const PIECE = 1 << 20;

/**
 * Consumes `src` to its end. With a TOC, failures go into `book` (`tar`, `chunks`);
 * `streamBroken()` tells whether the stream ended early because the gzip layer failed (then a tar
 * that ends abruptly is not the tar's fault).
 */
export async function checkStream(
  src: AsyncIterable<Uint8Array>,
  toc: TocView | undefined,
  book: CheckBook,
  streamBroken: () => boolean,
): Promise<StreamFacts> {
  const stream = src[Symbol.asyncIterator]();
  const facts: StreamFacts = { entries: 0, chunks: 0, files: 0 };
  if (toc) {
    try {
      await walkTar(new StreamInput({ [Symbol.asyncIterator]: () => stream }), toc, book, facts);
    } catch (err) {
      if (!(err instanceof EStargzError)) throw err;
      facts.stopped = err.message;
      if (!streamBroken()) book.fail("tar", { detail: `the tar stream is malformed: ${err.message}` });
    }
  }
  while (!(await stream.next()).done); // the rest (after the tar's end blocks, or after a failure): the worker must finish
  return facts;
}

async function walkTar(input: StreamInput, toc: TocView, book: CheckBook, facts: StreamFacts): Promise<void> {
  const tar = new TarReader(input);
  const payloadOffset = new Float64Array(toc.count).fill(-1);
  facts.payloadOffset = payloadOffset;
  let ei = 0; // next TOC entry to match
  const nextEntry = (from: number) => {
    while (from < toc.entryCount && toc.entryType(from) === TocType.chunk) from++;
    return from;
  };
  let sawToc = false;
  for (let e = await tar.next(); e; e = await tar.next()) {
    if (e.name === TOC_TAR_NAME) {
      facts.tocHeaderOffset = e.headerOffset;
      const h = createHash("sha256");
      for (let left = e.size; left > 0; ) {
        const n = Math.min(left, PIECE);
        h.update(await tar.readPayload(n));
        left -= n;
      }
      facts.tocDigestInStream = "sha256:" + h.digest("hex");
      sawToc = true;
      continue;
    }
    facts.entries++;
    if (sawToc) book.fail("tar", { detail: `tar entry ${JSON.stringify(e.name)} comes after ${TOC_TAR_NAME}, which must be the last entry`, where: { tarOffset: e.headerOffset } });
    const name = cleanEntryName(e.name);
    if (e.name.split("/").includes("..")) {
      book.fail("tar", { detail: `tar entry name ${JSON.stringify(e.name)} contains ".."`, where: { tarOffset: e.headerOffset } });
    }
    ei = nextEntry(ei);
    let node = -1;
    if (ei < toc.entryCount && toc.name(toc.entryNode(ei)) === name) {
      node = toc.entryNode(ei);
    } else {
      // out of order: find it further on (the TOC entries skipped are missing from the tar) or report it absent
      let j = nextEntry(ei + 1);
      while (j < toc.entryCount && toc.name(toc.entryNode(j)) !== name) j = nextEntry(j + 1);
      if (j < toc.entryCount) {
        for (let k = ei; k < j; k = nextEntry(k + 1)) {
          book.fail("tar", { detail: `TOC entry ${JSON.stringify(toc.name(toc.entryNode(k)))} is not in the tar where the TOC order puts it`, where: { entry: k } });
        }
        ei = j;
        node = toc.entryNode(ei);
      } else {
        book.fail("tar", {
          detail: `tar entry ${JSON.stringify(name)} is not in the TOC` + (ei < toc.entryCount ? ` (next TOC entry: ${JSON.stringify(toc.name(toc.entryNode(ei)))})` : ""),
          where: { tarOffset: e.headerOffset },
        });
      }
    }
    if (node >= 0) {
      compareEntry(e, name, node, ei, toc, book);
      ei++;
    }
    if (e.type === "reg") await hashFile(tar, e, node, toc, book, facts, payloadOffset);
  }
  for (let k = nextEntry(ei); k < toc.entryCount; k = nextEntry(k + 1)) {
    book.fail("tar", { detail: `TOC entry ${JSON.stringify(toc.name(toc.entryNode(k)))} is not in the tar`, where: { entry: k } });
  }
  if (!sawToc) book.fail("tar", { detail: `the tar stream has no ${TOC_TAR_NAME} entry` });
}

function compareEntry(e: TarEntry, name: string, node: number, entry: number, toc: TocView, book: CheckBook): void {
  const where = { file: name, entry, tarOffset: e.headerOffset };
  const diff = (field: string, tocValue: string | number, tarValue: string | number) =>
    book.fail("tar", { detail: `${field} differs between the TOC and the tar`, expected: `${tocValue} (TOC)`, actual: `${tarValue} (tar)`, where });
  if (toc.typeName(node) !== e.type) return diff("type", toc.typeName(node), e.type);
  if (e.type === "reg" && toc.size(node) !== e.size) diff("size", toc.size(node), e.size);
  if ((e.type === "symlink" || e.type === "hardlink") && toc.linkName(node) !== e.linkName) diff("linkName", toc.linkName(node), e.linkName);
  if (toc.mode(node) !== e.mode) diff("mode", "0" + toc.mode(node).toString(8), "0" + e.mode.toString(8));
  if (toc.uid(node) !== e.uid) diff("uid", toc.uid(node), e.uid);
  if (toc.gid(node) !== e.gid) diff("gid", toc.gid(node), e.gid);
}

/** Hashes a regular file's payload chunk by chunk (the TOC's chunks when the sizes agree) and compares. */
async function hashFile(
  tar: TarReader, e: TarEntry, node: number, toc: TocView, book: CheckBook, facts: StreamFacts, payloadOffset: Float64Array,
): Promise<void> {
  const name = cleanEntryName(e.name);
  const known = node >= 0 && toc.type(node) === TocType.reg && toc.size(node) === e.size;
  if (node >= 0) payloadOffset[node] = e.payloadOffset;
  const chunks = known ? toc.chunkCount(node) : 0;
  const file: Hash = createHash("sha256");
  const hashWhole = chunks !== 1; // one chunk: its digest is the file's too
  let first = -1;
  let single: Buffer | undefined;
  if (chunks === 0) {
    await readInto(tar, e.size, [file], (b) => (first < 0 && b.length ? (first = b[0]) : 0));
  } else {
    for (let k = 0; k < chunks; k++) {
      const size = toc.chunkSize(node, k);
      const h = createHash("sha256");
      await readInto(tar, size, hashWhole ? [h, file] : [h], (b) => (first < 0 && b.length ? (first = b[0]) : 0));
      const actual = h.digest();
      facts.chunks++;
      const want = toc.chunkDigest(node, k);
      const where = { file: name, chunk: k, tarOffset: e.payloadOffset + toc.chunkOffset(node, k), blobOffset: toc.chunkMemberOffset(node, k) };
      if (!want) book.fail("chunks", { detail: `chunk ${k} of ${JSON.stringify(name)} has no chunkDigest in the TOC`, where });
      else if (!Buffer.from(want).equals(actual)) {
        book.fail("chunks", { detail: `chunk ${k} of ${JSON.stringify(name)} does not match its chunkDigest`, expected: hex(want), actual: hex(actual), where });
      }
      if (!hashWhole) single = actual;
    }
  }
  const fileDigest = single ?? file.digest();
  facts.files++;
  if (node < 0) return;
  const want = toc.digest(node);
  if (known) {
    if (!want) {
      if (e.size > 0) book.fail("chunks", { detail: `regular file ${JSON.stringify(name)} has no digest in the TOC`, where: { file: name } });
    } else if (!Buffer.from(want).equals(fileDigest)) {
      book.fail("chunks", { detail: `file ${JSON.stringify(name)} does not match its digest`, expected: hex(want), actual: hex(fileDigest), where: { file: name, tarOffset: e.payloadOffset } });
    }
  }
  if (name === PREFETCH_LANDMARK || name === NO_PREFETCH_LANDMARK) {
    if (e.size !== 1 || first !== LANDMARK_CONTENTS) {
      book.fail("tar", { detail: `landmark ${name} must hold the single byte 0x0f (has ${e.size} bytes${e.size ? `, first 0x${first.toString(16)}` : ""})`, where: { file: name } });
    }
  }
}

async function readInto(tar: TarReader, n: number, hashes: Hash[], peek: (b: Uint8Array) => unknown): Promise<void> {
  for (let left = n; left > 0; ) {
    const k = Math.min(left, PIECE);
    const b = await tar.readPayload(k);
    for (const h of hashes) h.update(b);
    peek(b);
    left -= k;
  }
}
