// Whom the registry client trusts over TLS, as the container tools decide it (containers/image's
// docker client and tlsclientconfig): Node's bundled CA list plus the system's CA bundle, plus per
// registry host the first `<certs dir>/<host[:port]>/` that exists among the configured certs.d
// directories, where `*.crt` files are extra CAs and a `*.cert` + `*.key` pair is the client
// certificate (mutual TLS). Files are read once per host, asynchronously; the result is a
// SecureContext that every connection to that host shares (range sockets, undici pools, proxies).
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import { RegistryError } from "./errors.js";

/** containers/image's system-wide per-host directories, in its order (the first that has the host wins). */
export const DEFAULT_CERTS_DIRS: readonly string[] = ["/etc/containers/certs.d", "/etc/docker/certs.d"];

/** Where Go's crypto/x509 (stargz-store's TLS) looks for the system bundle on Linux, in its order. */
const SYSTEM_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Gentoo
  "/etc/pki/tls/certs/ca-bundle.crt", // Fedora, RHEL 6
  "/etc/ssl/ca-bundle.pem", // openSUSE
  "/etc/pki/tls/cacert.pem", // OpenELEC
  "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", // CentOS, RHEL 7
  "/etc/ssl/cert.pem", // Alpine
];

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

export interface TlsTrustOptions {
  /** Per-host certificate directories, searched in order (default DEFAULT_CERTS_DIRS). */
  certsDirs?: readonly string[];
  /** The system CA bundle: a path, or false for none (default: $SSL_CERT_FILE, else the first of Go's paths that exists). */
  systemBundle?: string | false;
}

/** What connections to one host use. */
export interface HostTls {
  context: SecureContext;
  /** The certs.d directory read for the host, if one exists. */
  dir?: string;
}

/** The certs.d directory name for a URL host: `host[:port]`; docker.io's API host is configured as docker.io (as containers/image does). */
function dirName(host: string): string {
  return host === "registry-1.docker.io" ? "docker.io" : host;
}

export class TlsTrust {
  readonly certsDirs: readonly string[];
  private readonly systemBundle: string | false | undefined;
  private systemCas: Promise<string[]> | undefined;
  /** The context of every host without a certs.d directory: built once (see docs/decisions.md). */
  private shared: Promise<SecureContext> | undefined;
  private readonly pending = new Map<string, Promise<HostTls>>();
  private readonly done = new Map<string, HostTls>();

  constructor(opts: TlsTrustOptions = {}) {
    const dirs = opts.certsDirs ?? DEFAULT_CERTS_DIRS;
    if (!Array.isArray(dirs) || !dirs.every((d) => typeof d === "string" && d !== "")) {
      throw new RegistryError("config", "certs_dirs must be a list of directory paths");
    }
    this.certsDirs = dirs;
    this.systemBundle = opts.systemBundle;
  }

  /** The TLS settings for `host` (a URL's host: name or [v6] with an optional port); synchronous once known. */
  forHost(host: string): HostTls | Promise<HostTls> {
    const known = this.done.get(host);
    if (known) return known;
    let p = this.pending.get(host);
    if (!p) {
      p = this.load(host).then(
        (t) => { this.done.set(host, t); this.pending.delete(host); return t; },
        // Not kept: the operator may fix the files, and the next request reads them again.
        (err) => { this.pending.delete(host); throw err; },
      );
      this.pending.set(host, p);
    }
    return p;
  }

  /** The certs.d directory that holds (or would hold) `host`'s files: the one read, else in the first configured root. */
  hostDir(host: string): string {
    return this.done.get(host)?.dir ?? join(this.certsDirs[0] ?? "<certs.d>", dirName(host));
  }

  private async load(host: string): Promise<HostTls> {
    const dir = await this.findDir(dirName(host));
    if (!dir) return { context: await this.sharedContext() };
    const { cas, cert, key } = await readHostDir(dir);
    // A directory with only a client certificate still trusts exactly what every other host does.
    const ca = cas.length ? [...(await this.baseCas()), ...cas] : await this.baseCas();
    try {
      return { context: createSecureContext({ ca, cert, key }), dir };
    } catch (err) {
      throw new RegistryError("config", `${dir}: ${(err as Error).message}`);
    }
  }

  /** The first configured certs.d directory that has an entry for `name`. */
  private async findDir(name: string): Promise<string | undefined> {
    for (const base of this.certsDirs) {
      const dir = join(base, name);
      try {
        if ((await stat(dir)).isDirectory()) return dir;
      } catch { /* absent: the next one */ }
    }
    return undefined;
  }

