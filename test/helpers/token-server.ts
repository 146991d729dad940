// A small token service for `docker-registry` token auth: issues RS256 JWTs with an x5c header
// (self-signed cert made with openssl), grants by user, and records every request it answers; over
// HTTPS when given a certificate.
import { execFileSync } from "node:child_process";
import { createPrivateKey, randomBytes, sign } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TokenRequest {
  method: string;
  user: string | undefined;
  scopes: string[];
  grantType?: string;
}

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  rootCertBundle: string;
  requests: TokenRequest[];
  /** Seconds reported as expires_in. */
  expiresIn: number;
  /** Make the next token already expired (the registry answers 401 to it). */
  staleNext: boolean;
  stop(): Promise<void>;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/**
 * `users`: name → password (Basic at GET) or refresh token (POST refresh_token grant). Authenticated
 * users get what they ask for; anonymous callers get pull on repositories under `public/` only.
 */
export async function startTokenServer(users: Record<string, { password?: string; refreshToken?: string }>,
  opts: { tls?: { cert: string; key: string } } = {}): Promise<TokenServer> {
  const dir = await mkdtemp(join(tmpdir(), "esgz-token-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "2", "-subj", "/CN=esgz-test-token"], { stdio: "ignore" });
  const key = createPrivateKey(await readFile(join(dir, "key.pem")));
  const certDer = (await readFile(join(dir, "cert.pem"), "utf8")).replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");

  const state: Omit<TokenServer, "realm" | "stop"> = {
    service: "esgz-test-registry", issuer: "esgz-test-issuer", rootCertBundle: join(dir, "cert.pem"),
    requests: [], expiresIn: 300, staleNext: false,
  };

  const issue = (user: string | undefined, scopes: string[]) => {
    const access = scopes.map((s) => {
      const [type, name, actions] = [s.slice(0, s.indexOf(":")), s.slice(s.indexOf(":") + 1, s.lastIndexOf(":")), s.slice(s.lastIndexOf(":") + 1).split(",")];
      const granted = user ? actions : name.startsWith("public/") ? actions.filter((a) => a === "pull") : [];
      return { type, name, actions: granted };
    });
    const now = Math.floor(Date.now() / 1000);
    const stale = state.staleNext;
    state.staleNext = false;
    const claims = { iss: state.issuer, sub: user ?? "", aud: state.service, iat: now, nbf: now - 10, exp: stale ? now - 600 : now + 600, jti: randomBytes(8).toString("hex"), access };
    const input = `${b64url(JSON.stringify({ alg: "RS256", typ: "JWT", x5c: [certDer] }))}.${b64url(JSON.stringify(claims))}`;
    return `${input}.${b64url(sign("sha256", Buffer.from(input), key))}`;
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://x");
      let user: string | undefined;
      let scopes = url.searchParams.getAll("scope").flatMap((s) => s.split(" ")).filter(Boolean);
      let grantType: string | undefined;
      const deny = () => { res.writeHead(401, { "content-type": "application/json" }); res.end('{"details":"bad credentials"}'); };
      if (req.method === "POST") {
        const form = new URLSearchParams(Buffer.concat(chunks).toString());
        grantType = form.get("grant_type") ?? undefined;
        scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
        const hit = Object.entries(users).find(([, u]) => u.refreshToken && u.refreshToken === form.get("refresh_token"));
        state.requests.push({ method: "POST", user: hit?.[0], scopes, grantType });
        if (!hit) return deny();
        user = hit[0];
        const token = issue(user, scopes);
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ access_token: token, expires_in: state.expiresIn, scope: scopes.join(" ") }));
      }
      const auth = req.headers.authorization;
      if (auth?.startsWith("Basic ")) {
        const [u, ...rest] = Buffer.from(auth.slice(6), "base64").toString().split(":");
        state.requests.push({ method: "GET", user: u, scopes });
        if (users[u]?.password !== rest.join(":")) return deny();
        user = u;
      } else {
        state.requests.push({ method: "GET", user: undefined, scopes });
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ token: issue(user, scopes), expires_in: state.expiresIn, issued_at: new Date().toISOString() }));
    });
  };
  // With `tls` (PEM texts): the realm is https.
  const server: Server = opts.tls ? createHttpsServer(opts.tls, handler) : createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const ts = state as TokenServer;
  ts.realm = `${opts.tls ? "https" : "http"}://127.0.0.1:${port}/token`;
  ts.stop = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  };
  return ts;
}
