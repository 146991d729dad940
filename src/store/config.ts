// `esgz-fast mount`'s command line and config.toml, read the way stargz-store reads them so an operator
// can swap the binary and keep the unit file and the config:
// * flags parsed like Go's `flag` package: `-flag value`, `-flag=value`, `--flag value`, `--flag=value`;
//   parsing stops at the first non-flag argument (the mountpoint) or at `--`;
// * every key stargz-store's config knows, with its defaults; as in Go, an explicit 0 for a number that
//   has a default means the default; wrong types are rejected naming the key, unknown keys only warned;
// * `disable_verification = true` refused with stargz-store's own message;
// * a missing config file at the default path is fine, a missing one named with --config is an error.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import { createLogger, parseLevel, type Level, type LineSink, type Logger } from "../util/log.js";
import type { ResolverConfig, HostConfig, MirrorConfig } from "../registry/hosts.js";
import { DEFAULT_MAX_CHUNK_SIZE } from "../estargz/reader.js";
import { MAX_BLOCK_SIZE } from "../core/buffer.js";

export const DEFAULT_CONFIG_PATH = "/etc/stargz-store/config.toml";
export const DEFAULT_ROOT = "/var/lib/stargz-store";
// stargz-store computes --addr's default from the default root, not from --root: so do we.
export const DEFAULT_ADDR = `${DEFAULT_ROOT}/store.sock`;
/** The memory LRU's default bound: small enough that the store's peak RSS stays within 65 MiB. */
export const DEFAULT_MEMORY_CACHE_BYTES = 8 << 20;

/** A config or command-line problem; `exitCode` 2 for usage errors (as Go's flag package), 1 otherwise. */
export class ConfigError extends Error {
  constructor(message: string, readonly exitCode: 1 | 2 = 1) {
    super(message);
    this.name = "ConfigError";
  }
}

// The `[resolver]` section is produced in the registry client's own shape and passed to it unchanged.
export type { ResolverConfig, HostConfig, MirrorConfig } from "../registry/hosts.js";

export interface BlobConfig {
  chunkSize: number;
  prefetchChunkSize: number;
  fetchingTimeoutSec: number;
  /** Seconds a checked registry connection is trusted; 0 when `check_always`. */
  validInterval: number;
  checkAlways: boolean;
  forceSingleRangeMode: boolean;
  maxRetries: number;
  minWaitMsec: number;
  maxWaitMsec: number;
  /** The most one chunk may inflate to (esgz-fast's own key); bigger ones answer EIO. */
  maxChunkSize: number;
}

export interface DirectoryCacheConfig {
  maxLruCacheEntry: number;
  maxCacheFds: number;
  syncAdd: boolean;
  direct: boolean;
  fadvDontneed: boolean;
}

export interface FuseConfig {
  /** Seconds. */
  attrTimeout: number;
  /** Seconds. */
  entryTimeout: number;
  passthrough: boolean;
  mergeBufferSize: number;
  mergeWorkerCount: number;
}

export interface StoreConfig {
  // --- command line
  /** The config file read ("" = none, as `--config=` in stargz-store). */
  configPath: string;
  root: string;
  logLevel: Level;
  /** The credential socket (stargz-store's `--addr`): where engines' auth helpers send credentials; "" = none (`--addr=`). */
  addr: string;
  /** Absolute path; "" only when `help` or `version` is set. */
  mountpoint: string;
  /** `host:port` for the Prometheus endpoint, if any (`--metrics-address`). */
  metricsAddress?: { host: string; port: number };
  /** Bound of the in-memory chunk LRU in bytes (`--memory-cache-bytes`). */
  memoryCacheBytes: number;
  help: boolean;
  version: boolean;

