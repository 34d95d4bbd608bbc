/* Evaluation dashboard: choropleth of an indicator over areas, department/inspector rankings, trend, drill-down. */
(function () {
  "use strict";
  const { config, t, api, esc, baseMap, fmtTime } = window.CityGIS;
  const COLORS = ["#d73027", "#fc8d59", "#fee08b", "#91cf60", "#1a9850"];   // bad → good
  const GRADE_COLORS = { A: "#1a9850", B: "#91cf60", C: "#fee08b", D: "#fc8d59", E: "#d73027" };
  const BAD_WHEN_HIGH = new Set(["rework_rate", "overdue_rate", "miss_rate", "case_density"]);
  const RANK_RATES = { department: ["closing_rate", "on_time_disposal_rate", "rework_rate"],
    inspector: ["effective_report_rate", "on_time_verify_rate", "on_time_check_rate"] };

  const form = document.getElementById("dash-form");
  const startEl = document.getElementById("dash-start"), endEl = document.getElementById("dash-end");
  const levelEl = document.getElementById("dash-level"), indicatorEl = document.getElementById("dash-indicator");
  const map = baseMap("dash-map", { zoom: 11 });
  let areaLayer = null;
  let chart = null;
  const geometryCache = {};

  const iso = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10);
  function setRange(kind) {
    const end = new Date();
    const start = new Date(end);
    if (kind === "month") start.setDate(1); else start.setDate(end.getDate() - Number(kind) + 1);
    startEl.value = iso(start);
    endEl.value = iso(end);
  }
  function indicatorLabel(level, name) {
    if (name === "score") return t("score");
    return ((config.levels[level] || {}).indicators || {})[name] || name;
  }
  function fillIndicators() {
    const level = levelEl.value;
    const current = indicatorEl.value || "score";
    const names = ["score", ...Object.keys((config.levels[level] || {}).indicators || {})];
    indicatorEl.innerHTML = names.map((n) => `<option value="${esc(n)}"${n === current ? " selected" : ""}>${esc(indicatorLabel(level, n))}</option>`).join("");
  }
  function valueOf(row, indicator) {
    if (indicator === "score") return row.score;
    if (row.rates && indicator in row.rates) return row.rates[indicator];
    if (indicator === "case_density") return row.case_density;
    const c = row.counts && row.counts[indicator];
    return c ? c.denominator : null;
  }
  function fmt(value, indicator) {
    if (value == null) return "—";
    if (indicator === "score" || indicator === "case_density") return Number(value).toFixed(1);
    if (indicator.endsWith("_rate")) return `${(value * 100).toFixed(1)}%`;
    return String(value);
  }
  function params(extra = {}) {
    return new URLSearchParams(Object.assign({ start: startEl.value, end: endEl.value }, extra));
  }
  function updateExports() {
    for (const f of ["csv", "xlsx"]) document.getElementById(`export-${f}`).href = `${config.api}evaluation/export/?${params({ level: levelEl.value, format: f })}`;
  }

  async function geometry(level) {
    if (!geometryCache[level]) {
      const res = await fetch(`/evaluation/areas/${level}.geojson`, { credentials: "same-origin" });
      if (!res.ok) throw new Error(res.status);
      geometryCache[level] = await res.json();
    }
    return geometryCache[level];
  }

  function colorFor(value, indicator, breaks) {
    if (value == null) return "#cccccc";
    if (indicator === "score") return value >= 90 ? COLORS[4] : value >= 75 ? COLORS[3] : value >= 60 ? COLORS[2] : value >= 40 ? COLORS[1] : COLORS[0];
    let i = breaks.findIndex((b) => value <= b);
    if (i < 0) i = 4;
    return BAD_WHEN_HIGH.has(indicator) ? COLORS[4 - i] : COLORS[i];
  }

  async function loadChoropleth() {
    const level = levelEl.value, indicator = indicatorEl.value || "score";
    const [geo, body] = await Promise.all([geometry(level), api(`evaluation/?${params({ level })}`)]);
    const byUnit = new Map(body.results.map((r) => [String(r.unit), r]));
    const values = body.results.map((r) => valueOf(r, indicator)).filter((v) => v != null).sort((a, b) => a - b);
    const breaks = [0.2, 0.4, 0.6, 0.8].map((q) => values[Math.floor(q * (values.length - 1))] ?? 0);
    if (areaLayer) map.removeLayer(areaLayer);
    areaLayer = L.geoJSON(geo, {
      style: (f) => {
        const row = byUnit.get(String(f.properties.code));
        return { color: "#ffffff", weight: level === "cell" ? 0.3 : 1, fillOpacity: 0.62, fillColor: colorFor(row ? valueOf(row, indicator) : null, indicator, breaks) };
      },
      onEachFeature: (f, layer) => {
        const row = byUnit.get(String(f.properties.code));
        layer.bindTooltip(`${esc(f.properties.name || f.properties.code)}: ${esc(fmt(row ? valueOf(row, indicator) : null, indicator))}`, { sticky: true });
        layer.on("click", () => {
          if (!row) return;
          const rates = Object.entries(row.rates || {}).map(([k, v]) =>
            `<tr><td>${esc(indicatorLabel(level, k))}</td><td><span class="cg-figure" data-unit="${esc(row.unit)}" data-indicator="${esc(k)}">${esc(fmt(v, k))}</span></td></tr>`).join("");
          const popup = L.popup().setLatLng(layer.getBounds().getCenter()).setContent(`<b>${esc(row.name || row.unit)}</b>
            <table class="cg-table cg-popup-table"><tr><td>${esc(t("score"))}</td><td>${esc(fmt(row.score, "score"))} <span class="cg-grade cg-grade-${esc(row.grade)}">${esc(row.grade)}</span></td></tr>${rates}</table>`).openOn(map);
          popup.getElement().querySelectorAll(".cg-figure").forEach((el) => el.addEventListener("click", () => drill(level, el.dataset.unit, el.dataset.indicator, row.name)));
        });
      },
    }).addTo(map);
    map.invalidateSize();   // the grid layout may have resized the map's box since it was created
    if (areaLayer.getLayers().length) map.fitBounds(areaLayer.getBounds(), { padding: [10, 10] });
    const legend = indicator === "score"
      ? Object.entries(GRADE_COLORS).map(([g, c]) => `<div><i style="background:${c}"></i>${g}</div>`).join("")
      : breaks.concat([values[values.length - 1]]).map((b, i) => `<div><i style="background:${BAD_WHEN_HIGH.has(indicator) ? COLORS[4 - i] : COLORS[i]}"></i>≤ ${esc(fmt(b, indicator))}</div>`).join("");
    document.getElementById("choro-legend").innerHTML = `<b>${esc(indicatorLabel(level, indicator))}</b>${legend}`;
    const scores = body.results.map((r) => r.score);
    const grades = body.results.reduce((acc, r) => { acc[r.grade] = (acc[r.grade] || 0) + 1; return acc; }, {});
    document.getElementById("kpis").innerHTML = `<div class="cg-kpi"><span class="cg-muted">${esc((config.levels[level] || {}).label || level)}</span><b>${body.results.length}</b></div>
      <div class="cg-kpi"><span class="cg-muted">${esc(t("score"))}</span><b>${scores.length ? (scores.reduce((a, b) => a + b, 0) / scores.length).toFixed(1) : "—"}</b></div>
      <div class="cg-kpi"><span class="cg-muted">${esc(t("grade"))}</span><b>${Object.keys(GRADE_COLORS).map((g) => `<span class="cg-grade cg-grade-${g}" title="${g}">${grades[g] || 0}</span>`).join(" ")}</b></div>`;
  }

  async function loadRanking(level) {
    const table = document.getElementById(`rank-${level}`);
    try {
      const body = await api(`evaluation/?${params({ level })}`);
      const rates = RANK_RATES[level].filter((r) => body.results.some((row) => row.rates && r in row.rates));
      table.innerHTML = `<thead><tr><th>#</th><th>${esc(level === "department" ? t("department") : t("roles").inspector)}</th>
        <th>${esc(t("score"))}</th><th>${esc(t("grade"))}</th>${rates.map((r) => `<th>${esc(indicatorLabel(level, r))}</th>`).join("")}</tr></thead>
        <tbody>${body.results.map((row, i) => `<tr><td>${i + 1}</td><td>${esc(row.name || row.unit)}</td><td>${esc(fmt(row.score, "score"))}</td>
          <td><span class="cg-grade cg-grade-${esc(row.grade)}">${esc(row.grade)}</span></td>
          ${rates.map((r) => `<td><span class="cg-figure" data-unit="${esc(row.unit)}" data-indicator="${esc(r)}" data-name="${esc(row.name)}">${esc(fmt(row.rates[r], r))}</span></td>`).join("")}</tr>`).join("")
          || `<tr><td colspan="6" class="cg-empty">${esc(t("noData"))}</td></tr>`}</tbody>`;
      table.querySelectorAll(".cg-figure").forEach((el) => el.addEventListener("click", () => drill(level, el.dataset.unit, el.dataset.indicator, el.dataset.name)));
    } catch (err) {
      table.innerHTML = `<tr><td class="cg-empty">${esc(err.status === 403 ? "无权查看" : t("serviceMissing"))}</td></tr>`;
    }
  }

  async function drill(level, unit, indicator, name) {
    const box = document.getElementById("drill");
    const table = document.getElementById("drill-table");
    document.getElementById("drill-title").textContent = `${name || unit} · ${indicatorLabel(level, indicator)} · ${t("casesBehind")}`;
    table.innerHTML = `<tr><td class="cg-empty">${esc(t("loading"))}</td></tr>`;
    box.classList.add("open");
    try {
      const body = await api(`evaluation/drilldown/?${params({ level, unit, indicator })}`);
      document.getElementById("drill-title").textContent += ` (${body.numerator} / ${body.denominator})`;
      table.innerHTML = `<thead><tr><th>${esc(t("cases"))}</th><th>${esc(t("deadline"))}</th><th>✓</th></tr></thead><tbody>${body.cases.map((c) =>
        `<tr><td><a href="/console/?case=${esc(c.id)}">${esc(c.number)}</a></td><td>${esc(fmtTime(c.at))}</td><td>${c.in_numerator ? "✓" : "✗"}</td></tr>`).join("")
        || `<tr><td colspan="3" class="cg-empty">${esc(t("noData"))}</td></tr>`}</tbody>`;
    } catch (err) {
      table.innerHTML = `<tr><td class="cg-empty">${esc(t("error"))}: ${esc(err.message).slice(0, 300)}</td></tr>`;
    }
  }
  document.getElementById("drill-close").addEventListener("click", () => document.getElementById("drill").classList.remove("open"));
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") document.getElementById("drill").classList.remove("open"); });

  async function loadTrend() {
    const start = new Date(`${startEl.value}T00:00:00`), end = new Date(`${endEl.value}T00:00:00`);
    const days = Math.max(1, Math.round((end - start) / 86400000) + 1);
    const steps = Math.min(days, 8), size = Math.ceil(days / steps);
    const chunks = [];
    for (let s = new Date(start); s <= end; s.setDate(s.getDate() + size)) {
      const e = new Date(s); e.setDate(e.getDate() + size - 1);
      chunks.push([iso(s), iso(e > end ? end : e)]);
    }
    const series = await Promise.all(chunks.map(([s, e]) => api(`evaluation/?level=district&start=${s}&end=${e}`).then((b) => b.results).catch(() => [])));
    const mean = (rows, f) => { const v = rows.map(f).filter((x) => x != null); return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null; };
    const data = {
      labels: chunks.map(([s, e]) => (s === e ? s.slice(5) : `${s.slice(5)}~${e.slice(5)}`)),
      datasets: [
        { label: t("score"), data: series.map((rows) => mean(rows, (r) => r.score)), borderColor: "#0f6fbf", backgroundColor: "#0f6fbf33", yAxisID: "y", tension: 0.3, fill: true },
        { label: indicatorLabel("district", "closing_rate"), data: series.map((rows) => { const m = mean(rows, (r) => r.rates && r.rates.closing_rate); return m == null ? null : m * 100; }), borderColor: "#1f9d55", yAxisID: "y1", tension: 0.3 },
        { label: indicatorLabel("district", "registered"), data: series.map((rows) => rows.reduce((a, r) => a + ((r.counts && r.counts.registered && r.counts.registered.denominator) || 0), 0)), type: "bar", backgroundColor: "#ffb02066", yAxisID: "y2" },
      ],
    };
    if (chart) chart.destroy();
    chart = new Chart(document.getElementById("trend-chart"), {
      type: "line", data,
      options: { maintainAspectRatio: false, animation: false, interaction: { mode: "index", intersect: false },
        scales: { y: { min: 0, max: 100, title: { display: true, text: t("score") } }, y1: { position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: "%" } }, y2: { display: false } } },
    });
  }

  async function refresh() {
    updateExports();
    await Promise.all([
      loadChoropleth().catch((err) => { document.getElementById("choro-legend").textContent = `${t("serviceMissing")} (${err.status || err.message})`; }),
      loadRanking("department"), loadRanking("inspector"), loadTrend(),
    ]);
    document.getElementById("dashboard").dataset.loaded = "1";
  }

  document.querySelectorAll("[data-range]").forEach((b) => b.addEventListener("click", () => { setRange(b.dataset.range); refresh(); }));
  levelEl.addEventListener("change", () => { fillIndicators(); refresh(); });
  indicatorEl.addEventListener("change", () => loadChoropleth());
  form.addEventListener("submit", (e) => { e.preventDefault(); refresh(); });
  setRange("30");
  fillIndicators();
  refresh();
  window.CityGIS.dashboard = { refresh, drill };
})();
