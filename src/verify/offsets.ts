// The TOC's blob offsets against the real gzip members: every chunk's (offset, innerOffset) must land
// where the tar has that chunk, inside the member range a lazy reader fetches for it; the footer's TOC
// offset must be the member holding the TOC's tar header; the footer must be the last member.
import type { Footer } from "../estargz/footer.js";
import type { CheckBook } from "./checks.js";
import type { MemberTable } from "./member-table.js";
import type { StreamFacts } from "./tar-check.js";
import type { TocView } from "./toc-view.js";

export function checkOffsets(toc: TocView, members: MemberTable, facts: StreamFacts, book: CheckBook): void {
  const seen = facts.payloadOffset;
  if (!seen) return;
  for (let id = 0; id < toc.count; id++) {
    const payload = seen[id];
    if (payload < 0) continue; // not in the tar: reported by the tar walk
    const name = toc.name(id);
    for (let k = 0; k < toc.chunkCount(id); k++) {
      const off = toc.chunkMemberOffset(id, k), inner = toc.chunkInnerOffset(id, k);
      const where = { file: name, chunk: k, blobOffset: off };
      const m = members.startingAt(off);
      if (!m) {
        book.fail("tar", { detail: `chunk ${k} of ${JSON.stringify(name)}: the TOC offset ${off} is not the start of a gzip member`, where });
        continue;
      }
      const tarAt = payload + toc.chunkOffset(id, k);
      if (m.dStart + inner !== tarAt) {
        book.fail("tar", {
          detail: `chunk ${k} of ${JSON.stringify(name)}: the TOC's offset ${off} + innerOffset ${inner} is not where the tar has the chunk`,
          expected: `decompressed offset ${tarAt} (the tar)`,
          actual: `decompressed offset ${m.dStart + inner} (the member at ${off} starts at ${m.dStart})`,
          where,
        });
        continue;
      }
      const end = members.startingAt(toc.chunkCompressedEnd(id, k));
      const limit = end ? end.dStart : m.dEnd;
      if (tarAt + toc.chunkSize(id, k) > limit) {
        book.fail("tar", {
          detail: `chunk ${k} of ${JSON.stringify(name)} runs past the members [${off}, ${toc.chunkCompressedEnd(id, k)}) a reader fetches for it`,
          where,
        });
      }
    }
  }
}

/** The footer's claims against the stream: TOC member start, TOC header position, footer last. */
export function checkFooterPlacement(footer: Footer, blobSize: number, members: MemberTable, facts: StreamFacts, book: CheckBook): void {
  const tocMember = members.startingAt(footer.tocOffset);
  if (!tocMember) {
    book.fail("footer", { detail: `the footer's TOC offset ${footer.tocOffset} is not the start of a gzip member`, where: { blobOffset: footer.tocOffset } });
  } else if (facts.tocHeaderOffset !== undefined && facts.tocHeaderOffset !== tocMember.dStart) {
    book.fail("footer", {
      detail: `the member at the footer's TOC offset ${footer.tocOffset} does not start with the TOC's tar header`,
      expected: `decompressed offset ${tocMember.dStart}`,
      actual: `decompressed offset ${facts.tocHeaderOffset}`,
    });
  }
  const last = members.last();
  const start = blobSize - footer.size;
  if (!last || last.cStart !== start || last.cEnd !== blobSize || last.dEnd !== last.dStart) {
    book.fail("footer", {
      detail: `the last gzip member is not the ${footer.size}-byte footer`,
      expected: `an empty member at [${start}, ${blobSize})`,
      actual: last ? `[${last.cStart}, ${last.cEnd}) holding ${last.dEnd - last.dStart} bytes` : "no member",
    });
  }
}
