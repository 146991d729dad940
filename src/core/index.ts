// esgz-fast/core: the embeddable Wasm core (Node, browsers, Deno, workers). No `node:` imports.
export { Core, CoreError, CoreFailure, CoreSlot, CORE_KEEP_BYTES, loadCore, loadCoreSync } from "./wasm.js";
export type { CoreDrop, CoreExports, CoreSource } from "./wasm.js";
export * from "./inflate.js";
export { MAX_BLOCK_SIZE, WasmBuffer } from "./buffer.js";
export * from "./crc32.js";
export * from "./sha256.js";
export * from "./chunk.js";
export * from "./toc.js";
