// Draws each dashboard chart with uPlot from its json_script data:
// <div data-chart="<id of the JSON script>" data-label-heading="Date">. The table view under
// the chart holds the same numbers; it stays open when nothing could be drawn.
(function () {
  "use strict";

  const COLOURS = ["#2563eb", "#9ca3af", "#16a34a", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777"];
  const HEIGHT = 260;
  const charts = [];

  function shortLabel(label) {
    // ISO dates (2026-11-03) read as day/month under the axis; other labels as they are.
    return /^\d{4}-\d{2}-\d{2}$/.test(label) ? label.slice(8) + "/" + label.slice(5, 7) : label;
  }

  function format(value, unit) {
    if (value === null || value === undefined) return "—";
    const text = value.toLocaleString(document.documentElement.lang || undefined);
    // Only a percent sign fits beside a number; other units are in the chart's title.
    return unit === "%" ? text + " %" : text;
  }

  function options(data, xs, width, heading) {
    const bars = data.kind === "bar";
    // Series from counts_from on are post counts: points on a right-hand axis of their own.
    const countsFrom = data.counts_from === null || data.counts_from === undefined ? data.series.length : data.counts_from;
    const count = countsFrom;
    const series = [{ label: heading, value: (u, index) => (index === null ? "" : data.labels[index]) }];
    data.series.forEach((item, index) => {
      const colour = COLOURS[index % COLOURS.length];
      const isCount = index >= countsFrom;
      const entry = {
        label: item.name,
        stroke: colour,
        width: bars ? 1 : 2,
        // A missing value is a gap in the line, never a drop to zero.
        spanGaps: false,
        value: (u, value) => format(value, isCount ? "" : data.unit),
      };
      if (isCount) {
        entry.scale = "n";
        entry.width = 0;
        entry.points = { show: true, size: 8, fill: colour };
      } else if (bars) {
        entry.fill = colour;
        // Two series side by side around their label; more overlap, narrower in front.
        const align = count === 2 ? (index === 0 ? -1 : 1) : 0;
        entry.paths = uPlot.paths.bars({ size: [count === 2 ? 0.4 : 0.7, 48], align: align });
        entry.points = { show: false };
      } else {
        // A day between two gaps has no line to draw: its point shows it.
        entry.points = { show: true, size: 5, fill: colour };
      }
      series.push(entry);
    });
    return {
      width: width,
      height: HEIGHT,
      series: series,
      scales: {
        x: {
          time: false,
          // Every label has its place, also a single one (uPlot would put it at the edge).
          range: () => (bars || xs.length < 2 ? [-0.5, xs.length - 0.5] : [0, xs.length - 1]),
        },
        // Bars grow from 0; lines (followers in the thousands) use uPlot's own fit.
        y: bars ? { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } : {},
        n: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        {
          space: 48,
          incrs: [1, 2, 3, 4, 7, 14, 28, 56, 91, 182, 364],
          values: (u, splits) => splits.map((i) => (Number.isInteger(i) && data.labels[i] !== undefined ? shortLabel(data.labels[i]) : "")),
        },
        { values: (u, splits) => splits.map((v) => format(v, data.unit)), size: 64 },
      ].concat(countsFrom < data.series.length
        ? [{ scale: "n", side: 1, grid: { show: false }, values: (u, splits) => splits.map((v) => (Number.isInteger(v) ? format(v, "") : "")) }]
        : []),
      cursor: { drag: { x: false, y: false } },
    };
  }

  function draw(holder) {
    const script = document.getElementById(holder.dataset.chart);
    if (!script || typeof uPlot === "undefined") return;
    const data = JSON.parse(script.textContent);
    const xs = data.labels.map((label, index) => index);
    const columns = [xs].concat(data.series.map((item) => item.values));
    const width = holder.clientWidth || 600;
    const plot = new uPlot(options(data, xs, width, holder.dataset.labelHeading || ""), columns, holder);
    charts.push({ plot: plot, holder: holder });
    holder.dataset.drawn = "true";
    const section = holder.closest("section");
    const table = section && section.querySelector("details[data-chart-table]");
    if (table) table.open = false;
  }

  function start() {
    document.querySelectorAll("[data-chart]").forEach(draw);
    let pending = null;
    window.addEventListener("resize", () => {
      clearTimeout(pending);
      pending = setTimeout(() => {
        charts.forEach((chart) => chart.plot.setSize({ width: chart.holder.clientWidth || 600, height: HEIGHT }));
      }, 150);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
