// Image references, normalised the way container tools (containers/image, docker/distribution's
// reference package) do: `alpine` → docker.io/library/alpine:latest.
import { RegistryError } from "./errors.js";

export interface Reference {
  /** Registry host as written by users, with port: "docker.io", "localhost:5000", "127.0.0.1:5000". */
  readonly registry: string;
  /** Repository path: "library/alpine". */
  readonly repository: string;
  /** Tag, if any ("latest" when neither tag nor digest was given). */
  readonly tag?: string;
  /** "sha256:<hex>", if pinned. */
  readonly digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

export const DOCKER_HUB = "docker.io";

/** True for "sha256:<64 hex>" (or sha512). */
export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/** Parses and normalises an image reference; throws a RegistryError("reference") saying what is wrong. */
export function parseReference(input: string): Reference {
  const fail = (why: string): never => {
    throw new RegistryError("reference", `invalid image reference ${JSON.stringify(input)}: ${why}`);
  };
  if (typeof input !== "string" || input.length === 0) fail("empty");
  if (/\s/.test(input)) fail("contains whitespace");
  let rest = input.replace(/^docker:\/\//, "");

  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) fail(`digest ${JSON.stringify(digest)} is not sha256:<64 hex> or sha512:<128 hex>`);
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(`tag ${JSON.stringify(tag)} must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  if (rest.length === 0) fail("no repository name");

  let registry = DOCKER_HUB;
  let repository = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    // A first component with a dot or a port, or "localhost", names a registry (as docker does).
    if (first.includes(".") || first.includes(":") || first === "localhost" || first.startsWith("[")) {
      registry = first;
      repository = rest.slice(slash + 1);
      if (!HOST.test(registry)) fail(`registry host ${JSON.stringify(registry)} is not a valid host[:port]`);
      const port = registry.match(/:(\d+)$/);
      if (port && (Number(port[1]) < 1 || Number(port[1]) > 65535)) fail(`port ${port[1]} is out of range`);
    }
  }
  if (registry === "index.docker.io" || registry === "registry-1.docker.io") registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes("/")) repository = `library/${repository}`;

  for (const comp of repository.split("/")) {
    if (comp.length === 0) fail("empty path component in the repository name");
    if (/[A-Z]/.test(comp)) fail(`repository name must be lowercase (${JSON.stringify(comp)})`);
    if (!COMPONENT.test(comp)) fail(`repository component ${JSON.stringify(comp)} must match [a-z0-9]+ separated by '.', '_', '__' or '-'`);
  }
  if (registry.length + 1 + repository.length > 255) fail("name longer than 255 characters");

  if (tag === undefined && digest === undefined) tag = "latest";
  return Object.freeze({ registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) });
}

/** Canonical string: registry/repository[:tag][@digest]. */
export function formatReference(ref: Reference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

/** Accepts a parsed reference or a string. */
export function toReference(ref: Reference | string): Reference {
  return typeof ref === "string" ? parseReference(ref) : ref;
}

/** The tag or digest the registry is asked for (digest wins when both are given, as in container tools). */
export function manifestReference(ref: Reference): string {
  return ref.digest ?? ref.tag ?? "latest";
}