  // --- config.toml, top level
  prefetchSize: number;
  prefetchTimeoutSec: number;
  prefetchAsyncSize: number;
  noprefetch: boolean;
  noBackgroundFetch: boolean;
  maxConcurrency: number;
  allowNoVerification: boolean;
  resolveResultEntryTtlSec: number;
  /** "" = disk, "memory" = no disk cache. */
  httpCacheType: string;
  filesystemCacheType: string;
  httpCacheChunkTtlSec: number;
  noPrometheus: boolean;
  debug: boolean;
  logFileAccess: boolean;
  metadataStore: string;
  blob: BlobConfig;
  directoryCache: DirectoryCacheConfig;
  fuse: FuseConfig;
  resolver: ResolverConfig;
  kubeconfigKeychain: { enableKeychain: boolean; kubeconfigPath: string };

  /** True when neither cache type is "memory": verified chunks are kept under `<root>/cache`. */
  diskCache: boolean;
  /** Unknown keys, ignored arguments: to be logged as warnings at start-up. */
  warnings: string[];
  /** Keys set in the file that are accepted but have no effect here: to be logged once at start-up. */
  unimplemented: string[];
}

// ---------------------------------------------------------------------------------------------------
// The command line.

interface FlagSpec {
  kind: "string" | "bool";
  usage: string;
}

const FLAGS: Record<string, FlagSpec> = {
  config: { kind: "string", usage: `path to the configuration file (default ${DEFAULT_CONFIG_PATH})` },
  root: { kind: "string", usage: `path to the root directory for this store (default ${DEFAULT_ROOT})` },
  "log-level": { kind: "string", usage: "set the logging level [trace, debug, info, warn, error, fatal, panic] (default info)" },
  addr: { kind: "string", usage: `path to the credential socket engines' auth helpers send registry credentials to (default ${DEFAULT_ADDR})` },
  "metrics-address": { kind: "string", usage: "host:port to serve Prometheus metrics on (default: off)" },
  "memory-cache-bytes": { kind: "string", usage: `bound of the in-memory chunk cache in bytes (default ${DEFAULT_MEMORY_CACHE_BYTES})` },
  help: { kind: "bool", usage: "show this help" },
  h: { kind: "bool", usage: "show this help" },
  version: { kind: "bool", usage: "print the version" },
};

/** The `esgz-fast mount --help` text. */
export function usageText(): string {
  const lines = ["Usage: esgz-fast mount [flags] MOUNTPOINT", "", "Flags (one or two dashes):"];
  for (const [name, spec] of Object.entries(FLAGS)) {
    if (name === "h") continue;
    lines.push(`  --${name}${spec.kind === "string" ? " value" : ""}`.padEnd(30) + spec.usage);
  }
  return lines.join("\n") + "\n";
}

interface ParsedFlags {
  values: Map<string, string>;
  bools: Set<string>;
  args: string[];
}

/** Go `flag` semantics over `argv` (the arguments after `mount`). */
export function parseFlags(argv: readonly string[]): ParsedFlags {
  const values = new Map<string, string>();
  const bools = new Set<string>();
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") { i++; break; }
    if (a.length < 2 || a[0] !== "-") break;
    const body = a.startsWith("--") ? a.slice(2) : a.slice(1);
    if (body === "" || body[0] === "-" || body[0] === "=") throw new ConfigError(`bad flag syntax: ${a}`, 2);
    const eq = body.indexOf("=");
    const name = eq < 0 ? body : body.slice(0, eq);
    const spec = FLAGS[name];
    if (!spec) throw new ConfigError(`flag provided but not defined: -${name}`, 2);
    if (spec.kind === "bool") {
      const v = eq < 0 ? "true" : body.slice(eq + 1);
      if (!/^(1|0|t|f|true|false|TRUE|FALSE|True|False|T|F)$/.test(v)) {
        throw new ConfigError(`invalid boolean value ${JSON.stringify(v)} for -${name}`, 2);
      }
      if (/^(1|t|true)$/i.test(v)) bools.add(name === "h" ? "help" : name);
      else bools.delete(name === "h" ? "help" : name);
      continue;
    }
    if (eq >= 0) values.set(name, body.slice(eq + 1));
    else {
      // As in Go, the next argument is the value even if it starts with a dash.
      if (i + 1 >= argv.length) throw new ConfigError(`flag needs an argument: -${name}`, 2);
      values.set(name, argv[++i]);
    }
  }
  return { values, bools, args: argv.slice(i) };
}

