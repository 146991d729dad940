// The version of esgz-fast: package.json's, read once (the one place it is written down).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** e.g. "0.1.0". Found through the package's own export map, from dist/src and from the bundle alike. */
export const VERSION: string = (JSON.parse(readFileSync(fileURLToPath(import.meta.resolve("esgz-fast/package.json")), "utf8")) as { version: string }).version;
