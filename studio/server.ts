// The studio's server: the page (studio/), the browser build (build/browser/, mapped to
// /build/browser/ so that the page finds it at ../build/browser/charlstm.js), the bundled
// corpus (/data/anna.txt), the bundled models (/models/NAME.safetensors, listed with what
// their metadata says in /studio/models.json), and the one loss chart the page shares with
// train.ts's loss.svg (/src/plot/loss_chart.js and the series.js it imports), on 127.0.0.1 only. Every response is cross-origin isolated (COOP
// same-origin, COEP require-corp, CORP same-origin), so the browser build may run its WASM
// threads in the page's training Worker. No CDN, nothing else: the studio works offline.
// /studio/presets.json is the library's presets, its recipe's time budget and the library's
// defaults, read from their one home (src/train/recipe.ts; the page cannot import TypeScript),
// so the page never holds a copy.
//
//   deno task studio [--port 8787] [--bundle DIR]

import { HELP_FLAG, numberFlag, parseFlags, usage, UsageError } from "../src/cli/args.ts";
import { checkBackend } from "../src/engine/engine.ts";
import { BUNDLED_MODELS } from "../src/io/models.ts";
import { decodeSafetensors } from "../src/io/safetensors.ts";
import { MODEL_DEFAULTS } from "../src/model/model.ts";
import { PRESETS, RECIPE_RULE, TRAIN_DEFAULTS } from "../src/train/recipe.ts";

/** The port when --port is not given. */
export const DEFAULT_PORT = 8787;

const here = new URL("./", import.meta.url);
const root = new URL("../", import.meta.url);

const FLAGS = {
  port: { type: "string", help: "port on 127.0.0.1 (0: any free port)", default: "8787" },
  bundle: {
    type: "string",
    help: "folder with the browser build's charlstm.js and charlstm_worker.js",
    default: "build/browser",
  },
  help: HELP_FLAG,
} as const;

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  png: "image/png",
  svg: "image/svg+xml",
  ico: "image/x-icon",
  txt: "text/plain; charset=utf-8",
  wasm: "application/wasm",
  map: "application/json",
};

/** Options for {@linkcode serveStudio}. */
export interface StudioOptions {
  /** Port on 127.0.0.1 (default 8787; 0: any free port). */
  port?: number;
  /** Folder served at /build/browser/ (default: the repository's build/browser). */
  bundleDir?: string | URL;
  /** Called once listening, with the page's URL. */
  onListen?: (url: string) => void;
  signal?: AbortSignal;
}

/**
 * What /studio/presets.json holds: the library's named presets (train.ts's), the recipe's
 * default time budget (the first choice: the recipe picks the rest), and the defaults of the
 * settings neither names (the library's).
 */
export const STUDIO_PRESETS = {
  presets: PRESETS,
  recipe: { timeBudget: RECIPE_RULE.timeBudget, lrSchedule: "cosine" },
  defaults: {
    embedding: MODEL_DEFAULTS.embedding,
    seed: MODEL_DEFAULTS.seed,
    optimizer: TRAIN_DEFAULTS.optimizer,
    backend: checkBackend(undefined),
  },
} as const;

/** The headers every response carries: the page is cross-origin isolated. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
};

/**
 * Where a request path lies on disk, or null when the studio does not serve it: /studio/ and
 * the page's own files (html, js, css, images: never the server's source), any file of the
 * browser build's folder, /data/anna.txt, the bundled models' files
 * (/models/NAME.safetensors), and the loss chart the page shares with loss.svg
 * (/src/plot/loss_chart.js, /src/plot/series.js).
 */
export function resolvePath(pathname: string, bundleDir: string | URL): URL | null {
  if (pathname === "/studio/") return new URL("index.html", here);
  if (pathname === "/data/anna.txt") return new URL("data/anna.txt", root);
  const plot = /^\/src\/plot\/(loss_chart|series)\.js$/.exec(pathname)?.[1];
  if (plot !== undefined) return new URL(`src/plot/${plot}.js`, root);
  const bundled = /^\/models\/([\w-]+)\.safetensors$/.exec(pathname)?.[1];
  if (bundled !== undefined && BUNDLED_MODELS.includes(bundled)) {
    return new URL(`models/${bundled}.safetensors`, root);
  }
  let parts: string[];
  try {
    parts = decodeURIComponent(pathname).split("/").slice(1);
  } catch {
    return null;
  }
  const name = parts.at(-1) ?? "";
  if (!/^[\w.-]+$/.test(name) || name.startsWith(".")) return null;
  if (parts.length === 2 && parts[0] === "studio" && Object.hasOwn(TYPES, extension(name))) {
    return new URL(name, here);
  }
  if (parts.length === 3 && parts[0] === "build" && parts[1] === "browser") {
    return new URL(name, dirUrl(bundleDir));
  }
  return null;
}

