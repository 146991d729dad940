// Errors a FUSE handler answers with. Handlers throw `FsError`; the FUSE wrapper turns it into the
// negative errno libfuse expects. Any other exception becomes EIO (and is logged by the wrapper).
import { constants } from "node:os";

export type ErrnoName =
  | "ENOENT" | "EIO" | "EACCES" | "EPERM" | "EROFS" | "ENOTDIR" | "EISDIR" | "ENODATA" | "ERANGE"
  | "EINVAL" | "ENOTEMPTY" | "EBADF" | "ENOTSUP" | "ETIMEDOUT" | "ENOSYS" | "EEXIST";

export class FsError extends Error {
  readonly errno: number;
  constructor(readonly code: ErrnoName, message?: string) {
    super(message ?? code);
    this.name = "FsError";
    this.errno = errnoOf(code);
  }
}

export function errnoOf(code: ErrnoName): number {
  const n = (constants.errno as Record<string, number>)[code];
  if (typeof n !== "number") throw new Error(`unknown errno ${code}`);
  return n;
}

export const enoent = (what?: string): FsError => new FsError("ENOENT", what);
