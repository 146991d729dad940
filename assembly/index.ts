// The esgz-fast WebAssembly core: the single entry compiled by asc (see asconfig.json).
// Each concern lives in its own module and is re-exported here; the TypeScript side
// (src/core/) is the only caller and talks to these exports through raw pointers.
export * from "./mem";
