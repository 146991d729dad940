// The operations a CorePool worker runs. Each takes the worker's core and plain, structured-clonable
// arguments, and returns its result plus the buffers to transfer back (never copy back).
import { createHash } from "node:crypto";
import type { Transferable } from "node:worker_threads";
import type { Core } from "../core/wasm.js";

interface Out<R> {
  result: R;
  transfer?: Transferable[];
}

export const ops = {
  /** sha256 of `data`, hex. */
  sha256(_core: Core, args: { data: Uint8Array }): Out<string> {
    return { result: createHash("sha256").update(args.data).digest("hex") };
  },
} satisfies Record<string, (core: Core, args: never) => Out<unknown>>;

export type OpName = keyof typeof ops;
export type OpArgs<K extends OpName> = Parameters<(typeof ops)[K]>[1];
export type OpResult<K extends OpName> = ReturnType<(typeof ops)[K]>["result"];
