// A plain-JavaScript model of the TOC index rules (from JSON.parse), to check the Wasm index
// field by field: names cleaned, implicit parents, last duplicate wins, hardlinks resolved, link
// counts, chunk lists resolved, compressedEnd, landmarks. Written for clarity, not speed.

export interface ModelChunk {
  offset: number;
  size: number;
  member: number;
  inner: number;
  end: number;
  digest: string | null;
}

export interface ModelNode {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  userName: string;
  groupName: string;
  size: number;
  mtimeSec: number;
  mtimeNsec: number;
  devMajor: number;
  devMinor: number;
  linkName: string;
  xattrs: Array<[string, Uint8Array]>;
  digest: string | null;
  chunks: ModelChunk[];
  children: string[];
  nlink: number;
  implicit: boolean;
  /** Final target of a hardlink (cleaned name). */
  target: string;
  parent: string;
}

export interface Model {
  nodes: Map<string, ModelNode>;
  /** TOC order: the JSON entries' types and cleaned names. */
  entries: Array<{ type: string; name: string }>;
  landmark: 0 | 1 | 2;
  prefetchEnd: number;
}

export function cleanName(name: string): string {
  const out: string[] = [];
  for (const seg of name.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length === 0) throw new Error(`name escapes the root: ${name}`);
      out.pop();
      continue;
    }
    out.push(seg);
  }
  return out.join("/");
}

/** RFC 3339 → [seconds, nanoseconds]. */
export function parseModtime(s: string | undefined): [number, number] {
  if (!s) return [0, 0];
  const m = /^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:[Zz]|([+-])(\d\d):(\d\d))$/.exec(s);
  if (!m) throw new Error(`bad modtime ${s}`);
  let sec = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000;
  if (m[8]) sec -= (m[8] === "-" ? -1 : 1) * (+m[9] * 3600 + +m[10] * 60);
  const nsec = m[7] ? +(m[7] + "00000000").slice(0, 9) : 0;
  return [sec, nsec];
}

const hexOf = (d: string | undefined): string | null => (d ? d.slice("sha256:".length) : null);

function node(name: string, e: Record<string, any>, implicit: boolean, parent: string): ModelNode {
  const [mtimeSec, mtimeNsec] = parseModtime(e.modtime);
  const type = e.type as string;
  return {
    name, type, mode: e.mode ?? 0, uid: e.uid ?? 0, gid: e.gid ?? 0, userName: e.userName ?? "",
    groupName: e.groupName ?? "", size: type === "reg" ? e.size ?? 0 : 0, mtimeSec, mtimeNsec,
    devMajor: type === "char" || type === "block" ? e.devMajor ?? 0 : 0,
    devMinor: type === "char" || type === "block" ? e.devMinor ?? 0 : 0,
    linkName: type === "symlink" || type === "hardlink" ? e.linkName ?? "" : "",
    xattrs: Object.entries((e.xattrs ?? {}) as Record<string, string | null>).map(([k, v]) => [k, new Uint8Array(Buffer.from(v ?? "", "base64"))]),
    digest: type === "reg" ? hexOf(e.digest) : null, chunks: [], children: [], nlink: 1, implicit, target: "", parent,
  };
}

export function model(json: string, tocOffset = -1): Model {
  const toc = JSON.parse(json) as { entries: Array<Record<string, any>> };
  const nodes = new Map<string, ModelNode>();
  nodes.set("", node("", { type: "dir", mode: 0o755 }, true, ""));
  const entries: Model["entries"] = [];
  const raw = new Map<ModelNode, Array<{ e: Record<string, any> }>>();
  // an entry without an owner name gets the last one given for its id, in TOC order (Go's reader)
  const users = new Map<number, string>(), groups = new Map<number, string>();
  const owner = (names: Map<number, string>, id: number, given: string | null | undefined) =>
    given ? (names.set(id, given), given) : names.get(id) ?? "";
  for (const raw0 of toc.entries) {
    const name = cleanName(raw0.name);
    entries.push({ type: raw0.type, name });
    if (raw0.type === "chunk") {
      raw.get(nodes.get(name)!)!.push({ e: raw0 });
      continue;
    }
    const e: Record<string, any> = { ...raw0, userName: owner(users, raw0.uid ?? 0, raw0.userName), groupName: owner(groups, raw0.gid ?? 0, raw0.groupName) };
    if (name === "") {
      const old = nodes.get("")!;
      const n = node("", e, false, "");
      n.children = old.children;
      nodes.set("", n);
      continue;
    }
    const parentName = name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : "";
    // implicit parents, outermost first
    const missing: string[] = [];
    for (let p = parentName; p !== "" && !nodes.has(p); p = p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : "") missing.unshift(p);
    for (const p of missing) {
      const pp = p.includes("/") ? p.slice(0, p.lastIndexOf("/")) : "";
      nodes.set(p, node(p, { type: "dir", mode: 0o755 }, true, pp));
      nodes.get(pp)!.children.push(p);
    }
    const parent = nodes.get(parentName)!;
    const n = node(name, e, false, parentName);
    const old = nodes.get(name);
    if (old) {
      parent.children.splice(parent.children.indexOf(name), 1);
      if (old.type === "dir" && e.type === "dir") n.children = old.children;
    }
    parent.children.push(name);
    nodes.set(name, n);
    if (e.type === "reg" && (e.size ?? 0) > 0) raw.set(n, [{ e }]);
  }
  // chunk lists
  const members: number[] = [];
  for (const list of raw.values()) for (const { e } of list) members.push(e.offset ?? 0);
  const sorted = [...new Set(members)].sort((a, b) => a - b);
  const endOf = (o: number) => {
    let lo = 0, hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] <= o) lo = mid + 1;
      else hi = mid;
    }
    return lo < sorted.length ? sorted[lo] : tocOffset;
  };
  for (const [n, list] of raw) {
    if (nodes.get(n.name) !== n) continue;
    n.chunks = list.map(({ e }, k) => {
      const offset = e.chunkOffset ?? 0;
      const size = e.chunkSize || (k === list.length - 1 ? n.size - offset : 0);
      return { offset, size, member: e.offset ?? 0, inner: e.innerOffset ?? 0, end: endOf(e.offset ?? 0), digest: hexOf(e.chunkDigest) };
    });
  }
  // hardlinks and link counts
  for (const n of nodes.values()) {
    if (n.type === "dir") n.nlink = 2 + n.children.filter((c) => nodes.get(c)!.type === "dir").length;
  }
  for (const n of nodes.values()) {
    if (n.type !== "hardlink") continue;
    let t = nodes.get(cleanName(n.linkName))!;
    const seen = new Set([n]);
    while (t.type === "hardlink") {
      if (seen.has(t)) throw new Error(`hardlinks form a loop through ${n.name}`); // (fuzzed TOCs)
      seen.add(t);
      t = nodes.get(cleanName(t.linkName))!;
    }
    n.target = t.name;
    t.nlink++;
  }
  for (const n of nodes.values()) if (n.type === "hardlink") n.nlink = nodes.get(n.target)!.nlink;
  let landmark: Model["landmark"] = 0, prefetchEnd = 0;
  if (nodes.has(".no.prefetch.landmark")) landmark = 2;
  else if (nodes.has(".prefetch.landmark")) {
    landmark = 1;
    prefetchEnd = nodes.get(".prefetch.landmark")!.chunks[0]?.member ?? 0;
  }
  return { nodes, entries, landmark, prefetchEnd };
}
