import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { endpointsFor } from "../../src/registry/hosts.js";
import { loadConfig, ConfigError, DEFAULT_CONFIG_PATH, UNIMPLEMENTED_KEYS, usageText, type StoreConfig } from "../../src/store/config.js";

let dir = "";
test.before(async () => { dir = await mkdtemp(join(tmpdir(), "esgz-config-")); });
test.after(async () => { await rm(dir, { recursive: true, force: true }); });

async function withFile(text: string, extra: string[] = []): Promise<StoreConfig> {
  const p = join(dir, `c${Math.random().toString(36).slice(2)}.toml`);
  await writeFile(p, text);
  return loadConfig(["--config", p, ...extra, "/mnt/store"]);
}

async function rejects(p: Promise<unknown>, pattern: RegExp, exitCode?: number): Promise<ConfigError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, ConfigError);
    assert.match((err as Error).message, pattern);
    if (exitCode !== undefined) assert.is((err as ConfigError).exitCode, exitCode);
    return err as ConfigError;
  }
  assert.unreachable(`expected a ConfigError matching ${pattern}`);
  throw new Error("unreachable");
}

test("defaults are stargz-store's (no file: --config= as in Go)", async () => {
  const c = await loadConfig(["--config=", "mnt"]);
  assert.is(c.configPath, "");
  assert.is(c.root, "/var/lib/stargz-store");
  assert.is(c.addr, "/var/lib/stargz-store/store.sock");
  assert.is(c.logLevel, "info");
  assert.is(c.mountpoint, join(process.cwd(), "mnt"));
  assert.equal(
    [c.prefetchSize, c.prefetchTimeoutSec, c.prefetchAsyncSize, c.noprefetch, c.noBackgroundFetch, c.maxConcurrency,
      c.allowNoVerification, c.resolveResultEntryTtlSec, c.httpCacheType, c.filesystemCacheType, c.noPrometheus, c.debug, c.metadataStore],
    [0, 10, 0, false, false, 2, false, 120, "", "", false, false, "memory"],
  );
  assert.equal(c.blob, {
    chunkSize: 50000, prefetchChunkSize: 0, fetchingTimeoutSec: 300, validInterval: 60, checkAlways: false,
    forceSingleRangeMode: false, maxRetries: 5, minWaitMsec: 30, maxWaitMsec: 300000, maxChunkSize: 64 << 20,
  });
  assert.equal(c.directoryCache, { maxLruCacheEntry: 10, maxCacheFds: 10, syncAdd: false, direct: true, fadvDontneed: false });
  assert.equal([c.fuse.attrTimeout, c.fuse.entryTimeout, c.fuse.passthrough], [1, 1, false]);
  assert.equal(c.resolver, {});
  assert.ok(c.diskCache);
  assert.is(c.metricsAddress, undefined);
  assert.equal([c.warnings, c.unimplemented], [[], []]);
});

test("flags: one and two dashes, `=` or separate value, parsing stops at the mountpoint", async () => {
  const forms: string[][] = [
    ["-root", "/r", "-log-level", "debug", "-config=", "-metrics-address", "127.0.0.1:0", "/m"],
    ["--root=/r", "--log-level=debug", "--config", "", "--metrics-address=127.0.0.1:0", "/m"],
    ["-root=/r", "--log-level", "DEBUG", "-config", "", "--metrics-address", "127.0.0.1:0", "--", "/m"],
  ];
  for (const argv of forms) {
    const c = await loadConfig(argv);
    assert.equal([c.root, c.logLevel, c.mountpoint, c.metricsAddress], ["/r", "debug", "/m", { host: "127.0.0.1", port: 0 }], argv.join(" "));
  }
  // Go's flag package: everything after the first non-flag argument is an argument, not a flag.
  const c = await loadConfig(["--config=", "/m", "--root", "/x"]);
  assert.is(c.root, "/var/lib/stargz-store");
  assert.match(c.warnings.join("\n"), /arguments after the mountpoint are ignored.*--root \/x/);
  assert.is((await loadConfig(["-log-level", "warning", "--config=", "/m"])).logLevel, "warn");
  assert.ok((await loadConfig(["-help"])).help);
  assert.ok((await loadConfig(["--h"])).help);
  assert.ok((await loadConfig(["--version"])).version);
  assert.match(usageText(), /--log-level value/);
});

