// The picture of a training run, loss.svg: a pure function of the run's events (TrainEvents,
// or the JSON lines of a --log file), no Deno APIs, no scripts, no external references, so any
// browser shows it. The drawing itself is src/plot/loss_chart.js, which the studio's live chart
// draws with too: one chart, one tick rule.

import { lossChart, type PlotEvent, runSeries, svgDocument } from "../plot/loss_chart.js";

export { type PlotEvent, type RunSeries, runSeries, smooth, ticks } from "../plot/loss_chart.js";

/** The run as a self-contained SVG document, in loss.svg's layout. */
export function lossSvg(events: Iterable<PlotEvent>): string {
  return svgDocument(lossChart(runSeries(events)));
}