const resolveAddr = (v: string): string => (v === "" ? "" : resolve(v));

function parseHostPort(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ConfigError(`invalid value ${JSON.stringify(v)} for -metrics-address: want host:port`, 2);
  return { host: m[1] ?? (m[2] || "127.0.0.1"), port };
}

// ---------------------------------------------------------------------------------------------------
// The config file: one table of known keys per section, each with its type and stargz-store's default.

type Kind = "int" | "bool" | "string";
interface KeySpec {
  kind: Kind;
  /** Property name in StoreConfig (or the section's object). */
  prop: string;
  default: number | boolean | string;
  /** For numbers: an explicit 0 means the default (Go fills defaults into zero values). */
  zeroIsDefault?: boolean;
  /** Negative values are meaningful (resolver timeouts); otherwise rejected. */
  signed?: boolean;
  /** For numbers: the largest value accepted. */
  max?: number;
  /** Accepted but without effect in esgz-fast: announced at start-up when set to a non-default value. */
  unimplemented?: string;
}

const TOP: Record<string, KeySpec> = {
  prefetch_size: { kind: "int", prop: "prefetchSize", default: 0 },
  prefetch_timeout_sec: { kind: "int", prop: "prefetchTimeoutSec", default: 10, zeroIsDefault: true },
  prefetch_async_size: { kind: "int", prop: "prefetchAsyncSize", default: 0 },
  noprefetch: { kind: "bool", prop: "noprefetch", default: false },
  no_background_fetch: { kind: "bool", prop: "noBackgroundFetch", default: false },
  max_concurrency: { kind: "int", prop: "maxConcurrency", default: 2, zeroIsDefault: true },
  allow_no_verification: { kind: "bool", prop: "allowNoVerification", default: false },
  disable_verification: { kind: "bool", prop: "disableVerification", default: false },
  resolve_result_entry_ttl_sec: { kind: "int", prop: "resolveResultEntryTtlSec", default: 120, zeroIsDefault: true },
  http_cache_type: { kind: "string", prop: "httpCacheType", default: "" },
  filesystem_cache_type: { kind: "string", prop: "filesystemCacheType", default: "" },
  http_cache_chunk_ttl_sec: { kind: "int", prop: "httpCacheChunkTtlSec", default: 0, signed: true, unimplemented: "verified chunks do not expire; the disk cache is content-addressed" },
  no_prometheus: { kind: "bool", prop: "noPrometheus", default: false },
  debug: { kind: "bool", prop: "debug", default: false },
  log_file_access: { kind: "bool", prop: "logFileAccess", default: false, unimplemented: "no per-file access log" },
  metadata_store: { kind: "string", prop: "metadataStore", default: "memory", unimplemented: "the TOC index always lives in the Wasm core's memory" },
  resolve_result_entry: { kind: "int", prop: "resolveResultEntry", default: 0, unimplemented: "deprecated in stargz-store" },
};

const BLOB: Record<string, KeySpec> = {
  chunk_size: { kind: "int", prop: "chunkSize", default: 50000, zeroIsDefault: true },
  prefetch_chunk_size: { kind: "int", prop: "prefetchChunkSize", default: 0, unimplemented: "the prefetch range is asked for in one request (the background fetch in 4 MiB windows), its chunks verified in batches of ~1 MiB" },
  fetching_timeout_sec: { kind: "int", prop: "fetchingTimeoutSec", default: 300, zeroIsDefault: true },
  valid_interval: { kind: "int", prop: "validInterval", default: 60, zeroIsDefault: true, unimplemented: "no periodic connection check; failed requests are retried and redirects re-resolved" },
  check_always: { kind: "bool", prop: "checkAlways", default: false, unimplemented: "no periodic connection check; failed requests are retried and redirects re-resolved" },
  force_single_range_mode: { kind: "bool", prop: "forceSingleRangeMode", default: false },
  max_retries: { kind: "int", prop: "maxRetries", default: 5, zeroIsDefault: true },
  min_wait_msec: { kind: "int", prop: "minWaitMsec", default: 30, zeroIsDefault: true },
  max_wait_msec: { kind: "int", prop: "maxWaitMsec", default: 300000, zeroIsDefault: true },
  // esgz-fast's own: a chunk is inflated whole into one block of the Wasm core's memory
  max_chunk_size: { kind: "int", prop: "maxChunkSize", default: DEFAULT_MAX_CHUNK_SIZE, zeroIsDefault: true, max: MAX_BLOCK_SIZE },
};

