// Where requests for a registry go: its mirrors in order, then the registry itself, in the shape of
// stargz-store's `[resolver]` config section. Loopback and `insecure` hosts are spoken to over plain
// HTTP; docker.io is served by registry-1.docker.io.
import { RegistryError } from "./errors.js";
import { DOCKER_HUB } from "./reference.js";

/** One `[[resolver.host."NAME".mirrors]]` entry. */
export interface MirrorConfig {
  /** host[:port], optionally with an explicit http:// or https:// scheme. */
  host: string;
  insecure?: boolean;
  request_timeout_sec?: number;
  /** Extra request headers; values may be lists (joined with ", "). */
  header?: Record<string, string | string[]>;
}

/** `[resolver.host."NAME"]`: its mirrors and, for the host itself, the same per-host keys. */
export interface HostConfig {
  mirrors?: MirrorConfig[];
  insecure?: boolean;
  request_timeout_sec?: number;
  header?: Record<string, string | string[]>;
}

/** The `[resolver]` section. */
export interface ResolverConfig {
  request_timeout_sec?: number;
  host?: Record<string, HostConfig>;
  /** Our extension: the per-host certificate directories (certs.d layout) searched in order; default tls.ts's DEFAULT_CERTS_DIRS. */
  certs_dirs?: string[];
}

/** One place to send a registry's requests. */
export interface Endpoint {
  /** The registry the reference names ("docker.io"). */
  readonly registry: string;
  /** The host actually contacted ("registry-1.docker.io", a mirror's host). */
  readonly host: string;
  /** "http://127.0.0.1:5000" */
  readonly origin: string;
  readonly mirror: boolean;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

export const DEFAULT_REQUEST_TIMEOUT_SEC = 30;

/** True for hosts container tools reach over plain HTTP without being told. */
export function isLoopbackHost(host: string): boolean {
  const name = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:\d+$/, "");
  return name === "localhost" || name === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(name);
}

function headersOf(h: Record<string, string | string[]> | undefined, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (h === undefined) return out;
  if (typeof h !== "object" || h === null) throw new RegistryError("config", `${where}: header must be a table of name = value`);
  for (const [name, value] of Object.entries(h)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new RegistryError("config", `${where}: invalid header name ${JSON.stringify(name)}`);
    const v = Array.isArray(value) ? value.join(", ") : value;
    if (typeof v !== "string" || /[\r\n]/.test(v)) throw new RegistryError("config", `${where}: header ${name} must be a string or a list of strings`);
    out[name.toLowerCase()] = v;
  }
  return out;
}

function timeoutOf(sec: number | undefined, fallback: number, where: string): number {
  if (sec === undefined) return fallback;
  if (typeof sec !== "number" || !(sec > 0)) throw new RegistryError("config", `${where}: request_timeout_sec must be a positive number`);
  return sec * 1000;
}

function originOf(hostSpec: string, insecure: boolean, where: string): { host: string; origin: string } {
  const m = /^(https?):\/\/([^/]+)\/?$/.exec(hostSpec);
  const host = m ? m[2] : hostSpec;
  if (!host || /[/\s@]/.test(host)) throw new RegistryError("config", `${where}: host ${JSON.stringify(hostSpec)} must be host[:port]`);
  const scheme = m ? m[1] : insecure || isLoopbackHost(host) ? "http" : "https";
  const apiHost = host === DOCKER_HUB ? "registry-1.docker.io" : host;
  return { host: apiHost, origin: `${scheme}://${apiHost}` };
}

/** Mirrors in the configured order, then the registry itself. */
export function endpointsFor(registry: string, config: ResolverConfig = {}): Endpoint[] {
  const defaultMs = timeoutOf(config.request_timeout_sec, DEFAULT_REQUEST_TIMEOUT_SEC * 1000, "[resolver]");
  const hostCfg = config.host?.[registry] ?? (registry === DOCKER_HUB ? config.host?.["index.docker.io"] : undefined) ?? {};
  const out: Endpoint[] = [];
  (hostCfg.mirrors ?? []).forEach((m, i) => {
    const where = `[[resolver.host."${registry}".mirrors]] #${i + 1}`;
    if (!m || typeof m.host !== "string") throw new RegistryError("config", `${where}: host is required`);
    const { host, origin } = originOf(m.host, m.insecure === true, where);
    out.push({ registry, host, origin, mirror: true, headers: headersOf(m.header, where), timeoutMs: timeoutOf(m.request_timeout_sec, defaultMs, where) });
  });
  const where = `[resolver.host."${registry}"]`;
  const { host, origin } = originOf(registry, hostCfg.insecure === true, where);
  out.push({ registry, host, origin, mirror: false, headers: headersOf(hostCfg.header, where), timeoutMs: timeoutOf(hostCfg.request_timeout_sec, defaultMs, where) });
  return out;
}
