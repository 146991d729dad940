// TOC index: eStargz TOC JSON bytes ({"version":1,"entries":[...]}) → the binary index of
// toc/layout.ts, in one pass over the bytes plus passes over the nodes; these are the exports the
// host (src/core/toc.ts) calls. The stages, each in toc/: parse.ts reads the JSON (primitives in
// scan.ts), build.ts commits each entry into the tables (tree.ts: paths and parents, intern.ts:
// attributes and owners, tables.ts: growth), finish.ts completes and hands over the index, query.ts
// answers lookups in a finished one. The whole state of a build is in state.ts.
import { failed, errorCode, errorAt, resetError } from "./toc/errors";
import { PAD, setInputEnd } from "./toc/scan";
import { Header } from "./toc/layout";
import { B, resetBuild, freeAll } from "./toc/state";
import { makeRoot } from "./toc/tree";
import { parseDocument } from "./toc/parse";
import { completeTree, handOver } from "./toc/finish";
import { lookupPath, parentOf, freeIndex } from "./toc/query";

/** Allocates an input buffer for `len` JSON bytes (plus the zero padding the scanner relies on). */
export function toc_input(len: usize): usize {
  return heap.alloc(len + PAD);
}

/**
 * Builds the index of the JSON at [input, input+len) (a toc_input buffer). tocOffset: blob offset of
 * the TOC member, or negative if unknown. Returns the index header, or 0 with toc_error_code/pos set.
 */
export function toc_build(input: usize, len: usize, tocOffset: f64): usize {
  resetError();
  memory.fill(input + len, 0, PAD);
  setInputEnd(input + len);
  resetBuild(input, len);
  makeRoot();
  parseDocument(input);
  if (failed() || !completeTree(tocOffset)) {
    freeAll();
    return 0;
  }
  return handOver();
}

export function toc_error_code(): i32 {
  return errorCode();
}

/** Byte offset in the JSON of the last build error. */
export function toc_error_pos(): usize {
  return errorAt() - B.input;
}

/** Frees an index and all its tables. */
export function toc_free(hdr: usize): void {
  if (hdr != 0) freeIndex(changetype<Header>(hdr));
}

/**
 * Looks up the path whose UTF-8 bytes the host wrote to the index's scratch buffer (len bytes);
 * cleans it like TOC names. Returns the node id, or -1 if absent or escaping the root.
 */
export function toc_lookup(hdr: usize, len: usize): i32 {
  return lookupPath(changetype<Header>(hdr), len);
}

/** The parent directory of node id (root → 0). */
export function toc_parent(hdr: usize, id: u32): i32 {
  return parentOf(changetype<Header>(hdr), id);
}
