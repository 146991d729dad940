// An OCI layout of Go-reference fixtures with their EXPECTED.tsv facts as annotations and diff_ids.
import { readFile } from "node:fs/promises";
import { writeOciLayout } from "../helpers/oci-layout.js";
import type { FixtureFacts } from "../helpers/paths.js";

export async function writeLayout(dir: string, facts: FixtureFacts[]): Promise<void> {
  const layers = [];
  for (const f of facts) layers.push({ data: await readFile(f.path), diffId: f.diffId, tocDigest: f.tocDigest, uncompressedSize: f.uncompressedSize });
  await writeOciLayout(dir, [{ layers }]);
}
