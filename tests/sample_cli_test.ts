// sample.ts --interactive and --count as a user runs them, in subprocesses, on a small
// checkpoint made here with the API: each printed sample is exactly what the single run it
// stands for prints.

import assert from "node:assert/strict";
import { beamSearch, createModel, sample, save, train } from "../mod.ts";

const root = new URL("../", import.meta.url);
const decoder = new TextDecoder();

async function run(args: string[], stdin?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "sample.ts", ...args],
    cwd: root,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

const text = "alpha beta gamma delta and the\n".repeat(40);
const dir = await Deno.makeTempDir({ prefix: "charlstm-sample-cli-" });
const checkpoint = `${dir}/small.safetensors`;
const model = createModel(text, { hidden: 16, layers: 1, seed: 1 });
await train(model, text, { steps: 10, batch: 4, seq: 16, threads: 1 });
await save(model, checkpoint);

const flags = ["--length", "40", "--top-k", "3", "--seed", "5"];
const single = async (prime: string) => {
  const r = await run([checkpoint, ...flags, "--prime", prime]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
};

Deno.test("sample.ts --interactive: each line piped in is continued as --prime LINE would be", async () => {
  const [alpha, gamma] = [await single("alpha be"), await single("gamma")];
  assert.ok(alpha.startsWith("alpha be") && alpha.endsWith("\n"));
  const r = await run([checkpoint, "--interactive", ...flags], "alpha be\ngamma\n");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, ""); // no prompt: stdin is not a terminal
  assert.equal(r.stdout, alpha + gamma);
  // The same line always gives the same text, whatever came before it.
  const swapped = await run([checkpoint, "--interactive", ...flags], "gamma\r\nalpha be");
  assert.equal(swapped.code, 0, swapped.stderr);
  assert.equal(swapped.stdout, gamma + alpha);
});

Deno.test("sample.ts --interactive: unknown characters are named, empty lines skipped, EOF ends", async () => {
  const r = await run([checkpoint, "--interactive", ...flags], "gamma\nΩ del€\n\nalpha be\n");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, (await single("gamma")) + (await single("alpha be")));
  assert.match(r.stderr, /^Cannot sample: the prime has characters .*: "Ω", "€": .*\n$/);
  const empty = await run([checkpoint, "--interactive", ...flags], "");
  assert.deepEqual(empty, { code: 0, stdout: "", stderr: "" });
});

Deno.test("sample.ts --interactive into a reader that stops early exits quietly", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "sample.ts", checkpoint, "--interactive", "--length", "100000"],
    cwd: root,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("alpha\n"));
  const reader = child.stdout.getReader();
  await reader.read();
  await reader.cancel();
  const { code } = await child.status;
  await writer.close().catch(() => {}); // the child may be gone already
  const stderr = decoder.decode(await new Response(child.stderr).arrayBuffer());
  assert.equal(code, 0, stderr);
  assert.equal(stderr, "");
});

Deno.test("sample.ts --count N: sample i is the single run with --seed SEED+i (mod 2^32)", async () => {
  const args = [checkpoint, "--length", "30", "--stop", "\n", "--top-k", "3"];
  const r = await run([...args, "--count", "3", "--seed", "4294967294"]);
  assert.equal(r.code, 0, r.stderr);
  const alone = [];
  for (const seed of ["4294967294", "4294967295", "0"]) {
    const one = await run([...args, "--seed", seed]);
    assert.equal(one.code, 0, one.stderr);
    alone.push(one.stdout);
  }
  assert.equal(r.stdout, alone.join(""));
  assert.equal(r.stdout.split("\n").length, 4); // one sample a line
  assert.notEqual(alone[0], alone[1]);
});

