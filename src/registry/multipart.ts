// A streaming parser of `multipart/byteranges` bodies (RFC 9110 §14.6): part headers are read as
// text, part bodies are not scanned for boundaries (their length is known from Content-Range) and
// go straight into the RangeWriter.
import { RegistryError } from "./errors.js";
import { parseContentRange, type RangeWriter } from "./ranges.js";

const MAX_HEADER_TEXT = 16 * 1024;

/** The boundary of a `multipart/byteranges; boundary=…` Content-Type, or undefined for other types. */
export function byterangesBoundary(contentType: string | string[] | undefined): string | undefined {
  const ct = Array.isArray(contentType) ? contentType[0] : contentType;
  if (!ct || !/^\s*multipart\/byteranges\b/i.test(ct)) return undefined;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(ct);
  return m ? m[1] ?? m[2] : undefined;
}

export class MultipartSink {
  private text = ""; // latin1: one char per byte
  private remaining = 0; // body bytes left in the current part
  private pos = 0; // blob position of the next body byte
  private finished = false;
  private parts = 0;
  private readonly delimiter: string;

  constructor(boundary: string, private readonly writer: RangeWriter, private readonly blobSize: number | undefined, private readonly what: () => string) {
    this.delimiter = `--${boundary}`;
  }

  private fail(why: string): never {
    throw new RegistryError("protocol", `multipart/byteranges: ${why} ${this.what()}`, { retriable: true });
  }

  data(chunk: Uint8Array): boolean {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i);
        this.writer.write(this.pos, chunk.subarray(i, i + n));
        this.pos += n;
        this.remaining -= n;
        i += n;
        continue;
      }
      if (this.finished) return false; // epilogue: ignored
      // Between parts: collect text until a delimiter and its header block (or the close delimiter).
      const take = Math.min(chunk.length - i, 4096);
      this.text += Buffer.from(chunk.buffer, chunk.byteOffset + i, take).toString("latin1");
      i += take;
      const consumed = this.parseText();
      if (consumed < 0) continue; // need more text
      // Give back what followed the header block: it is body.
      const extra = this.text.length - consumed;
      this.text = "";
      i -= extra;
    }
    return false;
  }

  /** Returns how many chars of `text` were used, or -1 when more is needed. */
  private parseText(): number {
    const d = this.text.indexOf(this.delimiter);
    if (d < 0) {
      if (this.text.length > MAX_HEADER_TEXT) this.fail("no boundary found");
      return -1;
    }
    const after = d + this.delimiter.length;
    if (this.text.length < after + 2) return -1;
    if (this.text.startsWith("--", after)) {
      this.finished = true;
      return this.text.length; // the rest is epilogue
    }
    const headEnd = this.text.indexOf("\r\n\r\n", after);
    if (headEnd < 0) {
      if (this.text.length > MAX_HEADER_TEXT) this.fail("part headers too long");
      return -1;
    }
    const headers = this.text.slice(after, headEnd).split("\r\n");
    let range: ReturnType<typeof parseContentRange>;
    for (const h of headers) {
      const colon = h.indexOf(":");
      if (colon > 0 && h.slice(0, colon).trim().toLowerCase() === "content-range") {
        range = parseContentRange(h.slice(colon + 1));
        if (!range) this.fail(`bad part Content-Range ${JSON.stringify(h.slice(colon + 1).trim())}`);
      }
    }
    if (!range) this.fail(`part ${this.parts + 1} without Content-Range`);
    if (this.blobSize !== undefined && range.total !== undefined && range.total !== this.blobSize) {
      this.fail(`part Content-Range total ${range.total} differs from the blob size ${this.blobSize}`);
    }
    this.parts++;
    this.pos = range.start;
    this.remaining = range.end - range.start + 1;
    return headEnd + 4;
  }

  end(): void {
    if (this.remaining > 0) {
      throw new RegistryError("network", `multipart body ended ${this.remaining} bytes into a part (truncated) ${this.what()}`, { retriable: true });
    }
    if (!this.finished) this.fail("body ended without the closing boundary");
  }
}