const DIRECTORY_CACHE: Record<string, KeySpec> = {
  max_lru_cache_entry: { kind: "int", prop: "maxLruCacheEntry", default: 10, zeroIsDefault: true, unimplemented: "the memory cache is bounded in bytes (--memory-cache-bytes)" },
  max_cache_fds: { kind: "int", prop: "maxCacheFds", default: 10, zeroIsDefault: true, unimplemented: "cache files are opened per read, no fd cache" },
  sync_add: { kind: "bool", prop: "syncAdd", default: false, unimplemented: "cache writes are always asynchronous (temp file + rename)" },
  direct: { kind: "bool", prop: "direct", default: true, unimplemented: "the memory cache is always on, bounded by --memory-cache-bytes" },
  fadv_dontneed: { kind: "bool", prop: "fadvDontneed", default: false, unimplemented: "no fadvise from Node" },
};

const FUSE: Record<string, KeySpec> = {
  attr_timeout: { kind: "int", prop: "attrTimeout", default: 1, zeroIsDefault: true },
  entry_timeout: { kind: "int", prop: "entryTimeout", default: 1, zeroIsDefault: true },
  passthrough: { kind: "bool", prop: "passthrough", default: false, unimplemented: "fuse-native has no passthrough" },
  merge_buffer_size: { kind: "int", prop: "mergeBufferSize", default: 419430400, zeroIsDefault: true, unimplemented: "passthrough only" },
  merge_worker_count: { kind: "int", prop: "mergeWorkerCount", default: 10, zeroIsDefault: true, unimplemented: "passthrough only" },
};

const KUBECONFIG_KEYCHAIN: Record<string, KeySpec> = {
  enable_keychain: { kind: "bool", prop: "enableKeychain", default: false, unimplemented: "no kubeconfig keychain" },
  kubeconfig_path: { kind: "string", prop: "kubeconfigPath", default: "", unimplemented: "no kubeconfig keychain" },
};

/** Keys accepted with no effect, as `section.key` → why; also listed in docs/operators.md. */
export const UNIMPLEMENTED_KEYS: Record<string, string> = Object.fromEntries(
  ([["", TOP], ["blob", BLOB], ["directory_cache", DIRECTORY_CACHE], ["fuse", FUSE], ["kubeconfig_keychain", KUBECONFIG_KEYCHAIN]] as const)
    .flatMap(([sec, table]) => Object.entries(table).filter(([, s]) => s.unimplemented).map(([k, s]) => [sec ? `${sec}.${k}` : k, s.unimplemented!])),
);

type Table = Record<string, unknown>;

function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function describe(v: unknown): string {
  if (typeof v === "bigint") return `integer ${v}`;
  if (typeof v === "number") return `float ${v}`;
  if (typeof v === "string") return `string ${JSON.stringify(v)}`;
  if (typeof v === "boolean") return `boolean ${v}`;
  if (Array.isArray(v)) return "array";
  if (v instanceof Date) return "datetime";
  return "table";
}

class FileReader {
  readonly warnings: string[] = [];
  readonly unimplemented: string[] = [];
  constructor(private readonly file: string) {}

