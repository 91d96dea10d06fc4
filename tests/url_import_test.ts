// mod.ts imported from a URL, with no build step on the user's side: a static server on
// 127.0.0.1 serves the repository, a script imports http://127.0.0.1:PORT/mod.ts, trains a few
// steps on two threads (the worker script comes from the same URL), samples, and must print
// exactly what the same script prints when it imports the local files.

import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);

const script = `
const { createModel, train, sample } = await import(Deno.args[0] + "/mod.ts");
const text = "hello world, hello deno.\\n".repeat(100);
const model = createModel(text, { hidden: 16, layers: 2, seed: 3 });
const result = await train(model, text, { steps: 8, batch: 4, seq: 16, threads: 2 });
console.log(JSON.stringify({ loss: result.trainLoss, text: sample(model, { prime: "hel", length: 40, seed: 1 }) }));
`;

async function runScript(base: string, denoDir: string) {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, script);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", file, base],
    env: { DENO_DIR: denoDir, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(file);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, stderr);
  return { result: JSON.parse(new TextDecoder().decode(out.stdout)), stderr };
}

Deno.test("mod.ts works imported from an http URL, threads and all", async () => {
  const served: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.includes("..")) return new Response("forbidden", { status: 403 });
    try {
      const body = await Deno.readFile(new URL("." + path, root));
      served.push(path);
      const type = path.endsWith(".ts") ? "application/typescript" : "application/octet-stream";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const denoDir = await Deno.makeTempDir({ prefix: "charlstm-denodir-" });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const remote = await runScript(base, denoDir);
    const local = await runScript(root.href.replace(/\/$/, ""), denoDir);
    assert.deepEqual(remote.result, local.result);
    assert.ok(remote.result.text.startsWith("hel"));
    assert.ok(served.includes("/mod.ts") && served.includes("/build/wasm.ts"));
    assert.ok(served.includes("/src/engine/_wasm_worker.ts"), "the worker was not loaded");
  } finally {
    await server.shutdown();
    await Deno.remove(denoDir, { recursive: true });
  }
});
