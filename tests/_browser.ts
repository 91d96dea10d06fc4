// Headless Chromium for the browser build (tests/browser_test.ts, bench/browser_report.ts): a
// server on 127.0.0.1 for build/browser/ and fixtures, under /iso/ with the COOP and COEP
// headers (a cross-origin isolated page) and under /plain/ without; and `run`, which runs a job
// function with the bundle on a page's main thread or in a module Worker.
//
// Chromium: $CHROMIUM, else chromium (or chromium-browser, google-chrome) on the PATH.

import type * as Browser from "../src/browser/mod.ts";
import type { Browser as Chrome } from "puppeteer-core";

/** The browser build's API (what a job gets as `lib`). */
export type Lib = typeof Browser;

/** A job: run from its source text in the page, so it may use only `lib`, `args` and globals. */
export type Job<A, R> = (lib: Lib, args: A) => Promise<R>;

const root = new URL("../", import.meta.url);

/** The Chromium executable, or null when there is none. */
export function findChromium(): string | null {
  const env = Deno.env.get("CHROMIUM");
  if (env) return env;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch {
        // not here
      }
    }
  }
  return null;
}

const WORKER_RUNNER = `self.onmessage = async ({ data }) => {
  try {
    const lib = await import(data.lib);
    const job = (0, eval)("(" + data.job + ")");
    self.postMessage({ ok: true, value: await job(lib, data.args) });
  } catch (e) {
    self.postMessage({ ok: false, error: e.name + ": " + e.message + "\\n" + e.stack });
  }
};`;

/** An open browser and its server. */
export interface BrowserHarness {
  /** Runs `job` with the bundle on a page of `kind`, on its main thread or in a Worker. */
  run<A, R>(
    kind: "iso" | "plain",
    where: "main" | "worker",
    job: Job<A, R>,
    args: A,
    beforeLoad?: string,
  ): Promise<R>;
  /** Serves `body` at /iso`path` and /plain`path`. */
  fixture(path: string, body: BodyInit, type: string): void;
  /** Paths requested so far (clear it to start again). */
  requests: string[];
  /** Errors pages reported (uncaught exceptions, console errors). */
  pageErrors: string[];
  /** The browser's name and version, for example "Chrome/156.0.8078.108". */
  version: string;
  close(): Promise<void>;
}

/** Launches Chromium (WebGPU on SwiftShader) and serves build/browser/. */
export async function openBrowser(chromium: string): Promise<BrowserHarness> {
  const { default: puppeteer } = await import("puppeteer-core");
  const fixtures = new Map<string, { body: BodyInit; type: string }>([
    ["/page.html", { body: "<!doctype html><title>charlstm</title>", type: "text/html" }],
    ["/runner.js", { body: WORKER_RUNNER, type: "text/javascript" }],
  ]);
  const requests: string[] = [];
  const pageErrors: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const { pathname } = new URL(request.url);
    requests.push(pathname);
    const m = /^\/(iso|plain)(\/.*)$/.exec(pathname);
    const headers = new Headers();
    if (m?.[1] === "iso") {
      headers.set("cross-origin-opener-policy", "same-origin");
      headers.set("cross-origin-embedder-policy", "require-corp");
    }
    const path = m?.[2] ?? "";
    const fixture = fixtures.get(path);
    if (fixture) {
      headers.set("content-type", fixture.type);
      return new Response(fixture.body, { headers });
    }
    if (path.startsWith("/build/browser/") && path.endsWith(".js")) {
      try {
        const body = await Deno.readFile(new URL(`.${path}`, root));
        headers.set("content-type", "text/javascript");
        return new Response(body, { headers });
      } catch {
        // a 404 below
      }
    }
    return new Response("not found", { status: 404, headers });
  });
  const origin = `http://127.0.0.1:${server.addr.port}`;
  let browser: Chrome;
  try {
    browser = await puppeteer.launch({
      executablePath: chromium,
      headless: true,
      args: [
        "--no-sandbox",
        "--enable-unsafe-webgpu",
        "--enable-features=Vulkan,WebGPU",
        "--use-vulkan=swiftshader",
        "--use-webgpu-adapter=swiftshader",
      ],
    });
  } catch (e) {
    await server.shutdown();
    throw e;
  }

  async function run<A, R>(
    kind: "iso" | "plain",
    where: "main" | "worker",
    job: Job<A, R>,
    args: A,
    beforeLoad?: string,
  ): Promise<R> {
    const page = await browser!.newPage();
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
    try {
      if (beforeLoad) await page.evaluateOnNewDocument(beforeLoad);
      await page.goto(`${origin}/${kind}/page.html`);
      const lib = `${origin}/${kind}/build/browser/charlstm.js`;
      const reply = await page.evaluate(
        async (where, lib, job, args) => {
          if (where === "worker") {
            const worker = new Worker("runner.js", { type: "module" });
            return await new Promise((resolve) => {
              worker.onmessage = (e) => resolve(e.data);
              worker.onerror = (e) => resolve({ ok: false, error: `worker: ${e.message}` });
              worker.postMessage({ lib, job, args });
            });
          }
          try {
            const run = (0, eval)(`(${job})`);
            return { ok: true, value: await run(await import(lib), args) };
          } catch (e) {
            return { ok: false, error: `${(e as Error).name}: ${(e as Error).message}` };
          }
        },
        where,
        lib,
        job.toString(),
        args as unknown,
      ) as { ok: boolean; value: R; error: string };
      if (!reply.ok) throw new Error(`${kind} ${where}: ${reply.error}`);
      return reply.value;
    } finally {
      await page.close();
    }
  }

  return {
    run,
    fixture: (path, body, type) => fixtures.set(path, { body, type }),
    requests,
    pageErrors,
    version: (await browser.version()).replace("HeadlessChrome", "Chrome"),
    async close() {
      await browser!.close();
      await server.shutdown();
    },
  };
}