  private sharedContext(): Promise<SecureContext> {
    this.shared ??= this.baseCas().then((ca) => createSecureContext({ ca }));
    return this.shared;
  }

  /**
   * Node's list, plus the system bundle's and $NODE_EXTRA_CA_CERTS's certificates that are not in
   * it (explicit CAs replace Node's default store, extras included): a context's CA list is parsed
   * when the context is made (~0.35 ms per certificate, measured), so duplicates are left out.
   */
  private baseCas(): Promise<string[]> {
    this.systemCas ??= Promise.all([this.readSystemBundle(), readOptional(process.env.NODE_EXTRA_CA_CERTS)]).then((texts) => {
      const seen = new Set(rootCertificates.map((p) => p.replace(/\s+/g, "")));
      const extra: string[] = [];
      for (const p of texts.filter((t) => t).join("\n").match(PEM_CERT) ?? []) {
        const key = p.replace(/\s+/g, "");
        if (!seen.has(key)) { seen.add(key); extra.push(p); }
      }
      return [...rootCertificates, ...extra];
    });
    return this.systemCas;
  }

  private async readSystemBundle(): Promise<string> {
    if (this.systemBundle === false) return "";
    const candidates = this.systemBundle ? [this.systemBundle] : process.env.SSL_CERT_FILE ? [process.env.SSL_CERT_FILE] : SYSTEM_BUNDLES;
    for (const path of candidates) {
      const text = await readOptional(path);
      if (text !== undefined) return text;
    }
    return ""; // none: Node's list alone
  }
}

async function readOptional(path: string | undefined): Promise<string | undefined> {
  if (!path) return undefined;
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

/** `*.crt` = CAs, `*.cert` + `*.key` = the client certificate; a half pair is an error, as in containers/image. */
async function readHostDir(dir: string): Promise<{ cas: string[]; cert?: string; key?: string }> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => e.name).sort();
  } catch (err) {
    throw new RegistryError("config", `cannot read ${dir}: ${(err as Error).message}`);
  }
  const read = async (name: string) => {
    try {
      return await readFile(join(dir, name), "utf8");
    } catch (err) {
      throw new RegistryError("config", `cannot read ${join(dir, name)}: ${(err as Error).message}`);
    }
  };
  const cas: string[] = [];
  let cert: string | undefined;
  let key: string | undefined;
  for (const name of names) {
    if (name.endsWith(".crt")) {
      const text = await read(name);
      if (!text.includes("-----BEGIN CERTIFICATE-----")) throw new RegistryError("config", `${join(dir, name)} holds no PEM certificate`);
      cas.push(text);
    } else if (name.endsWith(".cert")) {
      const base = name.slice(0, -".cert".length);
      if (!names.includes(`${base}.key`)) throw new RegistryError("config", `missing key ${base}.key for client certificate ${join(dir, name)} (CA certificates use the extension .crt)`);
      if (cert === undefined) { // the first pair, by name (Node's context holds one certificate per key type)
        cert = await read(name);
        key = await read(`${base}.key`);
      }
    } else if (name.endsWith(".key")) {
      const base = name.slice(0, -".key".length);
      if (!names.includes(`${base}.cert`)) throw new RegistryError("config", `missing client certificate ${base}.cert for key ${join(dir, name)}`);
    }
  }
  return { cas, cert, key };
}

/** OpenSSL's verification failures, as Node reports them in `err.code`. */
const CERT_CODES = new Set([
  "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN", "CERT_UNTRUSTED", "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID", "CERT_REVOKED", "CERT_SIGNATURE_FAILURE", "INVALID_CA", "ERR_TLS_CERT_ALTNAME_INVALID",
  "CERT_CHAIN_TOO_LONG", "PATH_LENGTH_EXCEEDED", "INVALID_PURPOSE", "HOSTNAME_MISMATCH",
]);

/** For a TLS failure, words that say what to look at (`dir`: the host's certs.d directory); undefined for other errors. */
export function tlsHint(code: string, host: string, dir = join("<certs.d>", dirName(host))): string | undefined {
  if (CERT_CODES.has(code)) return `the TLS certificate of ${host} is not trusted; a CA for it goes in ${dir}/*.crt`;
  if (/^ERR_SSL_.*(CERTIFICATE|HANDSHAKE_FAILURE|UNKNOWN_CA)/.test(code)) return `${host} refused the TLS handshake; a client certificate for it goes in ${dir}/*.cert + *.key`;
  return undefined;
}
