// Headless Chromium for the browser build (tests/browser_test.ts, bench/browser_report.ts): a
// server on 127.0.0.1 for build/browser/, fixtures and mounted files (`mount`: a file or a
// folder on disk, such as an npm package's dist/), under /iso/ with the COOP and COEP headers (a
// cross-origin isolated page) and under /plain/ without; and `run`, which runs a job function
// with the bundle on a page's main thread or in a module Worker, after classic scripts if asked
// (a UMD bundle that sets a global, such as TensorFlow.js's dist/tf.min.js).
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
    for (const src of data.scripts) {
      const response = await fetch(src);
      if (!response.ok) throw new Error("cannot load " + src + ": HTTP " + response.status);
      (0, eval)(await response.text() + "\\n//# sourceURL=" + response.url);
    }
    const lib = await import(data.lib);
    const job = (0, eval)("(" + data.job + ")");
    self.postMessage({ ok: true, value: await job(lib, data.args) });
  } catch (e) {
    self.postMessage({ ok: false, error: e.name + ": " + e.message + "\\n" + e.stack });
  }
};`;

/** What a page loads before its job runs. */
export interface RunOptions {
  /** Source evaluated in the page before any of its scripts (puppeteer's evaluateOnNewDocument). */
  beforeLoad?: string;
  /**
   * Classic scripts to run, in order, before the job, as page-relative URLs (for example a
   * mounted "tfjs/tf.min.js"): script tags on a main thread, fetched and evaluated at global
   * scope in a Worker.
   */
  scripts?: string[];
}

/** How to launch Chromium. */
export interface BrowserOptions {
  /** Time limit of one call into the page, such as a whole job, in ms (puppeteer's 180 s). */
  protocolTimeout?: number;
}

/** An open browser and its server. */
export interface BrowserHarness {
  /** Runs `job` with the bundle on a page of `kind`, on its main thread or in a Worker. */
  run<A, R>(
    kind: "iso" | "plain",
    where: "main" | "worker",
    job: Job<A, R>,
    args: A,
    options?: RunOptions,
  ): Promise<R>;
  /** Serves `body` at /iso`path` and /plain`path`. */
  fixture(path: string, body: BodyInit, type: string): void;
  /**
   * Serves the file `target` at /iso`path` and /plain`path`, read when requested; where `path`
   * ends in "/", `target` is a folder and the files below it are served below `path`.
   */
  mount(path: string, target: URL): void;
  /** Paths requested so far (clear it to start again). */
  requests: string[];
  /** Errors pages reported (uncaught exceptions, console errors). */
  pageErrors: string[];
  /** The browser's name and version, for example "Chrome/156.0.8078.108". */
  version: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  js: "text/javascript",
  mjs: "text/javascript",
  wasm: "application/wasm",
  json: "application/json",
  html: "text/html",
};

/** Launches Chromium (WebGPU on SwiftShader) and serves build/browser/. */
export async function openBrowser(
  chromium: string,
  options: BrowserOptions = {},
): Promise<BrowserHarness> {
  const { default: puppeteer } = await import("puppeteer-core");
  const fixtures = new Map<string, { body: BodyInit; type: string }>([
    ["/page.html", { body: "<!doctype html><title>charlstm</title>", type: "text/html" }],
    ["/runner.js", { body: WORKER_RUNNER, type: "text/javascript" }],
  ]);
  const mounts = new Map<string, URL>();
  // The file a mounted path stands for, or null.
  const mounted = (path: string): URL | null => {
    const file = mounts.get(path);
    if (file) return file;
    for (const [prefix, dir] of mounts) {
      if (!prefix.endsWith("/") || !path.startsWith(prefix)) continue;
      let parts: string[];
      try {
        parts = path.slice(prefix.length).split("/").map(decodeURIComponent);
      } catch {
        return null;
      }
      // nothing outside the folder: no "..", nor a "/" that was percent-encoded
      if (parts.some((part) => ["", ".", ".."].includes(part) || part.includes("/"))) return null;
      const base = dir.href.endsWith("/") ? dir : new URL(`${dir.href}/`);
      return new URL(parts.map(encodeURIComponent).join("/"), base);
    }
    return null;
  };
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
    const file = path.startsWith("/build/browser/") && path.endsWith(".js")
      ? new URL(`.${path}`, root)
      : mounted(path);
    if (file) {
      try {
        const body = await Deno.readFile(file);
        headers.set("content-type", TYPES[path.split(".").pop()!] ?? "application/octet-stream");
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
      ...options.protocolTimeout ? { protocolTimeout: options.protocolTimeout } : {},
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
    { beforeLoad, scripts = [] }: RunOptions = {},
  ): Promise<R> {
    const page = await browser!.newPage();
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
    try {
      if (beforeLoad) await page.evaluateOnNewDocument(beforeLoad);
      await page.goto(`${origin}/${kind}/page.html`);
      if (where === "main") {
        for (const src of scripts) await page.addScriptTag({ url: new URL(src, page.url()).href });
      }
      const lib = `${origin}/${kind}/build/browser/charlstm.js`;
      const reply = await page.evaluate(
        async (where, lib, job, args, scripts) => {
          if (where === "worker") {
            const worker = new Worker("runner.js", { type: "module" });
            return await new Promise((resolve) => {
              worker.onmessage = (e) => resolve(e.data);
              worker.onerror = (e) => resolve({ ok: false, error: `worker: ${e.message}` });
              worker.postMessage({ lib, job, args, scripts });
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
        scripts,
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
    mount: (path, target) => mounts.set(path, target),
    requests,
    pageErrors,
    version: (await browser.version()).replace("HeadlessChrome", "Chrome"),
    async close() {
      await browser!.close();
      await server.shutdown();
    },
  };
}
