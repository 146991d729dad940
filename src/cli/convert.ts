// `esgz-fast convert IN OUT`: a tar / tar.gz layer file → an eStargz layer file, or an OCI image
// layout directory → a new OCI image layout with eStargz layers. Only the flags and help live here;
// the converter (and the registry client) load when the command runs (convert-run.ts).
import type { CAC } from "cac";
import type { ConvertFlags } from "./convert-run.js";

export function register(cli: CAC): void {
  cli
    .command("convert <in> <out>", "Convert a tar/tar.gz layer, an OCI image layout or a registry image to eStargz")
    .option("--chunk-size <bytes>", "Largest chunk of a regular file (default 4194304)")
    .option("--compression-level <0-9>", "gzip level (default 9)")
    .option("--min-chunk-size <bytes>", "Group small files into shared gzip members up to this size (default 0: off)")
    .option("--prioritized-files <file>", "File listing paths to put first (one per line), then .prefetch.landmark")
    .option("--json", "Print a JSON summary on stdout")
    .option("--hosts-config <file>", "registry: hosts configuration (stargz-store [resolver] TOML)")
    .example("esgz-fast convert layer.tar layer.esgz.tar.gz")
    .example("esgz-fast convert ./oci-in ./oci-out --prioritized-files prio.txt")
    .example("esgz-fast convert registry.example/app:1 registry.example/app:1-esgz")
    .action(async (input: string, output: string, flags: ConvertFlags) => {
      const { runConvert } = await import("./convert-run.js");
      await runConvert(input, output, flags);
    });
}
