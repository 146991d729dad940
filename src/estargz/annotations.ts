// The OCI descriptor annotations of an eStargz layer (set by converters, read by stores and verify).

/** sha256 of the layer's TOC JSON: what the TOC fetched from the blob must hash to. */
export const TOC_DIGEST_ANNOTATION = "containerd.io/snapshot/stargz/toc.digest";
/** The size of the layer's uncompressed tar stream, in bytes (decimal). */
export const UNCOMPRESSED_SIZE_ANNOTATION = "io.containers.estargz.uncompressed-size";
