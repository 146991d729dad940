// The esgz-fast WebAssembly core: the single entry compiled by asc (see asconfig.json).
// Each concern lives in its own module and is re-exported here; the TypeScript side
// (src/core/) is the only caller and talks to these exports through raw pointers.
// Export names are prefixed by concern (inflate_*, crc32_*, sha256_*, chunk_*, toc_*).
export * from "./mem";
export * from "./crc32";
export * from "./inflate";
export * from "./sha256";
export * from "./chunk";
export * from "./toc";
