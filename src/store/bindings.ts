// Which manifest each looked-up layer was found in, and how many references the engine holds on it.
//
// A lookup `<ref>/<digest>` is bound to the image manifest (by digest) it was resolved from the first
// time; the binding is what the store serves from afterwards. A tag that moves changes a binding only
// while the engine holds no reference on it (and then only after the reference's TTL), so a running
// container never sees its layer's files change under it. Bindings and their reference counts live
// in `<root>/bindings.json` so that a restarted store keeps serving what the engine's images use.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

export interface Binding {
  /** The reference of the lookup (`null`: the `:ref`-less layout). */
  readonly ref: string | null;
  /** The digest looked up: a layer digest or a TOC digest. */
  readonly digest: string;
  /** The image the layer was found in, by digest: `registry/repository@sha256:…`. */
  image: string;
  /** The engine's references (`use` taken, `rmdir` not yet). */
  refs: number;
}

interface BindingLog {
  warn(msg: string, fields?: Record<string, unknown>): void;
}

const FILE_VERSION = 1;
/** Changes are written at most this often (a pull takes and releases references in bursts). */
const SAVE_DELAY_MS = 50;

export const bindingKey = (ref: string | null, digest: string): string => `${ref ?? ""}\n${digest}`;

export class BindingTable {
  private readonly table = new Map<string, Binding>();
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();

  private constructor(private readonly file: string | undefined, private readonly log: BindingLog) {}

  /** Loads `file` (absent: empty; unreadable or malformed: empty, with a warning). No file: memory only. */
  static async open(file: string | undefined, log: BindingLog): Promise<BindingTable> {
    const t = new BindingTable(file, log);
    if (!file) return t;
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") log.warn("cannot read the layer bindings; starting without", { file, error: (e as Error).message });
      return t;
    }
    try {
      const doc = JSON.parse(text) as { version?: number; bindings?: unknown[] };
      if (doc.version !== FILE_VERSION || !Array.isArray(doc.bindings)) throw new Error(`not a version ${FILE_VERSION} bindings file`);
      for (const b of doc.bindings as Binding[]) {
        const valid = (b.ref === null || typeof b.ref === "string") && typeof b.digest === "string" && typeof b.image === "string"
          && Number.isSafeInteger(b.refs) && b.refs >= 0;
        if (valid) t.table.set(bindingKey(b.ref, b.digest), { ref: b.ref, digest: b.digest, image: b.image, refs: b.refs });
      }
    } catch (e) {
      log.warn("malformed layer bindings ignored", { file, error: (e as Error).message });
    }
    return t;
  }

  get(ref: string | null, digest: string): Binding | undefined {
    return this.table.get(bindingKey(ref, digest));
  }

  /** Binds the lookup to `image` (a new binding, or one whose image changed, keeps its reference count). */
  bind(ref: string | null, digest: string, image: string): Binding {
    const key = bindingKey(ref, digest);
    let b = this.table.get(key);
    if (b && b.image === image) return b;
    if (b) b.image = image;
    else this.table.set(key, (b = { ref, digest, image, refs: 0 }));
    this.changed();
    return b;
  }

  delete(b: Binding): void {
    if (this.table.get(bindingKey(b.ref, b.digest)) === b) {
      this.table.delete(bindingKey(b.ref, b.digest));
      this.changed();
    }
  }

  values(): IterableIterator<Binding> {
    return this.table.values();
  }

  /** Call after changing a binding's `refs`: the file is rewritten shortly. */
  changed(): void {
    if (!this.file || this.saveTimer) return;
    this.saveTimer = setTimeout(() => { this.saveTimer = undefined; this.saving = this.saving.then(() => this.save()); }, SAVE_DELAY_MS);
    this.saveTimer.unref();
  }

  /** Writes pending changes now. */
  async flush(): Promise<void> {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      this.saving = this.saving.then(() => this.save());
    }
    await this.saving;
  }

  // Temp file + rename: a crash leaves the previous file whole.
  private async save(): Promise<void> {
    const file = this.file!;
    const doc = { version: FILE_VERSION, bindings: [...this.table.values()] };
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      await writeFile(tmp, JSON.stringify(doc), { mode: 0o600 });
      await rename(tmp, file);
    } catch (e) {
      this.log.warn("cannot save the layer bindings", { file, error: (e as Error).message });
    }
  }
}
