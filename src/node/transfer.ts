// What may go in a postMessage transfer list (the pool and its workers both send with it).
import type { Transferable } from "node:worker_threads";

/**
 * The transfer list without empty ArrayBuffers. Node 20 drops a message whose transfer list holds a
 * detached buffer (byteLength 0) without a word: no throw, nothing received, and the task's worker
 * would wait for it forever. Left out of the list, a detached buffer the message still refers to
 * makes postMessage throw ("detached and could not be cloned"), and an empty one is copied for free.
 */
export function sendable(transfer: readonly Transferable[]): Transferable[] {
  return transfer.filter((t) => !(t instanceof ArrayBuffer && t.byteLength === 0));
}
