// Renders a session's report data (ReportData.as_dict) as headline, charts and a filterable table.
// The same code draws the static report.html and the live dashboard, which polls /api/state.
var autoresearchPage = (function () {
  "use strict";
  var COLORS = { keep: "#1a9850", discard: "#7f7f7f", failed: "#d73027", baseline: "#4575b4" };
  var FAILED = ["checks failed", "crashed", "tampered or out of scope", "not measured"];
  var state = { data: null, hidden: {}, search: "" };

  function pct(x) { return x === null || x === undefined ? "" : (x >= 0 ? "+" : "") + (100 * x).toFixed(1) + "%"; }
  function interval(ci) {
    if (!ci) return "";
    if (ci[0] === null || ci[1] === null) return "(unbounded interval)";
    return ci[0] === ci[1] ? "exact" : "[" + pct(ci[0]) + ", " + pct(ci[1]) + "]";
  }
  function gain(g, ci) { return (pct(g) + " " + interval(ci)).trim(); }
  function num(x, unit) { return x === null || x === undefined ? "—" : (+x.toPrecision(6)) + (unit ? " " + unit : ""); }
  function short(text, n) { text = (text || "").replace(/\s+/g, " "); return text.length <= n ? text : text.slice(0, n - 1) + " …"; }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function duration(s) {
    s = Math.round(s);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + String(s % 60).padStart(2, "0") + " s";
    return Math.floor(s / 3600) + " h " + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + " min";
  }
  function visible(e) {
    if (state.hidden[e.group]) return false;
    if (!state.search) return true;
    var hay = (e.description + " " + e.reason + " " + e.run).toLowerCase();
    return hay.indexOf(state.search) >= 0;
  }

  function headline(d) {
    var box = document.getElementById("headline");
    box.textContent = "";
    var judged = d.experiments.filter(function (e) { return e.group !== "baseline"; });
    var keeps = judged.filter(function (e) { return e.group === "keep"; });
    box.appendChild(document.createTextNode("baseline " + num(d.baseline, d.unit) + " → " + num(d.incumbent, d.unit) + " · "));
    if (d.total) {
      var b = el("b", { "class": "gain" }, "total " + gain(d.total.gain, d.total.gain_ci));
      b.title = "product of the keeps' paired ratios: " + d.total.ratio.toFixed(3) + " (95% interval)";
      box.appendChild(b);
      box.appendChild(document.createTextNode(" · "));
    }
    box.appendChild(document.createTextNode(judged.length + (judged.length === 1 ? " experiment, " : " experiments, ") + keeps.length + " kept"));
    var c = d.confirm;
    if (c) {
      var text = " · confirm " + (c.passed ? "passed" : "FAILED") + " on " + c.inputs + " inputs" +
        (c.improvement_pct !== undefined && c.improvement_pct !== null ? " (" + pct(c.improvement_pct / 100) + ")" : "") +
        (c.current ? "" : " on an earlier incumbent");
      box.appendChild(el("span", { "class": c.passed ? "" : "fail", id: "confirm" }, text));
    }
  }

  function progressChart(d) {
    var shown = d.experiments.filter(visible);
    var traces = [];
    var groups = {};
    shown.forEach(function (e) {
      if (e.group === "keep" || e.group === "baseline" || e.metric === null) return;
      (groups[e.group] = groups[e.group] || []).push(e);
    });
    Object.keys(groups).forEach(function (g) {
      var es = groups[g];
      traces.push({
        type: "scatter", mode: "markers", name: g, x: es.map(function (e) { return e.n; }),
        y: es.map(function (e) { return e.metric; }),
        text: es.map(function (e) { return "run " + e.run + ": " + short(e.description, 80) + "<br>" + short(e.reason, 80); }),
        hoverinfo: "text+y", marker: { color: g === "worse" ? "#b0b0b0" : COLORS.discard, opacity: 0.45, size: 7 }
      });
    });
    var failed = shown.filter(function (e) { return e.metric === null && e.group !== "baseline"; });
    var measured = d.experiments.filter(function (e) { return e.metric !== null; }).map(function (e) { return e.metric; });
    if (failed.length && measured.length) {
      var bottom = Math.min.apply(null, measured) - 0.04 * (Math.max.apply(null, measured) - Math.min.apply(null, measured));
      traces.push({
        type: "scatter", mode: "markers", name: "no measurement", x: failed.map(function (e) { return e.n; }),
        y: failed.map(function () { return bottom; }), hoverinfo: "text",
        text: failed.map(function (e) { return "run " + e.run + " " + e.group + ": " + short(e.description, 80) + "<br>" + short(e.reason, 80); }),
        marker: { symbol: "x", color: COLORS.failed, opacity: 0.6, size: 7 }
      });
    }
    var steps = d.experiments.filter(function (e) { return e.best !== null; });
    if (steps.length) {
      var last = Math.max.apply(null, d.experiments.map(function (e) { return e.n; }));
      traces.push({
        type: "scatter", mode: "lines", name: "running best", line: { shape: "hv", color: COLORS.keep, width: 2.5 },
        x: steps.map(function (e) { return e.n; }).concat([last]),
        y: steps.map(function (e) { return e.best; }).concat([steps[steps.length - 1].best]), hoverinfo: "skip"
      });
    }
    var base = shown.filter(function (e) { return e.group === "baseline" && e.metric !== null; });
    if (base.length) {
      traces.push({ type: "scatter", mode: "markers", name: "baseline", x: [base[0].n], y: [base[0].metric],
        marker: { color: COLORS.baseline, size: 11, line: { color: "black", width: 1 } }, hoverinfo: "y+name" });
    }
    var keeps = shown.filter(function (e) { return e.group === "keep" && e.metric !== null; });
    traces.push({
      type: "scatter", mode: "markers+text", name: "kept", x: keeps.map(function (e) { return e.n; }),
      y: keeps.map(function (e) { return e.metric; }), text: keeps.map(function (e) { return short(e.description, 36); }),
      textposition: "top right", textfont: { size: 11, color: "#0b4f26" },
      hovertext: keeps.map(function (e) { return "run " + e.run + ": " + short(e.description, 80) + "<br>" + gain(e.gain, e.gain_ci); }),
      hoverinfo: "text+y", marker: { color: COLORS.keep, size: 11, line: { color: "black", width: 1 } }
    });
    var unit = d.unit ? " (" + d.unit + ")" : "";
    Plotly.react("chart", traces, {
      margin: { l: 70, r: 20, t: 10, b: 45 }, hovermode: "closest",
      xaxis: { title: { text: "experiment" }, dtick: d.experiments.length > 30 ? undefined : 1, zeroline: false,
        range: [-0.5, Math.max.apply(null, d.experiments.map(function (e) { return e.n; }).concat([1])) + 1.5] },
      yaxis: { title: { text: d.metric + unit + ", " + d.direction + " is better" } },
      legend: { orientation: "h", y: 1.08 }
    }, { responsive: true, displaylogo: false });
  }

  function gainsChart(d) {
    var keeps = d.experiments.filter(function (e) { return e.group === "keep"; });
    var rows = keeps.map(function (e) { return { label: "run " + e.run + ": " + short(e.description, 40), g: e.gain || 0, ci: e.gain_ci, color: COLORS.keep }; });
    if (d.total) rows.push({ label: "total", g: d.total.gain, ci: d.total.gain_ci, color: "black" });
    var box = document.getElementById("gains");
    box.style.height = (70 + 26 * Math.max(rows.length, 1)) + "px";
    if (!rows.length) { Plotly.purge(box); box.textContent = "no keeps yet"; box.className = "muted"; return; }
    box.textContent = ""; box.className = "";
    rows.reverse();
    Plotly.react(box, [{
      type: "scatter", mode: "markers", x: rows.map(function (r) { return 100 * r.g; }),
      y: rows.map(function (r) { return r.label; }), marker: { color: rows.map(function (r) { return r.color; }), size: 9 },
      error_x: { type: "data", symmetric: false, array: rows.map(function (r) { return r.ci && r.ci[1] !== null ? 100 * (r.ci[1] - r.g) : 0; }),
        arrayminus: rows.map(function (r) { return r.ci && r.ci[0] !== null ? 100 * (r.g - r.ci[0]) : 0; }), color: "#555" },
      hovertext: rows.map(function (r) { return gain(r.g, r.ci); }), hoverinfo: "text", showlegend: false
    }], {
      margin: { l: 20, r: 20, t: 5, b: 40 }, yaxis: { automargin: true }, xaxis: { title: { text: "gain in % (95% interval); dashed: min_effect" }, zeroline: true, rangemode: "tozero" },
      shapes: [{ type: "line", x0: 100 * d.min_effect, x1: 100 * d.min_effect, yref: "paper", y0: 0, y1: 1, line: { dash: "dash", color: "#999", width: 1 } }]
    }, { responsive: true, displaylogo: false });
  }

  function filters(d) {
    var box = document.getElementById("filters");
    if (box.dataset.ready) return;
    box.dataset.ready = "1";
    var search = el("input", { type: "search", placeholder: "filter by text…", "aria-label": "filter" });
    search.addEventListener("input", function () { state.search = search.value.toLowerCase(); draw(); });
    box.appendChild(search);
    ["baseline", "keep", "worse", "no significant gain", "guard violated"].concat(FAILED).forEach(function (g) {
      var label = el("label");
      var box2 = el("input", { type: "checkbox", "data-group": g });
      box2.checked = true;
      box2.addEventListener("change", function () { state.hidden[g] = !box2.checked; draw(); });
      label.appendChild(box2);
      label.appendChild(document.createTextNode(" " + g));
      box.appendChild(label);
    });
  }

  function table(d) {
    var body = document.querySelector("#experiments tbody");
    body.textContent = "";
    d.experiments.slice().reverse().filter(visible).forEach(function (e) {
      var tr = el("tr", { "class": e.group === "keep" ? "keep" : e.group === "baseline" ? "baseline" : "", "data-run": e.run });
      tr.appendChild(el("td", { "class": "num" }, String(e.run)));
      var cell = el("td");
      var cls = e.group === "keep" ? "keep" : e.group === "baseline" ? "baseline" : FAILED.indexOf(e.group) >= 0 ? "fail" : "";
      cell.appendChild(el("span", { "class": "tag " + cls }, e.group));
      tr.appendChild(cell);
      tr.appendChild(el("td", { "class": "num" }, e.metric === null ? "" : num(e.metric, d.unit)));
      tr.appendChild(el("td", { "class": "num" }, gain(e.gain, e.gain_ci)));
      tr.appendChild(el("td", { "class": "num" }, e.rounds ? String(e.rounds) : ""));
      tr.appendChild(el("td", { "class": "desc" }, e.description));
      tr.appendChild(el("td", {}, e.reason));
      body.appendChild(tr);
    });
  }

  function now(p) {
    var box = document.getElementById("now");
    if (!box) return;
    box.textContent = "";
    if (!p) { box.appendChild(el("span", { "class": "muted" }, "idle: no experiment running")); return; }
    box.appendChild(el("span", { "class": "phase" }, "run " + p.run + ": " + p.phase));
    box.appendChild(el("span", {}, short(p.description, 90)));
    if (p.max_rounds) box.appendChild(el("span", {}, "round " + p.round + "/" + p.max_rounds));
    if (p.gain !== null && p.gain !== undefined) box.appendChild(el("span", {}, "running estimate " + gain(p.gain, p.gain_ci)));
    if (p.eta_s) box.appendChild(el("span", { "class": "muted" }, "≤ " + duration(p.eta_s) + " left"));
  }

  function draw() {
    var d = state.data;
    headline(d);
    filters(d);
    progressChart(d);
    gainsChart(d);
    table(d);
  }

  function poll() {
    var note = document.getElementById("live-note"), dot = document.getElementById("live-dot");
    fetch("api/state?since=" + encodeURIComponent(state.version || ""), { cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (s) {
        if (s.version !== state.version) {
          state.version = s.version;
          state.data = s.report;
          draw();
        }
        now(s.progress);
        dot.className = "live-dot";
        note.textContent = "live · updated " + new Date().toLocaleTimeString();
      })
      .catch(function () { dot.className = "live-dot stale"; note.textContent = "connection lost; retrying…"; })
      .then(function () { setTimeout(poll, 1000); });
  }

  return {
    start: function (data, live) {
      state.data = data;
      draw();
      if (live) poll();
    }
  };
})();
