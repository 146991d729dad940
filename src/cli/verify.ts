// `esgz-fast verify INPUT`: proves a layer blob, an OCI layout's image or a registry image is what its
// descriptors, annotations and config claim, from one read of each blob. Exit 0 = everything verified,
// 1 = something did not, 2 = usage or I/O error.
// Only the help text's modules load with the CLI; the checker (and, for registry references, the
// registry client) are imported when the command runs, so other commands do not pay for them.
import type { CAC } from "cac";
import type { LayerReport } from "../verify/checks.js";
import type { InputOptions } from "../verify/inputs/resolve.js";
import { checkLegend } from "../verify/report.js";

interface VerifyFlags extends InputOptions {
  json?: boolean;
  progress?: boolean;
}

export function register(cli: CAC): void {
  cli
    .command("verify <input>", "Verify eStargz/gzip layers: a blob file, an OCI layout directory or a registry reference")
    .option("--digest <digest>", "blob file: expected sha256:… of the blob")
    .option("--size <bytes>", "blob file: expected size of the blob")
    .option("--toc-digest <digest>", "blob file: expected TOC digest (containerd.io/snapshot/stargz/toc.digest)")
    .option("--diff-id <digest>", "blob file: expected diffID (sha256 of the decompressed stream)")
    .option("--uncompressed-size <bytes>", "blob file: expected decompressed size (io.containers.estargz.uncompressed-size)")
    .option("--descriptor <file>", "blob file: an OCI descriptor JSON (digest, size, annotations); flags override it")
    .option("--layer <n|digest>", "image: verify only this layer (0-based index or digest)")
    .option("--platform <os/arch[/variant]>", "image: which manifest of an index")
    .option("--ref-name <name>", "OCI layout: the image with this org.opencontainers.image.ref.name")
    .option("--hosts-config <file>", "registry: hosts configuration (stargz-store [resolver] TOML)")
    .option("--timeout <sec>", "registry: each request, headers and body, must be over within this many seconds (default 30; retried, at most 300 s per read)")
    .option("--json", "print every check's result as JSON")
    .option("--no-progress", "no progress bar on stderr")
    .example("esgz-fast verify layer.tar.gz --digest sha256:… --toc-digest sha256:… --diff-id sha256:…")
    .example("esgz-fast verify ./oci-layout --platform linux/amd64")
    .example("esgz-fast verify registry.example.com/app:1.0 --json")
    .usage(`verify <input> [options]\n\nChecks, one column each:\n${checkLegend()}`)
    .action(async (input: string, flags: VerifyFlags) => {
      const [{ resolveInput }, { verifyLayer }, { layerFailed }, { Progress }, { formatJson, formatTable }, { TrustError }] = await Promise.all([
        import("../verify/inputs/resolve.js"), import("../verify/layer.js"), import("../verify/checks.js"),
        import("../verify/progress.js"), import("../verify/report.js"), import("../verify/target.js"),
      ]);
      let targets;
      try {
        targets = await resolveInput(String(input), flags);
      } catch (err) {
        if (err instanceof TrustError) {
          process.stderr.write(`esgz-fast verify: ${err.message}\n`);
          process.exitCode = 1;
          return;
        }
        throw err;
      }
      const progress = new Progress(process.stderr, flags.progress !== false && !!process.stderr.isTTY);
      const reports: LayerReport[] = [];
      for (const t of targets) {
        reports.push(await verifyLayer(t, { onProgress: (done, total) => progress.update(t.label, done, total) }));
        progress.clear();
      }
      process.stdout.write(flags.json ? formatJson(reports) : formatTable(reports));
      process.exitCode = reports.some(layerFailed) ? 1 : reports.some((r) => r.ioError) ? 2 : 0;
    });
}
