// The built CLI's help and version output, as a user types them: every subcommand's help is complete
// although the subcommands' implementations load only when they run, `mount --help` is stargz-store's
// flag list (src/store/config.ts), and each text is printed once.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runCli } from "../helpers/run-cli.js";
import { usageText } from "../../src/store/config.js";
import { CHECKS } from "../../src/verify/checks.js";

const count = (text: string, re: RegExp) => text.match(new RegExp(re.source, "g"))?.length ?? 0;

test("mount --help, -h, -help: stargz-store's usage with every flag, on stdout, exit 0", async () => {
  for (const flag of ["--help", "-h", "-help", "--h"]) {
    const r = await runCli(["mount", flag]);
    assert.is(r.code, 0, `${flag}: ${r.stderr}`);
    assert.is(r.stdout, usageText(), flag);
    assert.is(r.stderr, "", flag);
  }
  const text = usageText();
  for (const f of ["--config", "--root", "--log-level", "--addr", "--metrics-address", "--memory-cache-bytes", "--version"]) {
    assert.ok(text.includes(`  ${f}`), `${f} in the mount usage`);
  }
  // flags before --help are parsed the same way (Go's flag package stops at the first error only)
  const r = await runCli(["mount", "-root", "/nonexistent", "--help"]);
  assert.is(r.code, 0);
  assert.is(r.stdout, usageText());
});

test("mount --version prints the version, not cac's", async () => {
  const r = await runCli(["mount", "--version"]);
  assert.is(r.code, 0);
  assert.is(r.stdout, "esgz-fast 0.1.0\n");
});

test("esgz-fast --help: every command listed, printed once", async () => {
  for (const args of [["--help"], ["-h"], []]) {
    const r = await runCli(args);
    assert.is(r.code, 0, args.join(" "));
    assert.is(count(r.stdout, /Usage:/), 1, r.stdout);
    for (const c of ["demo", "mount [...args]", "verify <input>", "convert <in> <out>", "store-helper [addr]"]) assert.ok(r.stdout.includes(`  ${c} `), `${c} listed`);
  }
  const bad = await runCli(["no-such-command"]);
  assert.is(bad.code, 2);
  assert.is(count(bad.stdout, /Usage:/), 1);
});

test("esgz-fast --version prints only the version", async () => {
  const r = await runCli(["--version"]);
  assert.is(r.code, 0);
  assert.match(r.stdout, /^esgz-fast\/0\.1\.0 /);
  assert.not.match(r.stdout, /Usage:/);
});

test("verify --help: usage names the command, every check and flag", async () => {
  const r = await runCli(["verify", "--help"]);
  assert.is(r.code, 0);
  assert.is(count(r.stdout, /Usage:/), 1);
  assert.match(r.stdout, /\$ esgz-fast verify <input> \[options\]/);
  for (const c of CHECKS) assert.match(r.stdout, new RegExp(`^  ${c} `, "m"));
  for (const f of ["--digest", "--size", "--toc-digest", "--diff-id", "--uncompressed-size", "--descriptor", "--layer", "--platform", "--ref-name", "--hosts-config", "--json", "--no-progress"]) {
    assert.ok(r.stdout.includes(`  ${f} `), `${f} in verify --help`);
  }
});

test("store-helper --help: what goes on stdin and the default socket; nothing read from stdin", async () => {
  const r = await runCli(["store-helper", "--help"]);
  assert.is(r.code, 0, r.stderr);
  assert.is(count(r.stdout, /Usage:/), 1);
  assert.match(r.stdout, /\$ esgz-fast store-helper \[ADDR\]/);
  assert.match(r.stdout, /default \/var\/lib\/stargz-store\/store\.sock/);
  assert.match(r.stdout, /"identityToken"/);
});

test("convert --help: usage and every flag", async () => {
  const r = await runCli(["convert", "--help"]);
  assert.is(r.code, 0);
  assert.is(count(r.stdout, /Usage:/), 1);
  assert.match(r.stdout, /\$ esgz-fast convert <in> <out>/);
  for (const f of ["--chunk-size", "--compression-level", "--min-chunk-size", "--prioritized-files", "--json", "--hosts-config"]) {
    assert.ok(r.stdout.includes(`  ${f} `), `${f} in convert --help`);
  }
});

test("convert and verify still run (their implementations load on use)", async () => {
  const v = await runCli(["verify", "/nonexistent/blob"]);
  assert.is(v.code, 2);
  assert.match(v.stderr, /\/nonexistent\/blob: no such file or directory/);
  const c = await runCli(["convert", "/nonexistent/in.tar", "/tmp/out"]);
  assert.is(c.code, 2);
  assert.match(c.stderr, /input \/nonexistent\/in\.tar does not exist/);
});

test.run();
