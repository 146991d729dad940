// Verifies one layer: the tail read (footer, TOC), then the one sequential pass, then the checks that
// need both (offsets against member boundaries). Each check ends pass, fail (first failure explained)
// or skip (why). I/O errors end the layer with `ioError`; nothing is thrown for bad bytes.
import { createHash } from "node:crypto";
import { parseFooter } from "../estargz/footer.js";
import { CheckBook, type LayerKind, type LayerReport } from "./checks.js";
import type { MemberTable } from "./member-table.js";
import { checkFooterPlacement, checkOffsets } from "./offsets.js";
import { diffIdOnMainThread } from "./balance.js";
import { inflatesHere, runPass, warmInflateWorker, type PassResult } from "./pass.js";
import { readTail, type Tail } from "./tail.js";
import { checkStream, type StreamFacts } from "./tar-check.js";
import { isGzipMediaType, type LayerBlob, type LayerTarget } from "./target.js";

export interface LayerOptions {
  onProgress?: (bytesRead: number, total: number) => void;
}

export async function verifyLayer(target: LayerTarget, opts: LayerOptions = {}): Promise<LayerReport> {
  const t0 = performance.now();
  const book = new CheckBook();
  const report: LayerReport = { label: target.label, index: target.index, kind: "unknown", checks: book.checks, actual: {} };
  let blob: LayerBlob;
  try {
    blob = await target.open();
  } catch (err) {
    report.ioError = (err as Error).message;
    return report;
  }
  try {
    await check(blob, target, book, report, opts);
  } catch (err) {
    report.ioError = (err as Error).message;
  } finally {
    await blob.close().catch(() => {});
  }
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}

async function check(blob: LayerBlob, target: LayerTarget, book: CheckBook, report: LayerReport, opts: LayerOptions): Promise<void> {
  const ex = target.expect;
  const progress = (n: number) => opts.onProgress?.(n, blob.size);
  if (!isGzipMediaType(ex.mediaType)) {
    const why = `media type ${ex.mediaType} is not a gzip layer`;
    for (const c of ["gzip", "footer", "toc", "tocDigest", "chunks", "tar", "diffId", "size"] as const) book.skip(c, why);
    const h = createHash("sha256");
    let n = 0;
    for await (const b of blob.stream(0, blob.size)) h.update(b), (n += b.length), progress(n);
    checkDigest("sha256:" + h.digest("hex"), n, blob.size, target, book, report);
    return;
  }

  // The worker starts while the tail (footer, TOC) is read; the TOC says how to share the work.
  const inline = inflatesHere(blob.size);
  if (!inline) warmInflateWorker();
  const tailRead = readTail(blob);
  tailRead.catch(() => {}); // rethrown below
  try {
    const tail = await tailRead;
    const pass = await runPass(blob, (stream, gzipFailed) => checkStream(stream, tail.toc, book, gzipFailed), progress, {
      diffIdOnMainThread: !inline && diffIdOnMainThread(tail.toc, blob.size), // inline: all on this thread anyway
    });
    await checkWithTail(blob, await tailRead, pass, target, book, report);
  } finally {
    await tailRead.then((t) => t.toc?.dispose(), () => {}); // the index lives in Wasm memory
  }
}

