// The writer's last step before its TOC goes out: the TOC is indexed by the core the readers use (the
// store, `verify`), so a tar no reader could serve — a file under a symlink or under a file, a
// hardlink to a missing target or to a directory, a name the index refuses — ends the conversion
// with that tar entry's name instead of becoming a layer every reader rejects. The index is the one
// definition of what a TOC may hold; this module only names the entry it stopped at.
import { TocErrorCode, TocIndex, tocErrorText } from "../core/toc.js";
import { CoreError } from "../core/wasm.js";
import { nodeCore } from "../node/core.js";
import { EStargzError } from "./errors.js";
import { cleanEntryName, type TocEntryJson } from "./toc-json.js";

/** How the writer lays out each TOC entry (toc-json.ts): the only place these bytes start a line. */
const ENTRY_START = Buffer.from("\n\t\t{\n");

/** Index in `entries` of the entry whose JSON holds byte `pos` of `text`, or -1. */
function entryAt(text: Uint8Array, pos: number): number {
  const buf = Buffer.from(text.buffer, text.byteOffset, text.length);
  let k = -1;
  for (let at = buf.indexOf(ENTRY_START); at >= 0 && at < pos; at = buf.indexOf(ENTRY_START, at + 1)) k++;
  return k;
}

const KIND: Record<string, string> = { reg: "regular file", char: "character device", block: "block device" };

/** Why `entry` broke the index, beyond the index's own words: which parent, which link target. */
function detail(code: number, entry: TocEntryJson, entries: TocEntryJson[]): string {
  if (entry.type === "hardlink" && code !== TocErrorCode.parent) return ` (hardlink to ${JSON.stringify(entry.linkName ?? "")})`;
  if (code !== TocErrorCode.parent) return "";
  const parts = cleanEntryName(entry.name).split("/");
  const latest = new Map<string, TocEntryJson>(); // by cleaned name: the last entry wins, as in the index
  for (const e of entries) if (e.type !== "chunk") latest.set(cleanEntryName(e.name), e);
  for (let n = parts.length - 1; n > 0; n--) {
    const holder = latest.get(parts.slice(0, n).join("/"));
    if (holder && holder.type !== "dir") return ` (${JSON.stringify(holder.name)} is a ${KIND[holder.type] ?? holder.type}, not a directory)`;
  }
  return "";
}

/**
 * Throws an EStargzError("tar") naming the tar entry if `text` (the TOC JSON the writer made from
 * `entries`, in that order) is not a TOC the readers' index accepts.
 */
export function checkWrittenToc(text: Uint8Array, tocOffset: number, entries: TocEntryJson[]): void {
  let index: TocIndex;
  try {
    index = TocIndex.build(nodeCore(), text, { tocOffset });
  } catch (err) {
    if (!(err instanceof CoreError)) throw err;
    const entry = entries[entryAt(text, err.position)];
    if (!entry) throw new EStargzError("tar", `the TOC made from this tar is not valid: ${err.message}`);
    throw new EStargzError(
      "tar",
      `tar entry ${JSON.stringify(entry.name)}: ${tocErrorText(err.code)}${detail(err.code, entry, entries)}; ` +
        "refused: no eStargz reader could serve the layer",
    );
  }
  index.dispose();
}
