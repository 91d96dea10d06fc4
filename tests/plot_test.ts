// loss.svg: well-formed, self-contained XML with one path per series (training loss, validation
// loss, learning rate) and one point per event of that kind; the series across a resume and a
// divergence; and --time's duration forms.

import assert from "node:assert/strict";
import { lossSvg, type PlotEvent, runSeries, smooth, ticks } from "../src/cli/_plot.ts";
import { type ChartNode, lossChart, STUDIO_LAYOUT, svgDocument } from "../src/plot/loss_chart.js";
import { parseDuration } from "../src/cli/_train_flags.ts";

interface Element {
  name: string;
  attrs: Record<string, string>;
  children: Element[];
}

/**
 * A strict reader of the XML subset an SVG needs: a declaration, elements with double- or
 * single-quoted attributes (each name once, no `<` and only entity `&` in values), text with
 * only entity `&`, comments; every tag closed in order, one root. Throws at the first fault.
 */
function parseXml(xml: string): Element {
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`${why} at offset ${i}: ${JSON.stringify(xml.slice(i, i + 40))}`);
  };
  const entity = /^&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;
  const checkAmpersands = (text: string) => {
    for (let k = text.indexOf("&"); k >= 0; k = text.indexOf("&", k + 1)) {
      if (!entity.test(text.slice(k))) fail(`bare & in ${JSON.stringify(text)}`);
    }
  };
  if (xml.startsWith("<?xml")) {
    const end = xml.indexOf("?>");
    if (end < 0) fail("unterminated declaration");
    i = end + 2;
  }
  const root: Element = { name: "#document", attrs: {}, children: [] };
  const stack: Element[] = [root];
  const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*/;
  while (i < xml.length) {
    if (xml.startsWith("<!--", i)) {
      const end = xml.indexOf("-->", i);
      if (end < 0) fail("unterminated comment");
      i = end + 3;
    } else if (xml.startsWith("</", i)) {
      i += 2;
      const name = NAME.exec(xml.slice(i))?.[0] ?? fail("end tag without a name");
      i += name.length;
      while (/\s/.test(xml[i])) i++;
      if (xml[i] !== ">") fail("end tag not closed");
      i++;
      const open = stack.pop()!;
      if (open.name !== name) fail(`</${name}> closes <${open.name}>`);
      if (stack.length === 0) fail("end tag without a start tag");
    } else if (xml[i] === "<") {
      i++;
      const name = NAME.exec(xml.slice(i))?.[0] ?? fail("start tag without a name");
      i += name.length;
      const el: Element = { name, attrs: {}, children: [] };
      for (;;) {
        const space = /^\s*/.exec(xml.slice(i))![0].length;
        i += space;
        if (xml.startsWith("/>", i)) {
          i += 2;
          stack[stack.length - 1].children.push(el);
          break;
        }
        if (xml[i] === ">") {
          i++;
          stack[stack.length - 1].children.push(el);
          stack.push(el);
          break;
        }
        if (space === 0) fail("attributes not separated by white space");
        const attr = NAME.exec(xml.slice(i))?.[0] ?? fail("bad attribute name");
        i += attr.length;
        if (xml[i] !== "=") fail(`attribute ${attr} without =`);
        i++;
        const quote = xml[i];
        if (quote !== '"' && quote !== "'") fail(`attribute ${attr} value not quoted`);
        const end = xml.indexOf(quote, i + 1);
        if (end < 0) fail("unterminated attribute value");
        const value = xml.slice(i + 1, end);
        if (value.includes("<")) fail(`< in attribute ${attr}`);
        checkAmpersands(value);
        if (attr in el.attrs) fail(`attribute ${attr} twice`);
        el.attrs[attr] = value;
        i = end + 1;
      }
    } else {
      const end = xml.indexOf("<", i);
      const text = xml.slice(i, end < 0 ? xml.length : end);
      if (text.includes(">")) fail("> in text");
      checkAmpersands(text);
      if (stack.length === 1 && text.trim() !== "") fail("text outside the root");
      i = end < 0 ? xml.length : end;
    }
  }
  if (stack.length !== 1) fail(`<${stack[stack.length - 1].name}> never closed`);
  if (root.children.length !== 1) throw new Error(`${root.children.length} root elements`);
  return root.children[0];
}

function* walk(el: Element): Generator<Element> {
  yield el;
  for (const child of el.children) yield* walk(child);
}

/** The points of a path's `d` (M and L commands only, as loss.svg writes them). */
function points(d: string): [number, number][] {
  if (d.trim() === "") return [];
  return d.trim().split(/\s+/).map((cmd) => {
    const m = /^[ML](-?[\d.]+),(-?[\d.]+)$/.exec(cmd);
    assert.ok(m, `path command ${cmd}`);
    return [Number(m[1]), Number(m[2])];
  });
}

