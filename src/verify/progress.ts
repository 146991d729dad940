// A progress bar on stderr while layers are read — only when stderr is a terminal, so scripts and
// CI logs get clean output. Redraws at most ten times a second.
export class Progress {
  private last = 0;
  private shown = false;
  constructor(private readonly out: NodeJS.WriteStream = process.stderr, private readonly enabled = !!process.stderr.isTTY) {}

  update(label: string, done: number, total: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 100 && done < total) return;
    this.last = now;
    const cols = Math.max(40, (this.out.columns || 80) - 1);
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const barWidth = cols >= 60 ? 30 : 10;
    const filled = Math.round(frac * barWidth);
    const info = ` ${(frac * 100).toFixed(0).padStart(3)}% ${mib(done)}/${mib(total)} MiB `;
    const room = cols - barWidth - 2 - info.length;
    const name = label.length <= room ? label : "…" + label.slice(label.length - Math.max(0, room - 1));
    const text = `[${"#".repeat(filled)}${"-".repeat(barWidth - filled)}]${info}${name}`.slice(0, cols);
    this.out.write(`\r${text}\x1b[K`);
    this.shown = true;
  }

  clear(): void {
    if (this.shown) this.out.write("\r\x1b[K");
    this.shown = false;
  }
}

function mib(n: number): string {
  return (n / (1 << 20)).toFixed(1);
}