Deno.test("sample.ts --count and --interactive: bad input gives one line and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--count", "0"], /Invalid --count: must be an integer ≥ 1, got 0/],
    [["--count=-3"], /Invalid --count: must be an integer ≥ 1, got -3/],
    [["--count", "1.5"], /Invalid --count: "1.5" is not an integer/],
    [["--interactive", "--count", "2"], /Invalid command line: --interactive with --count/],
    [["--interactive", "--prime", "al"], /Invalid command line: --interactive with --prime/],
    [["--interactive", "--temperature", "0"], /Invalid option: temperature must be > 0/],
  ];
  for (const [given, pattern] of cases) {
    const r = await run([checkpoint, ...given], "alpha\n");
    const what = `sample.ts ${given.join(" ")}`;
    assert.equal(r.code, 2, `${what}: exit ${r.code}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("usage:"));
    assert.equal(lines.length, 1, `${what}: expected one error line, got:\n${r.stderr}`);
    assert.match(lines[0], pattern, what);
    assert.equal(r.stdout, "", `${what}: printed to stdout`);
  }
});

Deno.test("sample: a random first character that is the stop string ends the sample", () => {
  const one = createModel("aaaa", { hidden: 4, layers: 1 }); // the only character: "a"
  assert.equal(sample(one, { stop: "a", length: 5 }), "");
  assert.equal(sample(one, { stop: "b", length: 3 }), "aaa");
});

Deno.test("sample.ts --beam N prints the best beam; --all-beams every beam as a JSON line", async () => {
  const options = { prime: "alpha ", length: 30, beam: 3, stop: "\n", threads: 1 };
  const args = [checkpoint, "--prime", "alpha ", "--length", "30", "--beam", "3", "--stop", "\n"];
  const best = await run(args);
  assert.equal(best.code, 0, best.stderr);
  const text = sample(model, options);
  assert.equal(best.stdout, text.endsWith("\n") ? text : text + "\n");
  const all = await run([...args, "--all-beams"]);
  assert.equal(all.code, 0, all.stderr);
  const beams = all.stdout.trimEnd().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(beams, beamSearch(model, options));
  assert.equal(beams.length, 3);
  assert.equal("alpha " + beams[0].text, text);
  // --interactive continues each line with the same search.
  const lines = await run([
    checkpoint,
    "--interactive",
    "--length",
    "30",
    "--beam",
    "3",
    "--stop",
    "\n",
  ], "alpha \n");
  assert.equal(lines.code, 0, lines.stderr);
  assert.equal(lines.stdout, best.stdout);
  const help = await run(["--help"]);
  assert.match(help.stdout, /--beam VALUE .*beam search/);
  assert.match(help.stdout, /mean log-probability per character/);
});

Deno.test("sample.ts --beam: bad widths and draw options give one line and exit 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--beam", "0"], /^error: Invalid option: beam must be an integer ≥ 1, got 0$/],
    [["--beam=-2"], /^error: Invalid option: beam must be an integer ≥ 1, got -2$/],
    [["--beam", "1.5"], /^error: Invalid --beam: "1.5" is not an integer$/],
    [
      ["--beam", "2", "--temperature", "0.5"],
      /^error: Cannot sample: temperature \(--temperature\) does not apply to beam search: .*: leave it out$/,
    ],
    [
      ["--beam", "2", "--top-k", "3", "--greedy"],
      /^error: Cannot sample: topK \(--top-k\), greedy \(--greedy\) do not apply/,
    ],
    [["--beam", "2", "--top-p", "0.9"], /^error: Cannot sample: topP \(--top-p\) does not apply/],
    [["--all-beams"], /^error: Invalid command line: --all-beams without --beam/],
  ];
  for (const [given, pattern] of cases) {
    const r = await run([checkpoint, ...given]);
    const what = `sample.ts ${given.join(" ")}`;
    assert.equal(r.code, 2, `${what}: exit ${r.code}: ${r.stderr}`);
    const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("usage:"));
    assert.equal(lines.length, 1, `${what}: expected one error line, got:\n${r.stderr}`);
    assert.match(lines[0], pattern, what);
    assert.equal(r.stdout, "", `${what}: printed to stdout`);
  }
});
