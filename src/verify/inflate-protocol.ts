// Messages between the main thread and the inflate worker (inflate-worker.ts).
import type { MemberBoundary } from "./members.js";

/** Decompressed bytes per message. */
export const BATCH = 1 << 20;
/** Unprocessed decompressed bytes the worker may have outstanding before it waits. */
export const OUTPUT_LIMIT = 16 << 20;
/** Compressed bytes the main thread may have sent but the worker not yet consumed. */
export const INPUT_LIMIT = 8 << 20;

export type ToInflater =
  | { type: "init"; start: number; pending: SharedArrayBuffer }
  | { type: "data"; bytes: Uint8Array }
  | { type: "end" };

export type FromInflater =
  | { type: "out"; bytes: Uint8Array; members: MemberBoundary[] }
  | { type: "consumed"; n: number }
  | { type: "error"; message: string; position: number }
  | { type: "done" };