  fail(where: string, msg: string): never {
    throw new ConfigError(`${this.file}: ${where}: ${msg}`);
  }

  /** Reads the keys of `specs` out of `table` into a fresh object with the defaults filled in. */
  section(table: Table | undefined, specs: Record<string, KeySpec>, section: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const spec of Object.values(specs)) out[spec.prop] = spec.default;
    if (!table) return out;
    for (const [key, raw] of Object.entries(table)) {
      const where = section ? `[${section}] ${key}` : key;
      const spec = specs[key];
      if (!spec) {
        this.warnings.push(`${this.file}: unknown key ${where} ignored`);
        continue;
      }
      const value = this.value(raw, spec, where);
      out[spec.prop] = value;
      if (spec.unimplemented && value !== spec.default) this.unimplemented.push(`${where}: ${spec.unimplemented}`);
    }
    return out;
  }

  value(raw: unknown, spec: KeySpec, where: string): number | boolean | string {
    switch (spec.kind) {
      case "bool":
        if (typeof raw !== "boolean") this.fail(where, `must be a boolean (true or false), got ${describe(raw)}`);
        return raw;
      case "string":
        if (typeof raw !== "string") this.fail(where, `must be a string, got ${describe(raw)}`);
        return raw;
      case "int": {
        if (typeof raw !== "bigint") this.fail(where, `must be an integer, got ${describe(raw)}`);
        if (raw > BigInt(Number.MAX_SAFE_INTEGER) || raw < -BigInt(Number.MAX_SAFE_INTEGER)) this.fail(where, `integer ${raw} is out of range`);
        const n = Number(raw);
        if (n < 0 && !spec.signed) this.fail(where, `must not be negative, got ${n}`);
        if (spec.max !== undefined && n > spec.max) this.fail(where, `must be at most ${spec.max}, got ${n}`);
        return n === 0 && spec.zeroIsDefault ? spec.default : n;
      }
    }
  }

  resolver(raw: unknown): ResolverConfig {
    if (raw === undefined) return {};
    if (!isTable(raw)) this.fail("resolver", `must be a table, got ${describe(raw)}`);
    const out: ResolverConfig = {};
    for (const [key, v] of Object.entries(raw)) {
      if (key === "request_timeout_sec") {
        const t = this.timeout(v, "[resolver] request_timeout_sec");
        if (t !== undefined) out.request_timeout_sec = t;
      } else if (key === "host") {
        if (!isTable(v)) this.fail("[resolver] host", `must be a table of registry names, got ${describe(v)}`);
        out.host = {};
        for (const [name, h] of Object.entries(v)) out.host[name] = this.host(h, name);
      } else if (key === "certs_dirs") {
        // Our extension (stargz-store has no such key): where per-registry TLS files live.
        if (!Array.isArray(v) || !v.every((d) => typeof d === "string" && d !== "")) this.fail("[resolver] certs_dirs", `must be an array of directory paths, got ${describe(v)}`);
        out.certs_dirs = v as string[];
      } else {
        this.warnings.push(`${this.file}: unknown key [resolver] ${key} ignored`);
      }
    }
    return out;
  }

  // stargz-store: 0 = the default, negative = no timeout. The registry client always bounds requests,
  // so a negative value is announced and the default used.
  timeout(v: unknown, where: string): number | undefined {
    const n = this.value(v, { kind: "int", prop: "", default: 0, signed: true }, where) as number;
    if (n < 0) {
      this.unimplemented.push(`${where} = ${n}: "no timeout" is not supported, the default applies`);
      return undefined;
    }
    return n === 0 ? undefined : n;
  }

  host(raw: unknown, name: string): HostConfig {
    const where = `[resolver.host."${name}"]`;
    if (!isTable(raw)) this.fail(where, `must be a table, got ${describe(raw)}`);
    const out: HostConfig = {};
    for (const [key, v] of Object.entries(raw)) {
      if (key === "mirrors") {
        if (!Array.isArray(v)) this.fail(`${where} mirrors`, `must be an array of tables ([[...mirrors]]), got ${describe(v)}`);
        out.mirrors = v.map((m, i) => this.mirror(m, `[[resolver.host."${name}".mirrors]] #${i + 1}`));
      } else if (!this.endpointKey(out, key, v, where)) {
        this.warnings.push(`${this.file}: unknown key ${where} ${key} ignored`);
      }
    }
    return out;
  }

  mirror(raw: unknown, where: string): MirrorConfig {
    if (!isTable(raw)) this.fail(where, `must be a table, got ${describe(raw)}`);
    if (typeof raw.host !== "string" || raw.host === "") this.fail(where, `host must be a non-empty string, got ${raw.host === undefined ? "nothing" : describe(raw.host)}`);
    const out: MirrorConfig = { host: raw.host };
    for (const [key, v] of Object.entries(raw)) {
      if (key === "host") continue;
      if (!this.endpointKey(out, key, v, where)) this.warnings.push(`${this.file}: unknown key ${where} ${key} ignored`);
    }
    return out;
  }

  /** `insecure`, `request_timeout_sec`, `header`: shared by mirrors and (our extension) hosts. */
  endpointKey(out: HostConfig | MirrorConfig, key: string, v: unknown, where: string): boolean {
    if (key === "insecure") {
      out.insecure = this.value(v, { kind: "bool", prop: "", default: false }, `${where} insecure`) as boolean;
    } else if (key === "request_timeout_sec") {
      const t = this.timeout(v, `${where} request_timeout_sec`);
      if (t !== undefined) out.request_timeout_sec = t;
    } else if (key === "header") {
      if (!isTable(v)) this.fail(`${where} header`, `must be a table of name = value, got ${describe(v)}`);
      const header: Record<string, string | string[]> = {};
      for (const [name, hv] of Object.entries(v)) {
        const ok = typeof hv === "string" || (Array.isArray(hv) && hv.every((x) => typeof x === "string"));
        if (!ok) this.fail(`${where} header ${name}`, `must be a string or an array of strings, got ${describe(hv)}`);
        header[name] = hv as string | string[];
      }
      out.header = header;
    } else return false;
    return true;
  }
}