async function checkWithTail(
  blob: LayerBlob, tail: Tail, pass: PassResult<StreamFacts>, target: LayerTarget, book: CheckBook, report: LayerReport,
): Promise<void> {
  const ex = target.expect;
  const estargz = tail.footer !== undefined || ex.tocDigest !== undefined;
  report.kind = tail.footer ? (tail.footer.legacy ? "stargz-legacy" : "estargz") : estargz ? "estargz" : "gzip";
  if (!estargz) {
    for (const c of ["footer", "toc", "tocDigest", "chunks", "tar"] as const) book.skip(c, "plain gzip layer (no eStargz footer)");
  } else {
    tocChecks(tail, ex.tocDigest, book, report);
  }

  const toc = tail.toc;
  if (pass.ioError) {
    report.ioError = pass.ioError;
    return;
  }
  const facts = pass.consumed!;
  checkDigest(pass.digest!, pass.bytesRead, blob.size, target, book, report);
  report.actual.members = pass.members.count;

  if (pass.gzipError) {
    book.fail("gzip", { detail: await gzipFailureText(blob, pass.gzipError, pass.members), where: { blobOffset: pass.gzipError.position } });
    const why = `not reached: the gzip stream is broken at blob offset ${pass.gzipError.position}`;
    for (const c of ["chunks", "tar", "diffId", "size"] as const) if (book.checks[c].status !== "fail") book.skip(c, why);
    if (tail.footer && !book.failed("footer")) book.skip("footer", why);
    return;
  }
  if (pass.members.count === 0) {
    book.fail("gzip", { detail: "the blob holds no gzip member (empty)", where: { blobOffset: 0 } });
    for (const c of ["chunks", "tar", "diffId", "size"] as const) if (book.checks[c].status !== "fail") book.skip(c, "not reached: no gzip stream");
    return;
  }
  book.pass("gzip", `${pass.members.count} members, CRC-32 and ISIZE of each`);

  const diffId = pass.diffId!, size = pass.uncompressedSize!;
  report.actual.diffId = diffId;
  report.actual.uncompressedSize = size;
  compare(book, "diffId", ex.diffId, diffId, "no diffID given", "the decompressed stream's sha256 differs from the diffID");
  compare(book, "size", ex.uncompressedSize, size, "no uncompressed size given", "the decompressed size differs from the uncompressed-size annotation");

  if (!estargz) return;
  if (tail.footer) {
    checkFooterPlacement(tail.footer, blob.size, pass.members, facts, book);
    book.pass("footer", `${tail.footer.legacy ? "legacy " : ""}footer, TOC at ${tail.footer.tocOffset}`);
  }
  if (toc) {
    if (facts.tocDigestInStream !== undefined && facts.tocDigestInStream !== tail.tocDigest) {
      book.fail("toc", { detail: "the TOC in the tar stream differs from the one the footer points at", expected: tail.tocDigest, actual: facts.tocDigestInStream });
    }
    checkOffsets(toc, pass.members, facts, book);
    report.actual.entries = facts.entries;
    report.actual.chunks = facts.chunks;
    report.actual.files = facts.files;
    book.pass("chunks", `${facts.chunks} chunks, ${facts.files} files`);
    book.pass("tar", `${facts.entries} entries, offsets of ${facts.chunks} chunks`);
  } else {
    const why = "no usable TOC";
    book.skip("chunks", why);
    book.skip("tar", why);
  }
}

function tocChecks(tail: Tail, expected: string | undefined, book: CheckBook, report: LayerReport): void {
  if (tail.footerError) {
    book.fail("footer", { detail: tail.footerError });
    for (const c of ["toc", "tocDigest", "chunks", "tar"] as const) book.skip(c, "no TOC: the footer failed");
    return;
  }
  report.actual.tocOffset = tail.footer!.tocOffset;
  if (tail.tocDigest) {
    report.actual.tocDigest = tail.tocDigest;
    compare(book, "tocDigest", expected, tail.tocDigest, "no toc.digest annotation given", "the TOC's sha256 differs from the toc.digest annotation");
  } else book.skip("tocDigest", "no TOC read");
  if (tail.tocError) {
    book.fail("toc", { detail: tail.tocError.message });
    return;
  }
  const toc = tail.toc!;
  for (let id = 0; id < toc.count; id++) {
    // an implicit parent (made for an earlier "d/f") replaced by the entry "d/" is no duplicate
    if (toc.isShadowed(id) && !toc.isImplicit(id)) book.fail("toc", { detail: `duplicate name ${JSON.stringify(toc.name(id))} in the TOC`, where: { file: toc.name(id) } });
  }
  book.pass("toc", `${toc.entryCount} entries, version 1`);
}

function checkDigest(digest: string, bytes: number, size: number, target: LayerTarget, book: CheckBook, report: LayerReport): void {
  const ex = target.expect;
  report.actual.digest = digest;
  report.actual.size = bytes;
  if (ex.size !== undefined && ex.size !== size) {
    book.fail("digest", { detail: "the blob's size differs from the descriptor's", expected: `${ex.size} bytes`, actual: `${size} bytes` });
  }
  compare(book, "digest", ex.digest, digest, "no digest given", "the blob's sha256 differs from the descriptor's digest");
}

function compare(book: CheckBook, name: "digest" | "tocDigest" | "diffId" | "size", expected: string | number | undefined, actual: string | number, skipWhy: string, failWhy: string): void {
  if (expected === undefined) return book.skip(name, `${skipWhy} (actual ${actual})`);
  if (expected !== actual) return book.fail(name, { detail: failWhy, expected: String(expected), actual: String(actual) });
  book.pass(name, String(actual));
}

/** A gzip failure in words; bytes after a footer-shaped last member are called what they are. */
async function gzipFailureText(blob: LayerBlob, err: { message: string; position: number }, members: MemberTable): Promise<string> {
  const last = members.last();
  if (last && last.cEnd <= err.position && last.dStart === last.dEnd && (last.cEnd - last.cStart === 51 || last.cEnd - last.cStart === 47)) {
    try {
      const len = last.cEnd - last.cStart;
      parseFooter(await blob.read(last.cStart, len), last.cEnd);
      return `${blob.size - last.cEnd} bytes after the eStargz footer at ${last.cStart}: nothing may follow the footer (${err.message})`;
    } catch {
      /* not a footer: the plain message */
    }
  }
  return err.message;
}