/** A log of a run: steps 1..n, validation every `valEvery`, a cosine-like lr. */
function runLog(n: number, valEvery: number, startStep = 0, t0 = 0): PlotEvent[] {
  const events: PlotEvent[] = [
    { type: "start", step: startStep, totalSteps: startStep + n, trainTime: t0 },
  ];
  for (let k = 1; k <= n; k++) {
    const step = startStep + k;
    events.push({
      type: "step",
      step,
      loss: 4 * Math.exp(-step / 50) + 1.5 + 0.1 * Math.sin(step),
      lr: 0.002 * (1 + Math.cos(Math.PI * step / (startStep + n))) / 2,
      elapsedMs: k * 150,
      trainTime: t0 + k * 0.15,
    });
    if (step % valEvery === 0 || k === n) {
      events.push({ type: "validation", step, valLoss: 4 * Math.exp(-step / 60) + 1.6 });
    }
  }
  events.push({ type: "done", step: startStep + n });
  return events;
}

function checkSvg(svg: string, counts: { train: number; val: number; lr: number }) {
  const root = parseXml(svg);
  assert.equal(root.name, "svg");
  assert.equal(root.attrs.xmlns, "http://www.w3.org/2000/svg");
  const all = [...walk(root)];
  // Self-contained: no scripts, no links, nothing fetched.
  assert.ok(!all.some((e) => ["script", "image", "use", "a", "foreignObject"].includes(e.name)));
  for (const e of all) {
    for (const [name, value] of Object.entries(e.attrs)) {
      assert.ok(!/href$/i.test(name) && !/^on/i.test(name), `attribute ${name}`);
      assert.ok(!/url\(|https?:\/\/(?!www\.w3\.org\/2000\/svg)/.test(value), `${name}=${value}`);
    }
  }
  const paths = all.filter((e) => e.name === "path");
  assert.deepEqual(paths.map((p) => p.attrs.id).sort(), ["lr", "train-loss", "val-loss"]);
  const byId = Object.fromEntries(paths.map((p) => [p.attrs.id, points(p.attrs.d)]));
  assert.equal(byId["train-loss"].length, counts.train);
  assert.equal(byId["val-loss"].length, counts.val);
  assert.equal(byId["lr"].length, counts.lr);
  const [w, h] = [Number(root.attrs.width), Number(root.attrs.height)];
  for (const [id, pts] of Object.entries(byId)) {
    for (const [x, y] of pts) {
      assert.ok(x >= 0 && x <= w && y >= 0 && y <= h, `${id} point ${x},${y} off the picture`);
    }
  }
  return { root, byId };
}

Deno.test("loss.svg: well-formed, self-contained, one path per series, a point per event", () => {
  const events = runLog(300, 50);
  const svg = lossSvg(events);
  const { root, byId } = checkSvg(svg, { train: 300, val: 6, lr: 300 });
  const texts = [...walk(root)].filter((e) => e.name === "text");
  assert.ok(texts.length > 10);
  // Steps run left to right; the lr path falls to the right (cosine); the val loss falls.
  const train = byId["train-loss"];
  assert.ok(train.every(([x], i) => i === 0 || x > train[i - 1][0]));
  const lr = byId["lr"];
  assert.ok(lr[lr.length - 1][1] > lr[0][1], "lr ends lower on the picture than it starts");
  assert.match(svg, /seconds of training/);
  assert.match(svg, />step</);
});

Deno.test("loss.svg: empty, tiny and long runs still draw", () => {
  checkSvg(lossSvg([]), { train: 0, val: 0, lr: 0 });
  checkSvg(lossSvg(runLog(1, 10)), { train: 1, val: 1, lr: 1 });
  // Longer than a call takes arguments, and over two minutes: the top axis is in minutes.
  const long = lossSvg(runLog(150_000, 1000));
  checkSvg(long, { train: 150_000, val: 150, lr: 150_000 });
  assert.match(long, /minutes of training/);
});

Deno.test("runSeries: a resumed run continues; a new run restarts; a divergence cuts back", () => {
  const first = runLog(100, 20);
  const resumed = runLog(50, 20, 80, 12); // resumed from a checkpoint at step 80
  const s = runSeries([...first, ...resumed]);
  assert.equal(s.train.length, 130);
  assert.deepEqual(s.train.map(([step]) => step), Array.from({ length: 130 }, (_, i) => i + 1));
  assert.deepEqual(s.val.map(([step]) => step), [20, 40, 60, 80, 100, 120, 130]);
  assert.equal(runSeries([...first, ...runLog(10, 5)]).train.length, 10);
  const diverged: PlotEvent[] = [
    ...runLog(30, 10).slice(0, -1),
    { type: "diverged", step: 31, restoredStep: 25 },
    { type: "step", step: 26, loss: 2, lr: 0.001, trainTime: 5 },
  ];
  assert.deepEqual(runSeries(diverged).train.map(([step]) => step).slice(-3), [24, 25, 26]);
  assert.equal(runSeries(diverged).val.at(-1)![0], 20);
});

Deno.test("smooth and ticks", () => {
  assert.deepEqual(smooth([3, 3, 3]), [3, 3, 3]);
  const noisy = Array.from({ length: 600 }, (_, i) => 2 + (i % 2 ? 0.5 : -0.5));
  const s = smooth(noisy);
  assert.equal(s.length, 600);
  assert.ok(Math.abs(s[599] - 2) < 0.05);
  assert.deepEqual(ticks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(ticks(1.3, 4.4, 5), [2, 3, 4]);
  assert.deepEqual(ticks(0, 0.002, 4), [0, 0.0005, 0.001, 0.0015, 0.002]);
});

Deno.test("one chart: loss.svg and the studio's chart draw with one module and one tick rule", async () => {
  const events = runLog(3000, 250);
  assert.equal(lossSvg(events), svgDocument(lossChart(runSeries(events))));
  const file = lossChart(runSeries(events));
  const page = lossChart(runSeries(events), { ...STUDIO_LAYOUT, lastStep: 3000 });
  // The tick labels of one axis: text of that part, without the rotated axis titles.
  const labels = (nodes: ChartNode[], part: string, anchor?: string) =>
    nodes.filter((n) =>
      n.name === "text" && n.part === part && !n.attrs.transform &&
      (anchor === undefined || n.attrs["text-anchor"] === anchor)
    ).map((n) => n.text);
  // The same loss and learning-rate axes, whatever the size.
  const lossLabels = labels(file.nodes, "axis", "end");
  assert.ok(lossLabels.length >= 3, String(lossLabels));
  assert.deepEqual(labels(page.nodes, "axis", "end"), lossLabels);
  const lrLabels = labels(file.nodes, "axis lr");
  assert.ok(lrLabels.length >= 3);
  assert.deepEqual(labels(page.nodes, "axis lr"), lrLabels);
  // Both step axes are `ticks` of their range: round values 1, 2 or 5 × 10^k apart.
  for (const [chart, count] of [[file, 8], [page, STUDIO_LAYOUT.stepTicks]] as const) {
    const steps = labels(chart.nodes, "axis", "middle").filter((t) => /^\d+$/.test(t!)).map(Number);
    const { x0, x1 } = chart.scales;
    assert.deepEqual(steps, ticks(x0, x1, count).filter((t) => t >= x0 && t <= x1));
    const gap = steps[1] - steps[0];
    assert.ok([1, 2, 5].includes(gap / 10 ** Math.floor(Math.log10(gap))), String(gap));
  }
  // The studio draws one point per pixel column: a long run costs what a short one does.
  const train = page.nodes.find((n) => n.part === "series train")!;
  assert.ok(points(train.attrs.d).length <= STUDIO_LAYOUT.width, "one point per column");
  // The page loads the shared module itself, not a copy.
  const studio = await Deno.readTextFile(new URL("../studio/chart.js", import.meta.url));
  assert.match(
    studio,
    /import \{ lossChart, STUDIO_LAYOUT \} from "\.\.\/src\/plot\/loss_chart\.js"/,
  );
  assert.match(studio, /lossChart\(\{[^]*\}, \{ \.\.\.STUDIO_LAYOUT, lastStep: this\.total \}\)/);
});

Deno.test("--time: the duration forms, and what is not one", () => {
  assert.equal(parseDuration("90s"), 90);
  assert.equal(parseDuration("10m"), 600);
  assert.equal(parseDuration("1h"), 3600);
  assert.equal(parseDuration("1h30m"), 5400);
  assert.equal(parseDuration("1h30m15s"), 5415);
  assert.equal(parseDuration("2m30s"), 150);
  assert.equal(parseDuration("1.5h"), 5400);
  assert.equal(parseDuration("0.5s"), 0.5);
  for (const bad of ["", "10", "10x", "m", "1m1h", "-5m", "1h 30m", "10min", "1e3s"]) {
    assert.throws(() => parseDuration(bad), /Invalid --time: .* is not a duration/, bad);
  }
  for (const zero of ["0s", "0m", "0h0m0s", "0.0m"]) {
    assert.throws(() => parseDuration(zero), /Invalid --time: .* is zero/, zero);
  }
});