async function readToml(path: string, explicit: boolean): Promise<Table | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !explicit) return undefined;
    throw new ConfigError(`failed to load config file ${JSON.stringify(path)}: ${(err as Error).message}`);
  }
  try {
    return parseToml(text, { integersAsBigInt: true, unsafeKeyBehaviour: "throw" }) as Table;
  } catch (err) {
    const where = err instanceof TomlError ? ` (line ${err.line}, column ${err.column})` : "";
    throw new ConfigError(`failed to parse config file ${JSON.stringify(path)}${where}: ${(err as Error).message.split("\n")[0]}`);
  }
}

/**
 * Reads `esgz-fast mount`'s arguments (everything after `mount`) and the config file they name.
 * Throws `ConfigError` on bad flags, an unreadable or malformed file, a wrongly typed key, a missing
 * mountpoint, or `disable_verification = true`.
 */
export async function loadConfig(argv: readonly string[]): Promise<StoreConfig> {
  const flags = parseFlags(argv);
  const help = flags.bools.has("help");
  const version = flags.bools.has("version");
  const warnings: string[] = [];

  const configPath = flags.values.get("config") ?? DEFAULT_CONFIG_PATH;
  const explicitConfig = flags.values.has("config");
  let logLevel: Level;
  try {
    logLevel = parseLevel(flags.values.get("log-level") ?? "info");
  } catch (err) {
    throw new ConfigError(`invalid value for -log-level: ${(err as Error).message}`, 2);
  }
  const memRaw = flags.values.get("memory-cache-bytes");
  const memoryCacheBytes = memRaw === undefined ? DEFAULT_MEMORY_CACHE_BYTES : Number(memRaw);
  if (!/^\d+$/.test(memRaw ?? "0") || !Number.isSafeInteger(memoryCacheBytes)) {
    throw new ConfigError(`invalid value ${JSON.stringify(memRaw)} for -memory-cache-bytes: want a byte count`, 2);
  }
  const metricsRaw = flags.values.get("metrics-address");
  const metricsAddress = metricsRaw ? parseHostPort(metricsRaw) : undefined;

  const mountpointArg = flags.args[0] ?? "";
  if (!mountpointArg && !help && !version) throw new ConfigError("mount point must be specified", 2);
  if (flags.args.length > 1) warnings.push(`arguments after the mountpoint are ignored (as stargz-store does): ${flags.args.slice(1).join(" ")}`);

  const reader = new FileReader(configPath);
  const doc = configPath === "" || help || version ? undefined : await readToml(configPath, explicitConfig);
  const sub = (name: string): Table | undefined => {
    const v = doc?.[name];
    if (v === undefined) return undefined;
    return isTable(v) ? v : reader.fail(name, `must be a table ([${name}]), got ${describe(v)}`);
  };
  const topTable: Table = {};
  const SECTIONS = new Set(["blob", "directory_cache", "fuse", "resolver", "kubeconfig_keychain"]);
  for (const [k, v] of Object.entries(doc ?? {})) if (!SECTIONS.has(k)) topTable[k] = v;

  const top = reader.section(topTable, TOP, "");
  const blob = reader.section(sub("blob"), BLOB, "blob") as unknown as BlobConfig;
  if (blob.checkAlways) blob.validInterval = 0;
  const directoryCache = reader.section(sub("directory_cache"), DIRECTORY_CACHE, "directory_cache") as unknown as DirectoryCacheConfig;
  const fuse = reader.section(sub("fuse"), FUSE, "fuse") as unknown as FuseConfig;
  const kube = reader.section(sub("kubeconfig_keychain"), KUBECONFIG_KEYCHAIN, "kubeconfig_keychain");
  const resolver = reader.resolver(doc?.resolver);

  if (top.disableVerification === true) throw new ConfigError("content verification can't be disabled");

  const { disableVerification: _dv, resolveResultEntry: _rre, ...rest } = top;
  const httpCacheType = rest.httpCacheType as string;
  const filesystemCacheType = rest.filesystemCacheType as string;
  return {
    configPath,
    root: resolve(flags.values.get("root") ?? DEFAULT_ROOT),
    logLevel,
    addr: resolveAddr(flags.values.get("addr") ?? DEFAULT_ADDR),
    mountpoint: mountpointArg ? resolve(mountpointArg) : "",
    metricsAddress,
    memoryCacheBytes,
    help,
    version,
    ...(rest as Omit<StoreConfig, "blob" | "directoryCache" | "fuse" | "resolver" | "kubeconfigKeychain" | "diskCache" | "warnings" | "unimplemented" | "configPath" | "root" | "logLevel" | "addr" | "mountpoint" | "metricsAddress" | "memoryCacheBytes" | "help" | "version">),
    blob,
    directoryCache,
    fuse,
    resolver,
    kubeconfigKeychain: kube as StoreConfig["kubeconfigKeychain"],
    diskCache: httpCacheType !== "memory" && filesystemCacheType !== "memory",
    warnings: [...warnings, ...reader.warnings],
    unimplemented: reader.unimplemented,
  };
}

/** Logs the start-up notices once: unknown keys as warnings, accepted-but-unimplemented keys as info. */
export function announceConfig(cfg: StoreConfig, log: { warn(msg: string, f?: Record<string, unknown>): void; info(msg: string, f?: Record<string, unknown>): void }): void {
  for (const w of cfg.warnings) log.warn(w);
  for (const u of cfg.unimplemented) log.info(`config accepted but not implemented: ${u}`);
}

/** The store's logger, with the config's notices (unknown keys, keys without effect) logged once. */
export function storeLogger(config: StoreConfig, sink?: LineSink): Logger {
  const log = createLogger({ level: config.logLevel, sink });
  announceConfig(config, log);
  return log;
}
