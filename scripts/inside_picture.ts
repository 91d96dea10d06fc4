// The README's picture of the studio's Inside panel, taken in headless Chromium:
//   deno run -A scripts/inside_picture.ts CHECKPOINT TEXT OUT.png [--from 0] [--chars 20000]
//     [--cell L:N]
// Opens the studio, loads the checkpoint, pastes --chars characters of TEXT from --from, traces
// them in the page's Worker and shows the first ranked cell (or --cell), the panel at the top. Needs the browser build (`deno task build`) and Chromium ($CHROMIUM or
// chromium on the PATH).

import { parseArgs } from "node:util";
import { readText } from "../mod.ts";
import { serveStudio } from "../studio/server.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    chars: { type: "string", default: "20000" },
    from: { type: "string", default: "0" },
    cell: { type: "string" },
  },
});
if (positionals.length !== 3) {
  console.error("Usage: deno run -A scripts/inside_picture.ts CHECKPOINT TEXT OUT.png");
  Deno.exit(2);
}
const [checkpoint, textPath, out] = positionals;
const from = Number(values.from);
const text = Array.from(await readText(textPath)).slice(from, from + Number(values.chars)).join("");
const chromium = Deno.env.get("CHROMIUM") ??
  (Deno.env.get("PATH") ?? "").split(":").map((d) => `${d}/chromium`).find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
if (!chromium) {
  console.error("Cannot take the picture: no Chromium: install chromium, or set $CHROMIUM");
  Deno.exit(2);
}
const root = new URL("../", import.meta.url);

const { default: puppeteer } = await import("puppeteer-core");
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ["--no-sandbox"],
});
const controller = new AbortController();
const { promise: listening, resolve } = Promise.withResolvers<string>();
const server = serveStudio({
  port: 0,
  bundleDir: new URL("build/browser/", root),
  signal: controller.signal,
  onListen: resolve,
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(await listening);
  const wait = (fn: string) => page.waitForFunction(fn, { timeout: 120_000, polling: 100 });
  await wait("studio.state.text !== null");
  const open = (await page.$("#open"))!;
  await (open as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(checkpoint);
  await wait("studio.state.model !== null");
  await page.click('input[name="inside-source"][value="paste"]');
  await page.$eval("#inside-paste", (e, t) => {
    (e as unknown as { value: string }).value = t as string;
  }, text);
  await page.click("#inside-trace");
  await wait(
    `studio.inside.state.coloured > 0 && studio.inside.state.drawn === ${
      [...text].length - 1
    } && document.querySelector("#inside-status").className.includes("ok")`,
  );
  if (values.cell) await page.evaluate(`studio.inside.showCell(${JSON.stringify(values.cell)})`);
  const shown = await page.evaluate(`(() => {
    document.querySelector("#inside-panel").scrollIntoView({ block: "start" });
    return document.querySelector("#inside-cells button.on")?.textContent ?? "";
  })()`);
  await page.screenshot({ path: out });
  console.log(`${out}: ${shown}`);
} finally {
  await browser.close();
  controller.abort();
  await server.finished;
}
