// Output: a table a person reads at a glance (one row per layer, one column per check) with the first
// failure of each failing check explained below it, or JSON with every check's result for scripts.
import { CHECKS, CHECK_TITLES, layerFailed, type CheckResult, type LayerReport } from "./checks.js";

const CELL: Record<CheckResult["status"], string> = { pass: "pass", fail: "FAIL", skip: "skip" };

function pad(s: string, n: number): string {
  return s + " ".repeat(Math.max(0, n - s.length));
}

/** Where a failure is, in words. */
function whereText(r: CheckResult): string {
  const w = r.where;
  if (!w) return "";
  const parts: string[] = [];
  if (w.file !== undefined) parts.push(w.chunk !== undefined ? `file ${JSON.stringify(w.file)} chunk ${w.chunk}` : `file ${JSON.stringify(w.file)}`);
  if (w.entry !== undefined) parts.push(`TOC entry ${w.entry}`);
  if (w.blobOffset !== undefined) parts.push(`blob offset ${w.blobOffset}`);
  if (w.tarOffset !== undefined) parts.push(`tar offset ${w.tarOffset}`);
  return parts.join(", ");
}

/** The explanation lines of one check's result (failure or skip reason). */
export function explain(r: CheckResult): string[] {
  const lines: string[] = [];
  const where = whereText(r);
  lines.push((r.detail ?? "") + (where ? ` (${where})` : ""));
  if (r.expected !== undefined) lines.push(`expected ${r.expected}`);
  if (r.actual !== undefined) lines.push(`actual   ${r.actual}`);
  if (r.moreFailures) lines.push(`and ${r.moreFailures} more failure${r.moreFailures === 1 ? "" : "s"} of this check`);
  return lines;
}

export function formatTable(reports: LayerReport[]): string {
  const head = ["LAYER", "KIND", ...CHECKS];
  const rows = reports.map((r) => [r.label, r.kind, ...CHECKS.map((c) => CELL[r.checks[c].status])]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i])).join("  ").trimEnd();
  const out = [line(head), ...rows.map(line)];

  for (const r of reports) {
    const failing = CHECKS.filter((c) => r.checks[c].status === "fail");
    if (r.ioError) out.push("", `${r.label}: I/O error: ${r.ioError}`);
    if (failing.length) {
      out.push("", `${r.label}: FAILED ${failing.join(", ")}`);
      for (const c of failing) {
        const [first, ...rest] = explain(r.checks[c]);
        out.push(`  ${c}: ${first}`, ...rest.map((l) => `    ${l}`));
      }
    }
    const skipped = CHECKS.filter((c) => r.checks[c].status === "skip");
    if (skipped.length && !r.ioError) {
      out.push("", `${r.label}: skipped`, ...skipped.map((c) => `  ${c}: ${r.checks[c].detail ?? ""}`));
    }
  }
  const failed = reports.filter((r) => layerFailed(r) || r.ioError).length;
  out.push(
    "",
    failed === 0
      ? `${reports.length} layer${reports.length === 1 ? "" : "s"} verified`
      : `${failed} of ${reports.length} layer${reports.length === 1 ? "" : "s"} FAILED verification`,
  );
  return out.join("\n") + "\n";
}

/** The legend for --help: what each column checks. */
export function checkLegend(): string {
  return CHECKS.map((c) => `  ${pad(c, 10)} ${CHECK_TITLES[c]}`).join("\n");
}

export function formatJson(reports: LayerReport[]): string {
  const ok = reports.every((r) => !layerFailed(r) && !r.ioError);
  return JSON.stringify({ ok, layers: reports }, null, 2) + "\n";
}
