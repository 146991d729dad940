// A one-line progress bar on stderr, drawn only when stderr is a terminal (never in logs or pipes).

export class Progress {
  private readonly tty = Boolean(process.stderr.isTTY);
  private last = 0;
  private readonly start = Date.now();

  constructor(private label: string, private total = 0) {}

  /** Sets what is being worked on and its expected size (0 = unknown). */
  stage(label: string, total = 0): void {
    this.label = label;
    this.total = total;
  }

  update(done: number): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    const mb = done / 1e6;
    const rate = mb / Math.max(0.001, (now - this.start) / 1000);
    let line: string;
    if (this.total > 0) {
      const f = Math.min(1, done / this.total);
      const width = 30;
      const filled = Math.round(f * width);
      line = `${this.label} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${(f * 100).toFixed(0)}% ${mb.toFixed(1)} MB ${rate.toFixed(1)} MB/s`;
    } else {
      line = `${this.label} ${mb.toFixed(1)} MB ${rate.toFixed(1)} MB/s`;
    }
    process.stderr.write(`\r\x1b[K${line}`);
  }

  done(): void {
    if (this.tty) process.stderr.write("\r\x1b[K");
  }
}
