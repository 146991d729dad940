// Shared by the verify tests: running `esgz-fast verify --json` and reading its per-check results.
import * as assert from "uvu/assert";
import { runCli, type CliResult } from "../helpers/run-cli.js";
import type { FixtureFacts } from "../helpers/paths.js";

export interface CheckJson { status: "pass" | "fail" | "skip"; detail?: string; expected?: string; actual?: string; where?: Record<string, unknown> }
export interface LayerJson { label: string; kind: string; checks: Record<string, CheckJson>; actual: Record<string, unknown>; ioError?: string }
export interface VerifyJson { ok: boolean; layers: LayerJson[] }

export async function verifyJson(args: string[]): Promise<{ res: CliResult; out: VerifyJson }> {
  const res = await runCli(["verify", "--json", ...args]);
  let out: VerifyJson;
  try {
    out = JSON.parse(res.stdout);
  } catch {
    throw new Error(`verify printed no JSON (exit ${res.code}): ${res.stdout}\n${res.stderr}`);
  }
  return { res, out };
}

/** Flags carrying every fact of EXPECTED.tsv (or overrides). */
export function factFlags(f: Pick<FixtureFacts, "blobDigest" | "size" | "tocDigest" | "diffId" | "uncompressedSize">): string[] {
  return [
    "--digest", f.blobDigest, "--size", String(f.size), "--toc-digest", f.tocDigest,
    "--diff-id", f.diffId, "--uncompressed-size", String(f.uncompressedSize),
  ];
}

export const ALL_CHECKS = ["digest", "gzip", "footer", "toc", "tocDigest", "chunks", "tar", "diffId", "size"];

/** Asserts exactly the checks in `failing` failed, each other one passed (or is in `skipped`). */
export function assertChecks(layer: LayerJson, failing: string[], skipped: string[] = []): void {
  for (const c of ALL_CHECKS) {
    const want = failing.includes(c) ? "fail" : skipped.includes(c) ? "skip" : "pass";
    assert.is(layer.checks[c].status, want, `${c}: ${layer.checks[c].status} (${layer.checks[c].detail}), expected ${want}`);
  }
}
