// `esgz-fast demo`: the main job on an embedded default (src/demo/run.ts): a sample image converted,
// served from a loopback registry, mounted, run with podman and read lazily.
import type { CAC } from "cac";

export function registerDemo(cli: CAC): void {
  cli
    .command("demo", "Convert a sample image, serve it from a local registry, mount the store and read it lazily (and podman run it)")
    .option("--no-podman", "Skip the podman run step")
    .action(async (flags: { podman?: boolean }) => {
      const { runDemo } = await import("../demo/run.js");
      process.exitCode = await runDemo({ noPodman: flags.podman === false });
    });
}
