// Errors of the format layer. Every rejection of a blob is an EStargzError whose message names the
// blob (its source name) and what was wrong, expected vs actual where that applies.

/** What went wrong, machine-readable, so callers (verify, the FUSE store) can map it to EIO etc. */
export type EStargzErrorCode =
  | "footer" // no valid eStargz/legacy footer, or it points outside the blob
  | "toc" // the TOC member is malformed (gzip, tar, JSON, version, entries)
  | "toc-digest" // the TOC's sha256 differs from the expected digest
  | "chunk" // a chunk failed to inflate, had the wrong size or the wrong digest
  | "file-digest" // a whole file's content does not hash to its `digest`
  | "range" // a read outside a file or a source
  | "io" // the source failed or returned fewer bytes than asked
  | "tar" // the writer's input tar is malformed
  | "limit"; // a size limit meant to stop memory exhaustion was hit

export class EStargzError extends Error {
  constructor(
    readonly code: EStargzErrorCode,
    message: string,
    readonly blob?: string,
  ) {
    super(blob ? `${blob}: ${message}` : message);
    this.name = "EStargzError";
  }
}
