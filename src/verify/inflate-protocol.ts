// Messages between the main thread and the inflate worker (inflate-worker.ts). Every message carries
// the pass number, so late messages of a finished (or failed) pass are told apart from the next one's.
import type { MemberBoundary } from "./members.js";

/** Decompressed bytes per message. */
export const BATCH = 1 << 20;
/** Unprocessed decompressed bytes the worker may have outstanding before it waits. */
export const OUTPUT_LIMIT = 16 << 20;
/** Compressed bytes the main thread may have sent but the worker not yet consumed. */
export const INPUT_LIMIT = 8 << 20;

export type ToInflater =
  | { type: "init"; pass: number; start: number; pending: SharedArrayBuffer; hashDiffId: boolean }
  | { type: "data"; pass: number; bytes: Uint8Array }
  | { type: "end"; pass: number };

export type FromInflater =
  | { type: "out"; pass: number; bytes: Uint8Array; members: MemberBoundary[] }
  | { type: "consumed"; pass: number; n: number }
  | { type: "error"; pass: number; message: string; position: number }
  | { type: "done"; pass: number; diffId?: string; size: number };