test("flag errors are usage errors (exit 2) naming the flag", async () => {
  await rejects(loadConfig(["--nope", "/m"]), /^flag provided but not defined: -nope$/, 2);
  await rejects(loadConfig(["--root"]), /^flag needs an argument: -root$/, 2);
  await rejects(loadConfig(["--log-level", "loud", "/m"]), /-log-level: not a valid log level: "loud"/, 2);
  await rejects(loadConfig(["--config="]), /^mount point must be specified$/, 2);
  await rejects(loadConfig(["--metrics-address", "9090", "/m"]), /invalid value "9090" for -metrics-address: want host:port/, 2);
  await rejects(loadConfig(["--memory-cache-bytes", "1e6", "/m"]), /-memory-cache-bytes/, 2);
  await rejects(loadConfig(["--help=maybe"]), /invalid boolean value "maybe" for -help/, 2);
});

test("config file: a missing default file is fine, a missing named one is an error", async () => {
  if (!existsSync(DEFAULT_CONFIG_PATH)) {
    const c = await loadConfig(["/m"]);
    assert.is(c.configPath, DEFAULT_CONFIG_PATH);
    assert.is(c.blob.chunkSize, 50000);
  }
  await rejects(loadConfig(["--config", join(dir, "absent.toml"), "/m"]), /failed to load config file ".*absent\.toml": ENOENT/, 1);
});

test("a full config file: every section read, typed, zero means default as in Go", async () => {
  const c = await withFile(`
prefetch_size = 1048576
prefetch_timeout_sec = 0
prefetch_async_size = 4096
noprefetch = true
no_background_fetch = true
max_concurrency = 4
allow_no_verification = true
resolve_result_entry_ttl_sec = 30
http_cache_type = "memory"
filesystem_cache_type = ""
no_prometheus = true
debug = true
metadata_store = "db"

[blob]
chunk_size = 131072
prefetch_chunk_size = 1000000
fetching_timeout_sec = 60
check_always = true
force_single_range_mode = true
max_retries = 2
min_wait_msec = 10
max_wait_msec = 1000
max_chunk_size = 134217728

[directory_cache]
max_lru_cache_entry = 20
direct = false

[fuse]
attr_timeout = 5
entry_timeout = 0

[resolver]
request_timeout_sec = 12

[resolver.host."docker.io"]
[[resolver.host."docker.io".mirrors]]
host = "mirror.example.com:5000"
insecure = true
request_timeout_sec = 3
header = { "x-a" = "1", "x-b" = ["2", "3"] }
[[resolver.host."docker.io".mirrors]]
host = "second.example.com"
`, ["--log-level=error"]);
  assert.equal(
    [c.prefetchSize, c.prefetchTimeoutSec, c.prefetchAsyncSize, c.noprefetch, c.noBackgroundFetch, c.maxConcurrency,
      c.allowNoVerification, c.resolveResultEntryTtlSec, c.httpCacheType, c.noPrometheus, c.debug, c.metadataStore, c.logLevel],
    [1048576, 10, 4096, true, true, 4, true, 30, "memory", true, true, "db", "error"],
  );
  assert.not.ok(c.diskCache, "http_cache_type = memory switches the disk cache off");
  assert.equal(c.blob, {
    chunkSize: 131072, prefetchChunkSize: 1000000, fetchingTimeoutSec: 60, validInterval: 0, checkAlways: true,
    forceSingleRangeMode: true, maxRetries: 2, minWaitMsec: 10, maxWaitMsec: 1000, maxChunkSize: 134217728,
  });
  assert.equal([c.directoryCache.maxLruCacheEntry, c.directoryCache.direct], [20, false]);
  assert.equal([c.fuse.attrTimeout, c.fuse.entryTimeout], [5, 1]);
  assert.equal(c.resolver, {
    request_timeout_sec: 12,
    host: { "docker.io": { mirrors: [
      { host: "mirror.example.com:5000", insecure: true, request_timeout_sec: 3, header: { "x-a": "1", "x-b": ["2", "3"] } },
      { host: "second.example.com" },
    ] } },
  });
  assert.equal(c.warnings, []);
  // Set, accepted, without effect here: each announced once, with the reason.
  const u = c.unimplemented.join("\n");
  for (const key of ["metadata_store", "[blob] prefetch_chunk_size", "[blob] check_always", "[directory_cache] max_lru_cache_entry", "[directory_cache] direct"]) {
    assert.match(u, key, `announces ${key}`);
  }
  assert.is(c.unimplemented.length, 5);
  assert.ok(Object.keys(UNIMPLEMENTED_KEYS).includes("directory_cache.sync_add"));
});

test("unknown keys are warned about, not fatal", async () => {
  const c = await withFile(`
prefetch_sise = 1
[blob]
chunk_size = 100
chunkiness = 3
[resolver]
retries = 2
[resolver.host."r.example"]
mirrors = [{ host = "m", speed = 1 }]
[something_else]
x = 1
`);
  assert.is(c.blob.chunkSize, 100);
  const w = c.warnings.join("\n");
  for (const k of ["unknown key prefetch_sise", "unknown key [blob] chunkiness", "unknown key [resolver] retries",
    `unknown key [[resolver.host."r.example".mirrors]] #1 speed`, "unknown key something_else"]) {
    assert.ok(w.includes(k), `warns: ${k}\n${w}`);
  }
  assert.is(c.warnings.length, 5);
});

