// The TOC as verify reads it: the core's TocIndex (entries in TOC order, per file its chunk list, names
// cleaned, chunk sizes resolved and checked to add up, duplicates marked shadowed), built from the TOC
// JSON bytes; a malformed TOC becomes a TocFailure naming what and where.
import { CoreError, CoreFailure } from "../core/wasm.js";
import { TocIndex } from "../core/toc.js";
import { nodeCore } from "../node/core.js";

export type TocView = TocIndex;

/** A malformed TOC: what, and the byte of the JSON where it was found. */
export class TocFailure extends Error {
  constructor(message: string, readonly position = -1) {
    super(message);
    this.name = "TocFailure";
  }
}

/** Builds the index in this thread's core; the caller disposes it. `tocOffset` bounds member offsets. */
export function buildToc(json: Uint8Array, tocOffset: number): TocView {
  try {
    return TocIndex.build(nodeCore(), json, { tocOffset });
  } catch (err) {
    if (err instanceof CoreError) throw new TocFailure(err.message, err.position);
    // resources, not a malformed TOC (the next buildToc gets a fresh instance: see nodeCore)
    if (err instanceof CoreFailure) throw new TocFailure(`the core could not index this TOC: ${err.reason}`);
    throw err;
  }
}
