// npm run bench:format — the eStargz format layer: convert speed vs gzip -9, random reads through the
// reader vs node:zlib + node:crypto doing the same chunk work, measured in one process.
import { run as convert } from "./format/convert.js";
import { run as reads } from "./format/reads.js";

await convert();
await reads();