test("disable_verification = true is refused as stargz-store refuses it", async () => {
  await rejects(withFile("disable_verification = true\n"), /^content verification can't be disabled$/, 1);
  const c = await withFile("disable_verification = false\n");
  assert.is(c.allowNoVerification, false);
});

test("bad types and values are rejected naming the file, the key, what was expected and what was found", async () => {
  const cases: Array<[string, RegExp]> = [
    ['prefetch_size = "1MB"', /\.toml: prefetch_size: must be an integer, got string "1MB"$/],
    ["noprefetch = 1", /: noprefetch: must be a boolean \(true or false\), got integer 1$/],
    ["[blob]\nchunk_size = 1.5", /: \[blob\] chunk_size: must be an integer, got float 1.5$/],
    ["[blob]\nchunk_size = -1", /: \[blob\] chunk_size: must not be negative, got -1$/],
    ["[blob]\nmax_chunk_size = 1073741824", /: \[blob\] max_chunk_size: must be at most 1073741820, got 1073741824$/],
    ["http_cache_type = false", /: http_cache_type: must be a string, got boolean false$/],
    ["blob = 3", /: blob: must be a table \(\[blob\]\), got integer 3$/],
    ["[fuse]\nattr_timeout = 99999999999999999999", /: \[fuse\] attr_timeout: integer 99999999999999999999 is out of range$/],
    ['[[resolver.host."a".mirrors]]\ninsecure = true', /\[\[resolver.host."a".mirrors\]\] #1: host must be a non-empty string, got nothing$/],
    ['[[resolver.host."a".mirrors]]\nhost = "m"\nheader = { x = 1 }', /\[\[resolver.host."a".mirrors\]\] #1 header x: must be a string or an array of strings, got integer 1$/],
    ["[resolver]\nrequest_timeout_sec = \"30s\"", /\[resolver\] request_timeout_sec: must be an integer, got string "30s"$/],
    ["a = [1,", /failed to parse config file ".*" \(line \d+, column \d+\)/],
    ['[resolver]\ncerts_dirs = "/etc/containers/certs.d"', /\[resolver\] certs_dirs: must be an array of directory paths, got string "\/etc\/containers\/certs.d"$/],
  ];
  for (const [text, pattern] of cases) await rejects(withFile(text), pattern, 1);
});

test("resolver timeouts: 0 = default, negative (no timeout in stargz-store) announced and defaulted", async () => {
  const c = await withFile('[resolver]\nrequest_timeout_sec = 0\n[[resolver.host."h".mirrors]]\nhost = "m"\nrequest_timeout_sec = -1\n');
  assert.equal(c.resolver, { host: { h: { mirrors: [{ host: "m" }] } } });
  assert.match(c.unimplemented.join("\n"), /request_timeout_sec = -1: "no timeout" is not supported/);
});

test("--addr: relative to the working directory, empty = no credential socket; [resolver] certs_dirs read as given", async () => {
  assert.is((await loadConfig(["--config=", "-addr", "run/s.sock", "/m"])).addr, join(process.cwd(), "run/s.sock"));
  assert.is((await loadConfig(["--config=", "-addr=", "/m"])).addr, "");
  const c = await withFile('[resolver]\ncerts_dirs = ["/srv/certs.d", "/etc/containers/certs.d"]\n');
  assert.equal(c.resolver, { certs_dirs: ["/srv/certs.d", "/etc/containers/certs.d"] });
  assert.equal([c.warnings, c.unimplemented], [[], []]);
});

test("the [resolver] section is what the registry client consumes: mirrors in order, then the host", async () => {
  const c = await withFile(`
[resolver]
request_timeout_sec = 12
[[resolver.host."registry.example.com".mirrors]]
host = "mirror.local:5000"
insecure = true
request_timeout_sec = 3
header = { "x-team" = ["a", "b"] }
[[resolver.host."registry.example.com".mirrors]]
host = "127.0.0.1:5001"
`);
  const eps = endpointsFor("registry.example.com", c.resolver);
  assert.equal(eps.map((e) => [e.origin, e.mirror, e.timeoutMs]), [
    ["http://mirror.local:5000", true, 3000],
    ["http://127.0.0.1:5001", true, 12000],
    ["https://registry.example.com", false, 12000],
  ]);
  assert.is(eps[0].headers["x-team"], "a, b");
  assert.equal(endpointsFor("other.example", c.resolver).map((e) => e.origin), ["https://other.example"]);
});

test.run();
