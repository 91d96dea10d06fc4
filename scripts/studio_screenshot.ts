// Captures the README's picture of the studio: the bundled corpus, the tiny preset trained for
// a while in headless Chromium, and a prompt written with it, at 1280×900.
//
//   deno run -A scripts/studio_screenshot.ts [--out studio/screenshot.png] [--steps 300]
//
// The browser build comes from build/browser/ (or $STUDIO_BUNDLE); Chromium is $CHROMIUM or
// /usr/bin/chromium.

import { parseArgs } from "node:util";
import { serveStudio } from "../studio/server.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    out: { type: "string", default: "studio/screenshot.png" },
    steps: { type: "string", default: "300" },
    prompt: { type: "string", default: "Anna " },
  },
});

const { default: puppeteer } = await import("puppeteer-core");
const controller = new AbortController();
const { promise: listening, resolve } = Promise.withResolvers<string>();
const server = serveStudio({
  port: 0,
  bundleDir: Deno.env.get("STUDIO_BUNDLE"),
  signal: controller.signal,
  onListen: resolve,
});
const url = await listening;
const browser = await puppeteer.launch({
  executablePath: Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox"],
});
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => console.error(`page error: ${e}`));
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(url);
  const wait = (condition: string, timeout = 120_000) =>
    page.waitForFunction(condition, { timeout, polling: 100 });
  await wait("globalThis.studio?.state.text !== null && globalThis.studio?.state.ready");
  await page.$eval('#settings [name="amount"]', (e, v) => {
    (e as unknown as { value: string }).value = v;
  }, values.steps);
  await page.$eval('#settings [name="sampleEvery"]', (e) => {
    (e as unknown as { value: string }).value = "50";
  });
  await page.click("#train");
  await wait("!studio.state.training && studio.state.model !== null", 600_000);
  await page.$eval("#prompt", (e, v) => {
    (e as unknown as { value: string }).value = v;
  }, values.prompt);
  await page.click("#write");
  await wait(`document.querySelector("#output").dataset.done !== undefined`);
  await page.evaluate(() =>
    (globalThis as unknown as { scrollTo(x: number, y: number): void })
      .scrollTo(0, 0)
  );
  await page.screenshot({ path: values.out });
  const size = (await Deno.stat(values.out)).size;
  console.log(`${values.out}: ${size} bytes`);
} finally {
  await browser.close();
  controller.abort();
  await server.finished;
}
