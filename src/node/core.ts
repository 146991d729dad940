// Node-only: finds build/core.wasm beside the package and instantiates it once per thread.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Core, CoreSlot, loadCoreSync, type CoreDrop } from "../core/wasm.js";

/**
 * build/core.wasm (or core.debug.wasm) of this package, through the package's own export map: this
 * module runs from dist/src/node and, bundled, from dist/bundle, so no path relative to it holds for both.
 */
export const wasmPath = (variant: "release" | "debug" = defaultVariant()): string =>
  fileURLToPath(import.meta.resolve(variant === "debug" ? "esgz-fast/core.debug.wasm" : "esgz-fast/core.wasm"));

function defaultVariant(): "release" | "debug" {
  return process.env.ESGZ_CORE === "debug" ? "debug" : "release";
}

let compiled: WebAssembly.Module | undefined;
const thread = new CoreSlot(() => loadCoreSync(coreModule()));

/** The compiled module (cached), for handing to worker threads without recompiling. */
export function coreModule(): WebAssembly.Module {
  return (compiled ??= new WebAssembly.Module(readFileSync(wasmPath())));
}

/**
 * Compiles the module without blocking the thread (read and compile off the event loop), so that
 * a later `coreModule()` / `nodeCore()` finds it compiled: the store calls this at start-up.
 */
export async function compileCoreModule(): Promise<WebAssembly.Module> {
  if (compiled) return compiled;
  const mod = await WebAssembly.compile(await readFile(wasmPath()));
  return (compiled ??= mod);
}

/**
 * This thread's core instance, created on first use, and made again after one failed (a trap or an
 * abort: see `Core`). Objects made on a failed instance throw `CoreFailure`; make them again.
 */
export function nodeCore(): Core {
  return thread.get();
}

/**
 * After a task on `nodeCore()`: lets the instance go if it failed or grew past `CORE_KEEP_BYTES`
 * (the next `nodeCore()` is a fresh one; objects still holding the old one keep it until dropped).
 */
export function settleNodeCore(): CoreDrop | undefined {
  return thread.settle();
}

/**
 * A fresh, independent instance with its own memory, freed once the instance is collected: one per
 * layer's TOC index in the store (a Wasm memory never shrinks), or a test that must not share state.
 * Instantiating the compiled module costs ~0.1 ms and 256 KiB of memory.
 */
export function newNodeCore(): Core {
  return loadCoreSync(coreModule());
}
