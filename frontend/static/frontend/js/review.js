/* /review/: draw a redline (click vertices), choose the proposal, run POST /api/v1/reviews/, show conflicts. */
(function () {
  "use strict";
  const { config, api, esc, baseMap } = window.CityGIS;
  const STATUS = { pass: "通过", fail: "冲突", not_applicable: "不适用", not_checked: "未审查" };
  const OUTCOME = { pass: "通过", warning: "有提示", blocking: "不通过" };
  const map = baseMap("review-map");
  window.CityGIS.reviewMap = map;  // for the browser tests: container points of a lon/lat
  L.tileLayer.wms("/ows", { layers: config.controlLayers.join(","), format: "image/png", transparent: true,
    version: "1.1.1", opacity: 0.7 }).addTo(map);

  const use = document.getElementById("rv-use");
  for (const c of config.useClasses) {
    const o = document.createElement("option");
    o.value = c.code; o.textContent = `${c.code} ${c.name}`;
    if (c.code === "R2") o.selected = true;
    use.appendChild(o);
  }

  let drawing = false;
  let vertices = [];
  const sketch = L.polyline([], { color: "#c00", weight: 2, dashArray: "4 4" }).addTo(map);
  let redline = null;
  const results = L.layerGroup().addTo(map);

  function clearAll() {
    vertices = []; sketch.setLatLngs([]);
    if (redline) { map.removeLayer(redline); redline = null; }
    results.clearLayers();
  }
  document.getElementById("rv-draw").addEventListener("click", () => { clearAll(); drawing = true; map.getContainer().style.cursor = "crosshair"; });
  document.getElementById("rv-clear").addEventListener("click", () => { clearAll(); drawing = false; map.getContainer().style.cursor = ""; });
  document.getElementById("rv-finish").addEventListener("click", finish);
  map.on("click", (e) => {
    if (!drawing) return;
    vertices.push(e.latlng);
    sketch.setLatLngs(vertices);
  });

  function finish() {
    drawing = false; map.getContainer().style.cursor = "";
    if (vertices.length < 3) return;
    sketch.setLatLngs([]);
    if (redline) map.removeLayer(redline);
    redline = L.polygon(vertices, { color: "#d00", weight: 3, fill: false }).addTo(map);
  }

  function geometry() {
    if (!redline) return null;
    const ring = vertices.map((p) => [Number(p.lng.toFixed(8)), Number(p.lat.toFixed(8))]);
    ring.push(ring[0]);
    return { type: "Polygon", coordinates: [ring] };
  }

  function showErrors(body) {
    const summary = document.getElementById("rv-summary");
    const lines = typeof body === "object" && body ? Object.entries(body).map(([k, v]) => `${k}: ${[].concat(v).join("；")}`) : [String(body)];
    summary.innerHTML = `<span class="cg-error" id="rv-error">${esc(lines.join(" | "))}</span>`;
  }

  function show(review) {
    const r = review.results;
    results.clearLayers();
    const outline = L.geoJSON(review.redline, { style: { color: "#d00", weight: 3, fill: false } }).addTo(results);
    if (redline) { map.removeLayer(redline); redline = null; }
    for (const rule of r.rules) {
      if (rule.status !== "fail") continue;
      const colour = rule.severity === "blocking" ? "#d7191c" : "#fdae61";
      for (const g of rule.geometries || []) {
        const style = rule.kind === "zoning" ? { color: "#7b3294", weight: 3, fill: false }
          : { color: colour, weight: 1, fillColor: colour, fillOpacity: 0.55 };
        L.geoJSON(g, { style })
          .bindTooltip(`${rule.title}`).addTo(results);
      }
    }
    map.fitBounds(outline.getBounds(), { maxZoom: 17 });
    document.getElementById("rv-summary").innerHTML =
      `<b id="rv-number">${esc(review.number)}</b> · ${esc(OUTCOME[r.outcome] || r.outcome)} · ` +
      `红线面积 ${esc(r.redline_area_m2.toFixed(2))} ㎡ · 规则集 ${esc(review.ruleset_version)} · ` +
      `<a id="rv-pdf" href="${esc(review.report_url)}" target="_blank" rel="noopener">PDF 报告</a>`;
    const rows = r.rules.map((rule) => `<tr data-rule="${esc(rule.id)}" data-status="${esc(rule.status)}"><td>${esc(rule.title)}</td><td>${esc(rule.layer)}</td>` +
      `<td>${esc(rule.owner)}</td><td>${esc(STATUS[rule.status] || rule.status)}${rule.reason ? "：" + esc(rule.reason) : ""}</td>` +
      `<td class="rv-area">${esc(rule.conflict_area_m2.toFixed(2))}</td><td>${esc(rule.conflict_pct.toFixed(2))}%</td></tr>`);
    document.getElementById("rv-rules").innerHTML =
      "<thead><tr><th>规则</th><th>图层</th><th>责任部门</th><th>结论</th><th>冲突面积（㎡）</th><th>占红线</th></tr></thead><tbody>" + rows.join("") + "</tbody>";
    document.getElementById("rv-landuse").innerHTML = "<thead><tr><th>地类</th><th>面积（㎡）</th><th>占比</th></tr></thead><tbody>" +
      r.landuse.map((c) => `<tr><td>${esc(c.code)} ${esc(c.name)}</td><td>${esc(c.area_m2.toFixed(2))}</td><td>${esc(c.pct.toFixed(2))}%</td></tr>`).join("") + "</tbody>";
  }

  document.getElementById("review-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (drawing) finish();
    const form = new FormData(e.target);
    const body = { title: form.get("title") || "", use_class: form.get("use_class"),
      far: Number(form.get("far")), height_m: Number(form.get("height_m")) };
    const plot = (form.get("plot") || "").trim();
    if (plot) body.plot = plot; else if (geometry()) body.geometry = geometry();
    document.getElementById("rv-summary").textContent = "审查中…";
    try {
      show(await api("reviews/", { method: "POST", json: body }));
    } catch (err) {
      showErrors(err.body);
    }
  });
})();
