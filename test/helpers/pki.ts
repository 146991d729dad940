// Certificate authorities made in the test with the openssl CLI (ECDSA P-256, valid two days): a CA,
// and server or client certificates it signs, as PEM files in a directory.
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileP = promisify(execFile);
const openssl = (args: string[]) => execFileP("openssl", args, { timeout: 30_000 });
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export interface Issued {
  /** PEM file paths. */
  cert: string;
  key: string;
}

export interface TestCa {
  /** The CA certificate (PEM file path). */
  cert: string;
  /** Signs a leaf for `dns` / `ips` (server), or a client certificate. */
  issue(name: string, opts: { dns?: string[]; ips?: string[]; client?: boolean }): Promise<Issued>;
}

/** A new CA named `name`, its files in `dir` (prefixed by `name`). */
export async function makeCa(dir: string, name: string): Promise<TestCa> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await openssl(["req", "-x509", ...EC, "-keyout", key, "-out", cert, "-days", "2", "-subj", `/CN=${name}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  return {
    cert,
    async issue(leaf, opts) {
      const base = join(dir, `${name}-${leaf}`);
      await openssl(["req", ...EC, "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${leaf}`]);
      const san = [...(opts.dns ?? []).map((d) => `DNS:${d}`), ...(opts.ips ?? []).map((i) => `IP:${i}`)];
      await writeFile(`${base}.ext`, [
        ...(san.length ? [`subjectAltName=${san.join(",")}`] : []),
        `extendedKeyUsage=${opts.client ? "clientAuth" : "serverAuth"}`,
      ].join("\n") + "\n");
      await openssl(["x509", "-req", "-in", `${base}.csr`, "-CA", cert, "-CAkey", key, "-CAcreateserial", "-out", `${base}.pem`, "-days", "2", "-extfile", `${base}.ext`]);
      return { cert: `${base}.pem`, key: `${base}.key` };
    },
  };
}
