// Structured logs as JSON lines on stderr, in the shape logrus' JSONFormatter writes (stargz-store logs
// through logrus): {"level":"info","msg":"...","time":"<RFC 3339>", ...fields}. Operators' log
// pipelines that parse stargz-store's lines parse ours unchanged.
//
// A call below the logger's level returns after one integer comparison: no object, no string, no
// Date is built, so debug/trace calls may stay on hot paths.

/** logrus' levels, least to most severe. `panic` is accepted on the command line as logrus does. */
export const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "panic"] as const;
export type Level = (typeof LEVELS)[number];

export type Fields = Record<string, unknown>;

export interface Logger {
  /** The least severe level written. */
  readonly level: Level;
  /** True when a call at `level` would write: use it to skip building costly fields. */
  enabled(level: Level): boolean;
  trace(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** Writes at level "fatal"; exiting is the caller's decision. */
  fatal(msg: string, fields?: Fields): void;
  /** A logger that adds `fields` to every line (a layer's digest, an image ref). */
  child(fields: Fields): Logger;
}

/** Where lines go: anything with `write(string)` (process.stderr by default). */
export interface LineSink {
  write(line: string): unknown;
}

export interface LoggerOptions {
  level?: Level;
  sink?: LineSink;
  fields?: Fields;
  /** The clock, for tests. */
  now?: () => Date;
}

/** Parses a `--log-level` value the way logrus.ParseLevel does (case-insensitive, "warning" = "warn"). */
export function parseLevel(value: string): Level {
  const v = value.trim().toLowerCase();
  if (v === "warning") return "warn";
  if ((LEVELS as readonly string[]).includes(v)) return v as Level;
  throw new Error(`not a valid log level: ${JSON.stringify(value)} (one of ${LEVELS.join(", ")})`);
}

// logrus keeps these three names for itself and renames clashing fields to "fields.<name>".
const RESERVED = new Set(["level", "msg", "time"]);

/** RFC 3339 with the local offset, as Go's time.RFC3339 prints it (logrus' default timestamp). */
export function rfc3339(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? "Z" : `${off > 0 ? "+" : "-"}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${zone}`;
}

// Errors become their message (logrus' WithError writes the `error` field as a string); bigints and
// other values JSON cannot hold become strings rather than breaking the line.
function plain(value: unknown): unknown {
  if (value instanceof Error) return value.message;
  if (typeof value === "bigint") return value.toString();
  return value;
}

class JsonLogger implements Logger {
  readonly level: Level;
  private readonly min: number;

  constructor(
    level: Level,
    private readonly sink: LineSink,
    private readonly fields: Fields,
    private readonly now: () => Date,
  ) {
    this.level = level;
    this.min = LEVELS.indexOf(level);
  }

  enabled(level: Level): boolean {
    return LEVELS.indexOf(level) >= this.min;
  }

  trace(msg: string, fields?: Fields): void { if (this.min <= 0) this.write("trace", msg, fields); }
  debug(msg: string, fields?: Fields): void { if (this.min <= 1) this.write("debug", msg, fields); }
  info(msg: string, fields?: Fields): void { if (this.min <= 2) this.write("info", msg, fields); }
  warn(msg: string, fields?: Fields): void { if (this.min <= 3) this.write("warning", msg, fields); }
  error(msg: string, fields?: Fields): void { if (this.min <= 4) this.write("error", msg, fields); }
  fatal(msg: string, fields?: Fields): void { if (this.min <= 5) this.write("fatal", msg, fields); }

  child(fields: Fields): Logger {
    return new JsonLogger(this.level, this.sink, { ...this.fields, ...fields }, this.now);
  }

  // logrus names the warn level "warning" in its output; we follow so existing filters still match.
  private write(level: string, msg: string, fields: Fields | undefined): void {
    const line: Fields = { level, msg, time: rfc3339(this.now()) };
    for (const src of [this.fields, fields]) {
      if (!src) continue;
      for (const k in src) line[RESERVED.has(k) ? `fields.${k}` : k] = plain(src[k]);
    }
    let text: string;
    try {
      text = JSON.stringify(line);
    } catch (err) {
      // A cyclic field must not lose the message itself.
      text = JSON.stringify({ level, msg, time: line.time, "logrus_error": `fields not serialisable: ${(err as Error).message}` });
    }
    this.sink.write(text + "\n");
  }
}

/** A JSON-lines logger; defaults: level info, process.stderr. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  return new JsonLogger(opts.level ?? "info", opts.sink ?? process.stderr, opts.fields ?? {}, opts.now ?? (() => new Date()));
}

/** A logger that writes nothing (library defaults, tests that do not look at logs). */
export const silentLogger: Logger = createLogger({ level: "panic", sink: { write() {} } });
