import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { createLogger, parseLevel, rfc3339, LEVELS, type Level } from "../../src/util/log.js";

function capture(level: Level) {
  const lines: string[] = [];
  const log = createLogger({ level, sink: { write: (s: string) => lines.push(s) }, now: () => new Date("2026-11-22T08:15:30.123Z") });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test("a line is one JSON object with logrus' level, msg and time fields, newline-terminated", () => {
  const { log, lines, parsed } = capture("info");
  log.info("mounted", { mountpoint: "/m" });
  assert.is(lines.length, 1);
  assert.ok(lines[0].endsWith("}\n") && !lines[0].slice(0, -1).includes("\n"));
  const [o] = parsed();
  assert.is(o.level, "info");
  assert.is(o.msg, "mounted");
  assert.is(o.mountpoint, "/m");
  // RFC 3339 (seconds, local offset) as Go's time.RFC3339 prints it, and the same instant.
  assert.match(o.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
  assert.is(Date.parse(o.time as string), Date.parse("2026-11-22T08:15:30Z"));
});

test("levels: only lines at or above the logger's level are written; warn is spelled 'warning' as logrus does", () => {
  const { log, parsed } = capture("warn");
  log.trace("t"); log.debug("d"); log.info("i"); log.warn("w"); log.error("e"); log.fatal("f");
  assert.equal(parsed().map((o) => [o.level, o.msg]), [["warning", "w"], ["error", "e"], ["fatal", "f"]]);
  const all = capture("trace");
  all.log.trace("t"); all.log.debug("d"); all.log.info("i");
  assert.equal(all.parsed().map((o) => o.level), ["trace", "debug", "info"]);
  assert.ok(all.log.enabled("trace"));
  assert.not.ok(log.enabled("info"));
  assert.ok(log.enabled("error"));
});

test("a disabled level builds nothing: field getters are not even read", () => {
  const { log, lines } = capture("info");
  let touched = 0;
  const fields = { get costly() { touched++; return 1; } };
  for (let i = 0; i < 1000; i++) log.debug("x", fields);
  assert.is(touched, 0);
  assert.is(lines.length, 0);
});

test("child loggers carry their fields; call fields win; reserved names are prefixed 'fields.'", () => {
  const { log, parsed } = capture("debug");
  const layer = log.child({ ref: "r/x:1" }).child({ layer: "sha256:ab" });
  layer.debug("fetched", { bytes: 10, ref: "override", msg: "clash", error: new Error("boom"), n: 5n });
  const [o] = parsed();
  assert.equal(
    [o.level, o.msg, o.ref, o.layer, o.bytes, o["fields.msg"], o.error, o.n],
    ["debug", "fetched", "override", "sha256:ab", 10, "clash", "boom", "5"],
  );
});

test("a field JSON cannot hold does not lose the line", () => {
  const { log, parsed } = capture("info");
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  log.info("still here", { cyclic });
  const [o] = parsed();
  assert.is(o.msg, "still here");
  assert.match(o.logrus_error as string, /not serialisable/);
});

test("parseLevel accepts logrus' names case-insensitively and rejects others", () => {
  assert.equal(LEVELS.map((l) => parseLevel(l.toUpperCase())), [...LEVELS]);
  assert.is(parseLevel("warning"), "warn");
  assert.throws(() => parseLevel("verbose"), /not a valid log level: "verbose"/);
});

test("rfc3339 prints the local offset (TZ honoured)", () => {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e",
    `import { rfc3339 } from ${JSON.stringify(new URL("../../src/util/log.js", import.meta.url).href)}; process.stdout.write(rfc3339(new Date("2026-01-02T03:04:05Z")))`],
  { env: { ...process.env, TZ: "Asia/Kolkata" }, encoding: "utf8" });
  assert.is(r.stdout, "2026-01-02T08:34:05+05:30");
  assert.is(rfc3339(new Date(0)).length >= 20, true);
});

test("the default sink is stderr, one line per call", () => {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e",
    `import { createLogger } from ${JSON.stringify(new URL("../../src/util/log.js", import.meta.url).href)}; const l = createLogger({ level: "debug" }); l.debug("a", { k: 1 }); l.trace("hidden"); l.error("b");`],
  { encoding: "utf8" });
  assert.is(r.stdout, "");
  const lines = r.stderr.trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.map((o) => [o.level, o.msg]), [["debug", "a"], ["error", "b"]]);
  assert.is(lines[0].k, 1);
});

test.run();
