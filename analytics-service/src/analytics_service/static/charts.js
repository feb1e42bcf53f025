/* Ticket Triage dashboard: small DOM and inline-SVG chart helpers (no dependencies). */
(function () {
  "use strict";

  const SVG_NS = "http://www.w3.org/2000/svg";

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svgEl(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    Object.entries(attrs || {}).forEach(([name, value]) => node.setAttribute(name, String(value)));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function tooltip(node, text) {
    node.append(svgEl("title", {}, text));
    return node;
  }

  /* CSS-safe token for a data key (a department or method name) */
  function token(key) {
    return String(key).toLowerCase().replace(/[^a-z0-9_-]+/g, "_");
  }

  function fmtCount(value) {
    return value === null || value === undefined ? "–" : String(value);
  }

  /* Seconds in the largest unit that keeps the number readable; the exact value is in title. */
  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 1) return (seconds * 1000).toFixed(0) + " ms";
    if (seconds < 60) return seconds.toFixed(1) + " s";
    if (seconds < 3600) return (seconds / 60).toFixed(1) + " min";
    if (seconds < 86400) return (seconds / 3600).toFixed(1) + " h";
    return (seconds / 86400).toFixed(1) + " d";
  }

  const FORMATS = { count: fmtCount, number: fmtCount, duration: fmtDuration };

  /* Tag a node with the API value it stands for (data-metric / data-value). */
  function mark(node, metric, value) {
    node.dataset.metric = metric;
    node.dataset.value = JSON.stringify(value === undefined ? null : value);
    return node;
  }

  /* Tag a node and show the value as its text, formatted as `format` says. */
  function show(node, metric, value, format) {
    const kind = format || "count";
    mark(node, metric, value);
    node.dataset.format = kind;
    node.textContent = FORMATS[kind](value);
    if (kind === "duration" && value !== null && value !== undefined) node.title = value + " s";
    return node;
  }

  function sizeOf(svg, minWidth, height) {
    const width = Math.max(minWidth, Math.floor(svg.parentElement.clientWidth));
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.replaceChildren();
    return width;
  }

  /* 1, 2 or 5 times a power of ten, so that about `lines` grid lines cover `max` */
  function niceStep(max, lines) {
    const raw = Math.max(1, max / lines);
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / power;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power;
  }

  /* Horizontal bars, one row per key of `counts`, values tagged `<prefix>.<key>`. */
  function bars(container, counts, prefix) {
    const entries = Object.entries(counts || {});
    if (!entries.length) {
      container.replaceChildren(el("p", "muted", "No tickets yet"));
      return;
    }
    const max = Math.max(1, ...entries.map(([, value]) => value));
    container.replaceChildren(...entries.map(([key, value]) => {
      const row = el("div", "bar-row");
      row.dataset.key = key;
      const label = el("span", "bar-label", key.replace(/_/g, " "));
      label.title = key;
      const track = el("span", "bar-track");
      const fill = el("span", "bar-fill key-" + token(key));
      fill.style.width = (100 * value / max).toFixed(2) + "%";
      track.append(fill);
      row.append(label, track, show(el("span", "bar-value"), prefix + "." + key, value));
      return row;
    }));
  }

  /* Lines with points per day; each point carries `<prefix>.<date>.<series>`. */
  function lineChart(svg, rows, series, prefix) {
    const height = 230;
    const width = sizeOf(svg, 320, height);
    const m = { top: 12, right: 16, bottom: 26, left: 40 };
    const w = width - m.left - m.right;
    const h = height - m.top - m.bottom;
    const max = Math.max(0, ...rows.flatMap((row) => series.map((s) => row[s])));
    const step = niceStep(max, 4);
    const top = Math.max(step, Math.ceil(max / step) * step);
    const y = (v) => m.top + h - (v / top) * h;
    const x = (i) => m.left + (rows.length > 1 ? (i * w) / (rows.length - 1) : w / 2);
    for (let v = 0; v <= top; v += step) {
      svg.append(svgEl("line", { class: "grid-line", x1: m.left, x2: width - m.right, y1: y(v), y2: y(v) }));
      svg.append(svgEl("text", { class: "axis", x: m.left - 8, y: y(v) + 4, "text-anchor": "end" }, String(v)));
    }
    const every = Math.max(1, Math.ceil((rows.length * 44) / w));
    rows.forEach((row, i) => {
      if ((rows.length - 1 - i) % every === 0) {
        svg.append(svgEl("text", { class: "axis", x: x(i), y: height - 8, "text-anchor": "middle" },
          row.date.slice(5)));
      }
    });
    series.forEach((name) => {
      const d = rows.map((row, i) => (i ? "L" : "M") + x(i).toFixed(1) + "," + y(row[name]).toFixed(1));
      svg.append(svgEl("path", { class: "line series-" + name, d: d.join(" ") }));
      rows.forEach((row, i) => {
        const radius = 5 - 1.2 * series.indexOf(name);  // stacked like the lines
        const point = svgEl("circle", { class: "point series-" + name, cx: x(i), cy: y(row[name]), r: radius });
        mark(point, prefix + "." + row.date + "." + name, row[name]);
        svg.append(tooltip(point, row.date + " " + name + ": " + row[name]));
      });
    });
  }

  function band(lower) {
    return lower < 0.5 ? "band-low" : lower < 0.7 ? "band-mid" : "band-high";
  }

  /* Columns per confidence bucket with their counts on top, plus a marker at the average. */
  function histogram(svg, buckets, prefix, average) {
    const height = 226;
    const width = sizeOf(svg, 260, height);
    const m = { top: 40, right: 10, bottom: 24, left: 10 };  // counts, then the avg label above them
    const w = width - m.left - m.right;
    const h = height - m.top - m.bottom;
    const slot = w / Math.max(1, buckets.length);
    const max = Math.max(1, ...buckets.map((b) => b.count));
    const labels = [];
    buckets.forEach((b, i) => {
      const lower = parseFloat(b.bucket.split("-")[0]);
      const barH = (b.count / max) * h;
      const left = m.left + i * slot;
      const rect = svgEl("rect", { class: "hist-bar " + band(lower), x: left + slot * 0.11, width: slot * 0.78,
        y: m.top + h - barH, height: Math.max(barH, 1) });
      svg.append(tooltip(rect, "confidence " + b.bucket + ": " + b.count));
      const label = svgEl("text", { class: "value-label", x: left + slot / 2, y: m.top + h - barH - 5,
        "text-anchor": "middle" });
      labels.push(show(label, prefix + "." + b.bucket, b.count));
      if (i % 2 === 0) {
        svg.append(svgEl("text", { class: "axis", x: left, y: height - 6, "text-anchor": "middle" }, lower.toFixed(1)));
      }
    });
    svg.append(svgEl("text", { class: "axis", x: width - m.right, y: height - 6, "text-anchor": "middle" }, "1.0"));
    svg.append(svgEl("line", { class: "axis-line", x1: m.left, x2: width - m.right, y1: m.top + h, y2: m.top + h }));
    if (average !== null && average !== undefined) {  // over the bars, under the counts
      const ax = m.left + average * w;
      svg.append(tooltip(svgEl("line", { class: "avg-line", x1: ax, x2: ax, y1: 18, y2: m.top + h }),
        "average confidence " + average));
      svg.append(svgEl("text", { class: "avg-label", x: ax, y: 12, "text-anchor": average > 0.85 ? "end" : "middle" },
        "average"));
    }
    svg.append(...labels);
  }

  /* One bar split by share plus a legend with each count tagged `<prefix>.<key>`. */
  function splitBar(container, counts, prefix, names) {
    const entries = Object.entries(counts || {});
    const total = entries.reduce((sum, [, value]) => sum + value, 0);
    const bar = el("div", "split" + (total ? "" : " empty"));
    const legend = el("ul", "split-legend");
    entries.forEach(([key, value]) => {
      const label = names[key] || key;
      if (value > 0) {
        const seg = el("span", "split-seg key-" + token(key));
        seg.style.width = (100 * value / total).toFixed(2) + "%";
        seg.title = label + ": " + value + " (" + Math.round(100 * value / total) + "%)";
        bar.append(seg);
      }
      const item = el("li");
      item.append(el("span", "swatch key-" + token(key)), el("span", "split-name", label),
        show(el("span", "split-value"), prefix + "." + key, value));
      legend.append(item);
    });
    container.replaceChildren(bar, legend);
  }

  window.DashboardCharts = { el, mark, show, fmtDuration, bars, lineChart, histogram, splitBar };
})();
