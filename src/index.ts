// esgz-fast for Node programs (`import … from "esgz-fast"`): the Wasm core (also alone, browser-safe,
// as `esgz-fast/core`) plus the Node-side pieces the CLI is made of — the registry client, the
// eStargz reader and writer, conversion and verification.
export * from "./core/index.js";
export { nodeCore, newNodeCore, coreModule, wasmPath } from "./node/core.js";
export * from "./registry/index.js";
export { EStargzReader, type OpenOptions, type ReaderDeps, type TocIndexView } from "./estargz/reader.js";
export { readerDeps } from "./estargz/deps.js";
export * from "./estargz/source.js";
export { writeEStargz, fileSink, DEFAULT_CHUNK_SIZE, DEFAULT_COMPRESSION_LEVEL, type WriterOptions, type WriteResult, type TarInput, type Sink } from "./estargz/writer.js";
export { convertLayerFile } from "./convert/layer.js";
export { TOC_DIGEST_ANNOTATION, UNCOMPRESSED_SIZE_ANNOTATION } from "./estargz/annotations.js";
export { convertOciLayout, isOciLayout, type LayoutOptions, type LayoutResult, type ConvertedLayer } from "./convert/oci-layout.js";
export { convertRegistryImage, type RegistryConvertResult } from "./convert/registry.js";
export * from "./verify/index.js";
