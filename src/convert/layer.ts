// One layer: a tar or tar.gz file → an eStargz file, written to a temporary file beside the target
// and renamed into place only when complete (never a half-written output).
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { DuplicateNameError, fileSink, writeEStargz, type TarInput, type WriteResult, type WriterOptions } from "../estargz/writer.js";

/** A temporary name beside `path` (same filesystem, so rename is atomic). */
export function tempBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
}

/**
 * writeEStargz into a new file `path` (created, never overwritten), the input read once as a stream;
 * a tar with two entries of one name is converted again from a fresh `input()` in indexed mode
 * (later entries replace earlier ones, as tar extraction does): such tars are rare, a second read
 * costs less than spooling every layer. Synced before it returns.
 */
export async function writeEStargzFile(input: () => TarInput, path: string, opts: WriterOptions = {}): Promise<WriteResult> {
  let fh = await open(path, "wx");
  try {
    let r: WriteResult;
    try {
      r = await writeEStargz(input(), fileSink(fh), opts);
    } catch (err) {
      if (!(err instanceof DuplicateNameError) || opts.indexed) throw err;
      const first = fh;
      fh = undefined!;
      await first.close();
      fh = await open(path, "w");
      r = await writeEStargz(input(), fileSink(fh), { ...opts, indexed: true });
    }
    await fh.sync();
    return r;
  } finally {
    await fh?.close();
  }
}

export async function convertLayerFile(input: string, output: string, opts: WriterOptions = {}): Promise<WriteResult> {
  const tmp = tempBeside(output);
  try {
    const r = await writeEStargzFile(() => input, tmp, opts);
    await rename(tmp, output);
    return r;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
