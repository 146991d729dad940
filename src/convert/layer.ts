// One layer: a tar or tar.gz file → an eStargz file, written to a temporary file beside the target
// and renamed into place only when complete (never a half-written output).
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileSink, writeEStargz, type WriteResult, type WriterOptions } from "../estargz/writer.js";

/** A temporary name beside `path` (same filesystem, so rename is atomic). */
export function tempBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}

export async function convertLayerFile(input: string, output: string, opts: WriterOptions = {}): Promise<WriteResult> {
  const tmp = tempBeside(output);
  const fh = await open(tmp, "wx");
  try {
    const r = await writeEStargz(input, fileSink(fh), opts);
    await fh.sync();
    await fh.close();
    await rename(tmp, output);
    return r;
  } catch (err) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
}
