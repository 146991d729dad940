// The user's figure for bench:store: `podman pull IMAGE` then `podman run --rm IMAGE` (its Cmd is
// /bin/hello) with an isolated podman (src/demo/podman.ts: its own storage, runc, cgroupfs), either
// through a store's mount as an additional layer store (`:ref`) or without any (a plain pull).
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { promisify } from "node:util";
import { isolatedPodman, type Podman } from "../../src/demo/podman.js";

const sh = promisify(execFile);

/** An isolated podman with no additional layer store: isolatedPodman's set-up with that one line left out of storage.conf. */
export async function plainPodman(registryHost: string): Promise<Podman> {
  const podman = await isolatedPodman(registryHost, "/nonexistent");
  const dir = podman.dir;
  await writeFile(join(dir, "storage.conf"), [
    "[storage]", 'driver = "overlay"', `graphroot = "${dir}/graph"`, `runroot = "${dir}/run"`, "",
  ].join("\n"));
  return podman;
}

export interface PullRun { pullMs: number; runMs: number }

/** Times `podman pull REF` and then `podman run --rm REF` (the image's Cmd); checks the container ran (exit 0). */
export async function pullAndRun(podman: Podman, ref: string): Promise<PullRun> {
  let t = performance.now();
  await podman.run(["pull", "--quiet", ref]);
  const pullMs = performance.now() - t;
  t = performance.now();
  await podman.run(["run", "--rm", ref]);
  const runMs = performance.now() - t;
  return { pullMs, runMs };
}

/**
 * A tar of what /bin/true (the layers' /bin/hello) needs to start: its loader and libraries, as ldd
 * names them. The benchmark layers carry the binary without them (make-layers.sh copies "content
 * only"), so the podman image has this small layer under the two benchmark layers.
 */
export async function libcLayerTar(dir: string, out: string): Promise<void> {
  const script = String.raw`
set -eu
R=$1/root; rm -rf "$R"; mkdir -p "$R"
for l in $(ldd /bin/true | grep -o '/[^ ]*'); do mkdir -p "$R$(dirname "$l")"; cp -L "$l" "$R$l"; done
find "$R" -exec touch -h -d '2024-01-02 03:04:05 UTC' {} +
tar --format=pax --numeric-owner --sort=name -C "$R" -cf "$2" .
rm -rf "$R"
`;
  await sh("sh", ["-c", script, "sh", dir, out]);
}
