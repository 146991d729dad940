// What `verify` reports per layer: one result per check, in a fixed column order. A check passes, fails
// (with the first failure explained: what, where, expected vs actual) or is skipped (with the reason).

/** The checks, in the order the table shows them. */
export const CHECKS = ["digest", "gzip", "footer", "toc", "tocDigest", "chunks", "tar", "diffId", "size"] as const;
export type CheckName = (typeof CHECKS)[number];

/** One line per check for the table's legend and `--help`. */
export const CHECK_TITLES: Record<CheckName, string> = {
  digest: "blob sha256 and size vs the descriptor",
  gzip: "every gzip member valid (CRC-32, ISIZE), nothing after the footer",
  footer: "eStargz (or legacy) footer, TOC offset inside the blob and at a member start",
  toc: "TOC JSON well-formed: version, fields, names clean and unique, chunk lists add up, landmarks",
  tocDigest: "sha256 of the TOC JSON vs the containerd.io/snapshot/stargz/toc.digest annotation",
  chunks: "every chunk vs its chunkDigest, every regular file vs its digest",
  tar: "the TOC vs the tar stream: every entry where the TOC says, same type, size and link",
  diffId: "sha256 of the decompressed stream vs the config's diff_ids entry",
  size: "decompressed size vs io.containers.estargz.uncompressed-size",
};

export type CheckStatus = "pass" | "fail" | "skip";

export interface CheckResult {
  status: CheckStatus;
  /** Why it failed or was skipped; for a pass, what was checked (e.g. "412 chunks, 380 files"). */
  detail?: string;
  expected?: string;
  actual?: string;
  /** Where the first failure is: a blob or decompressed offset, a chunk, a file. */
  where?: { blobOffset?: number; tarOffset?: number; file?: string; chunk?: number; entry?: number };
  /** How many further failures of this check were seen after the first. */
  moreFailures?: number;
}

export type LayerKind = "estargz" | "stargz-legacy" | "gzip" | "unknown";

/** Everything `verify` found out about one layer. */
export interface LayerReport {
  /** How the user named it: a path, "layer 2 (sha256:…)". */
  label: string;
  index?: number;
  kind: LayerKind;
  checks: Record<CheckName, CheckResult>;
  /** Facts measured from the bytes, whether or not an expectation was given. */
  actual: {
    digest?: string;
    size?: number;
    tocDigest?: string;
    diffId?: string;
    uncompressedSize?: number;
    tocOffset?: number;
    members?: number;
    entries?: number;
    chunks?: number;
    files?: number;
  };
  /** An I/O error that stopped the layer's read (exit code 2 when nothing failed otherwise). */
  ioError?: string;
  seconds?: number;
}

/** Collects results: the first failure of a check wins, later ones only count. */
export class CheckBook {
  readonly checks = {} as Record<CheckName, CheckResult>;
  constructor() {
    for (const c of CHECKS) this.checks[c] = { status: "skip", detail: "not reached" };
  }
  fail(name: CheckName, r: Omit<CheckResult, "status">): void {
    const cur = this.checks[name];
    if (cur.status === "fail") {
      cur.moreFailures = (cur.moreFailures ?? 0) + 1;
      return;
    }
    this.checks[name] = { status: "fail", ...r };
  }
  pass(name: CheckName, detail?: string): void {
    if (this.checks[name].status !== "fail") this.checks[name] = { status: "pass", detail };
  }
  skip(name: CheckName, detail: string): void {
    if (this.checks[name].status !== "fail") this.checks[name] = { status: "skip", detail };
  }
  failed(name: CheckName): boolean {
    return this.checks[name].status === "fail";
  }
}

export function layerFailed(r: LayerReport): boolean {
  return CHECKS.some((c) => r.checks[c].status === "fail");
}
