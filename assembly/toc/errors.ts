// Error codes of the TOC index builder, and the first error of a build with its byte position.
// The TypeScript side mirrors these numbers in src/core/toc.ts (TocErrorCode).

export const E_SYNTAX: i32 = 1; // not JSON: unexpected byte
export const E_EOF: i32 = 2; // JSON ends too early
export const E_STRING: i32 = 3; // control byte or bad escape in a string
export const E_VERSION: i32 = 4; // "version" missing or not 1
export const E_SHAPE: i32 = 5; // not {"version":..,"entries":[{..}..]}
export const E_FIELD: i32 = 6; // a known field holds the wrong kind of value
export const E_NUMBER: i32 = 7; // negative, fractional, > 2^53 or out of the field's range
export const E_TYPE: i32 = 8; // unknown entry "type"
export const E_MISSING: i32 = 9; // entry without "name" or "type"
export const E_ESCAPE: i32 = 10; // name (or hardlink target) escapes the root with ".."
export const E_NAME: i32 = 11; // name holds a NUL byte
export const E_DIGEST: i32 = 12; // digest not "sha256:" + 64 lowercase hex
export const E_TIME: i32 = 13; // modtime not RFC 3339
export const E_BASE64: i32 = 14; // xattr value not base64
export const E_HUGE: i32 = 15; // string longer than its limit
export const E_DEEP: i32 = 16; // JSON nested too deeply
export const E_ROOT: i32 = 17; // the root entry is not a directory
export const E_PARENT: i32 = 18; // a parent path is not a directory
export const E_DIR_REPLACED: i32 = 19; // duplicate name turns a non-empty directory into a non-directory
export const E_CHUNK_ORPHAN: i32 = 20; // chunk entry without a regular file of that name
export const E_CHUNK_ORDER: i32 = 21; // chunk entry not following its file's previous chunk
export const E_CHUNK_SIZES: i32 = 22; // chunk offsets/sizes do not add up to the file size
export const E_LINK_MISSING: i32 = 23; // hardlink to a name not in the TOC
export const E_LINK_LOOP: i32 = 24; // hardlinks forming a loop
export const E_LINK_DIR: i32 = 25; // hardlink to a directory
export const E_OFFSET: i32 = 26; // member offset at or past the TOC offset
export const E_LIMIT: i32 = 27; // too many entries / implicit directories for the input size
export const E_DUP_ENTRIES: i32 = 28; // "entries" appears twice
export const E_TRAILING: i32 = 29; // bytes after the JSON value

let code: i32 = 0;
let where: usize = 0;

/** Records the first error (code, absolute pointer into the input) and returns 0, the "failed" position. */
export function fail(c: i32, at: usize): usize {
  if (code == 0) {
    code = c;
    where = at;
  }
  return 0;
}

/** fail() for functions that return whether they succeeded: records the error, returns false. */
export function reject(c: i32, at: usize): bool {
  fail(c, at);
  return false;
}

export function failed(): bool {
  return code != 0;
}

export function errorCode(): i32 {
  return code;
}

export function errorAt(): usize {
  return where;
}

export function resetError(): void {
  code = 0;
  where = 0;
}
