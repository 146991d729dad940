// Input: one blob file, with what it should be from flags and/or a descriptor JSON file
// (flags win over the descriptor).
import { readFile } from "node:fs/promises";
import { FileBlob } from "../file-blob.js";
import {
  UsageError, checkDigest, checkSize, expectationsFromDescriptor,
  type LooseDescriptor, type LayerExpectations, type LayerTarget,
} from "../target.js";

export interface BlobFlags {
  digest?: string;
  tocDigest?: string;
  diffId?: string;
  uncompressedSize?: string | number;
  size?: string | number;
  descriptor?: string;
}

export async function blobTarget(path: string, flags: BlobFlags): Promise<LayerTarget> {
  let expect: LayerExpectations = {};
  if (flags.descriptor) {
    let d: LooseDescriptor;
    try {
      d = JSON.parse(await readFile(flags.descriptor, "utf8")) as LooseDescriptor;
    } catch (err) {
      throw new UsageError(`--descriptor ${flags.descriptor}: ${(err as Error).message}`);
    }
    if (d === null || typeof d !== "object") throw new UsageError(`--descriptor ${flags.descriptor}: not a JSON object`);
    expect = expectationsFromDescriptor(d, `--descriptor ${flags.descriptor}`);
  }
  if (flags.digest !== undefined) expect.digest = checkDigest(String(flags.digest), "--digest");
  if (flags.size !== undefined) expect.size = checkSize(flags.size, "--size");
  if (flags.tocDigest !== undefined) expect.tocDigest = checkDigest(String(flags.tocDigest), "--toc-digest");
  if (flags.diffId !== undefined) expect.diffId = checkDigest(String(flags.diffId), "--diff-id");
  if (flags.uncompressedSize !== undefined) expect.uncompressedSize = checkSize(flags.uncompressedSize, "--uncompressed-size");
  return {
    label: path,
    expect,
    open: async () => {
      try {
        return await FileBlob.open(path);
      } catch (err) {
        throw new UsageError(`${path}: ${(err as Error).message}`);
      }
    },
  };
}