/** A folder as a URL ending in a slash (a string is a path, relative to the working folder). */
function dirUrl(dir: string | URL): URL {
  if (dir instanceof URL) return dir.href.endsWith("/") ? dir : new URL(dir.href + "/");
  const path = dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`;
  return new URL(
    `file://${encodeURI(path.replace(/\/*$/, "/")).replace(/[?#]/g, encodeURIComponent)}`,
  );
}

function extension(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? "" : name.slice(dot + 1).toLowerCase();
}

/**
 * The bundled models that are present, for /studio/models.json: each one's name, URL and
 * `charlstm.info` (corpus, validation loss, recipe), read from its file's header.
 */
export async function bundledModels(): Promise<
  { name: string; url: string; info: Record<string, string> }[]
> {
  const found = [];
  for (const name of BUNDLED_MODELS) {
    let info: Record<string, string> = {};
    try {
      const bytes = await Deno.readFile(new URL(`models/${name}.safetensors`, root));
      const metadata = decodeSafetensors(bytes).metadata["charlstm.info"];
      if (metadata) info = JSON.parse(metadata);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      info = { error: (e as Error).message };
    }
    found.push({ name, url: `/models/${name}.safetensors`, info });
  }
  return found;
}

/** Answers one request (see {@linkcode resolvePath} for what is served). */
export async function handle(request: Request, bundleDir: string | URL): Promise<Response> {
  const headers = new Headers({
    ...ISOLATION_HEADERS,
    "x-content-type-options": "nosniff",
    "cache-control": "no-cache",
  });
  const { pathname } = new URL(request.url);
  if (request.method !== "GET" && request.method !== "HEAD") {
    headers.set("allow", "GET, HEAD");
    return new Response("method not allowed\n", { status: 405, headers });
  }
  if (pathname === "/" || pathname === "/studio") {
    headers.set("location", "/studio/");
    return new Response(null, { status: 302, headers });
  }
  if (pathname === "/studio/models.json") {
    headers.set("content-type", "application/json");
    const body = JSON.stringify(await bundledModels());
    return new Response(request.method === "HEAD" ? null : body, { headers });
  }
  if (pathname === "/studio/presets.json") {
    headers.set("content-type", "application/json");
    const body = JSON.stringify(STUDIO_PRESETS);
    return new Response(request.method === "HEAD" ? null : body, { headers });
  }
  const file = resolvePath(pathname, bundleDir);
  if (file !== null) {
    try {
      const body = await Deno.readFile(file);
      headers.set("content-type", TYPES[extension(file.pathname)] ?? "application/octet-stream");
      return new Response(request.method === "HEAD" ? null : body, { headers });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound || e instanceof Deno.errors.IsADirectory)) throw e;
    }
  }
  headers.set("content-type", "text/plain; charset=utf-8");
  const hint = pathname.startsWith("/build/browser/")
    ? ": the browser build is missing: run `deno task build`"
    : "";
  return new Response(`not found${hint}\n`, { status: 404, headers });
}

/** Serves the studio on 127.0.0.1; the server's `finished` settles when it shuts down. */
export function serveStudio(options: StudioOptions = {}): Deno.HttpServer<Deno.NetAddr> {
  const bundleDir = options.bundleDir ?? new URL("build/browser/", root);
  return Deno.serve({
    hostname: "127.0.0.1",
    port: options.port ?? DEFAULT_PORT,
    signal: options.signal,
    onListen: ({ port }) => options.onListen?.(`http://127.0.0.1:${port}/studio/`),
  }, (request) => handle(request, bundleDir));
}

/** Runs the server from the command line; returns the exit code when it cannot start. */
export async function main(args: string[]): Promise<number> {
  let port: number, bundleDir: string | URL;
  try {
    const { values } = parseFlags(args, FLAGS);
    if (values.help) {
      console.log(usage("deno task studio [options]", FLAGS, "The charlstm studio: a web page."));
      return 0;
    }
    port = numberFlag("port", values.port, { integer: true, min: 0, max: 65535 }) ??
      DEFAULT_PORT;
    bundleDir = (values.bundle as string | undefined) ?? new URL("build/browser/", root);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`error: ${e.message}`);
    return 2;
  }
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = serveStudio({
      port,
      bundleDir,
      onListen: (url) => console.log(`charlstm studio: ${url}`),
    });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      console.error(`error: Cannot listen on 127.0.0.1:${port}: the port is in use: give --port`);
      return 2;
    }
    if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable) {
      console.error(`error: Cannot listen on 127.0.0.1:${port}: ${e.message.split("\n")[0]}`);
      return 2;
    }
    throw e;
  }
  const bundle = new URL("charlstm.js", dirUrl(bundleDir));
  try {
    await Deno.stat(bundle);
  } catch {
    console.error(`note: ${bundle.pathname} is missing: run \`deno task build\` first`);
  }
  await server.finished;
  return 0;
}

if (import.meta.main) {
  const code = await main(Deno.args);
  if (code !== 0) Deno.exit(code);
}
