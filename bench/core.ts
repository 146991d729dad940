// npm run bench:core — the Wasm core against node:zlib, fflate and node:crypto, measured in one process.
import { run as inflate } from "./core/inflate.js";
import { run as sha256 } from "./core/sha256.js";
import { run as chunk } from "./core/chunk.js";
import { run as toc } from "./core/toc.js";

for (const section of [inflate, sha256, chunk, toc]) await section();
