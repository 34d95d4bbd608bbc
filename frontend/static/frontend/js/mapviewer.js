/* Layer viewer: catalog tree by theme, legends, opacity, identify (GetFeatureInfo), filter, export, coordinates. */
(function () {
  "use strict";
  const { config, t, api, list, esc, toast, baseMap } = window.CityGIS;
  const THEMES = { base: "基础地理", land: "国土资源", planning: "规划", housing: "住房建设", disaster: "地质灾害",
    grid: "网格管理", cases: "城管案件", evaluation: "综合评价", raster: "影像与高程" };
  const EN_THEMES = { base: "Base", land: "Land", planning: "Planning", housing: "Housing", disaster: "Geohazards",
    grid: "Grid", cases: "Cases", evaluation: "Evaluation", raster: "Raster" };
  proj4.defs("EPSG:4490", "+proj=longlat +ellps=GRS80 +no_defs");
  proj4.defs("EPSG:4544", config.epsg4544);

  const map = baseMap("viewer-map");
  const overlays = new Map();  // layer name -> tile layer
  let layers = [];
  const selection = L.geoJSON(null, {
    style: { color: "#ff6d00", weight: 3, fillOpacity: 0.15 },
    pointToLayer: (f, ll) => L.circleMarker(ll, { radius: 6, color: "#ff6d00", weight: 2, fillOpacity: 0.6 }),
  }).addTo(map);

  // Cursor coordinates: CGCS2000 geographic and EPSG:4544 Gauss-Kruger (metres).
  const coords = document.getElementById("coords");
  map.on("mousemove", (e) => {
    const [x, y] = proj4("EPSG:4490", "EPSG:4544", [e.latlng.lng, e.latlng.lat]);
    coords.textContent = `CGCS2000 ${e.latlng.lng.toFixed(6)}°E ${e.latlng.lat.toFixed(6)}°N | EPSG:4544 X ${x.toFixed(1)} Y ${y.toFixed(1)}`;
  });

  function titleOf(l) { return (config.language === "en" && l.title_en) || l.title_zh || l.title || l.name; }
  function themeOf(l) { return l.theme || String(l.name).split(".")[0]; }
  function tileUrl(l) {
    const u = l.tile_url || l.tile_url_template || l.tiles;
    return u ? u.replace("{grid}", "webmercator") : `/tiles/${l.name}/webmercator/{z}/{x}/{y}.png`;
  }
  function legendUrl(l) {
    const url = l.legend_url || `/ows?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetLegendGraphic&FORMAT=image/png&LAYER=${encodeURIComponent(l.name)}`;
    // WMS 1.3.0 GetLegendGraphic requires SLD_VERSION (MapServer answers 400 without it).
    return /SLD_VERSION=/i.test(url) ? url : `${url}&SLD_VERSION=1.1.0`;
  }

  // The whole layer through the export endpoint (GET /api/v1/layers/{name}/export/?format=gpkg|geojson).
  function exportUrl(name, fmt) { return `${config.api}layers/${encodeURIComponent(name)}/export/?format=${fmt}`; }

  async function loadCatalog() {
    const tree = document.getElementById("layer-tree");
    try {
      layers = (await list("layers/?limit=500")).filter((l) => l.name !== "base.basemap");
    } catch (err) {
      tree.innerHTML = `<div class="cg-empty">${esc(err.status === 401 || err.status === 403 ? "请登录后查看更多图层" : t("serviceMissing"))}</div>`;
      return;
    }
    document.getElementById("layer-count").textContent = layers.length;
    const byTheme = new Map();
    for (const l of layers) { const th = themeOf(l); if (!byTheme.has(th)) byTheme.set(th, []); byTheme.get(th).push(l); }
    tree.innerHTML = "";
    const select = document.getElementById("filter-layer");
    for (const [theme, items] of byTheme) {
      const det = document.createElement("details");
      det.className = "cg-layer-theme";
      det.open = true;
      det.innerHTML = `<summary>${esc(config.language === "en" ? EN_THEMES[theme] || theme : THEMES[theme] || theme)} <span class="cg-badge">${items.length}</span></summary>`;
      for (const l of items) {
        const div = document.createElement("div");
        div.className = "cg-layer";
        div.dataset.name = l.name;
        div.dataset.search = `${l.name} ${titleOf(l)} ${l.title_en || ""}`.toLowerCase();
        div.innerHTML = `<div class="cg-layer-head"><input type="checkbox" id="ly-${esc(l.name)}"><label for="ly-${esc(l.name)}">${esc(titleOf(l))}</label>
            <span class="cg-muted">${l.feature_count != null ? esc(l.feature_count) : ""}</span>
            ${l.extent || l.bbox ? `<button type="button" class="cg-btn" data-zoom title="缩放至图层">⤢</button>` : ""}</div>
          <div class="cg-layer-tools"><input type="range" min="0" max="100" value="80" aria-label="透明度 opacity">
            <img alt="${esc(t("grade"))}" loading="lazy"><span class="cg-muted">${esc(l.name)} · ${esc(CityGIS.label(l.owner))}</span>
            ${l.kind === "vector" ? `<span class="cg-layer-download">${esc(t("export"))}:
              <a data-download="gpkg" href="${esc(exportUrl(l.name, "gpkg"))}" download>GeoPackage</a>
              <a data-download="geojson" href="${esc(exportUrl(l.name, "geojson"))}" download>GeoJSON</a></span>` : ""}</div>`;
        const box = div.querySelector("input[type=checkbox]");
        box.addEventListener("change", () => toggle(l, box.checked, div));
        div.querySelector("input[type=range]").addEventListener("input", (e) => { const o = overlays.get(l.name); if (o) o.setOpacity(e.target.value / 100); });
        const zoom = div.querySelector("[data-zoom]");
        if (zoom) zoom.addEventListener("click", () => {
          const b = l.extent || l.bbox;
          const [minx, miny, maxx, maxy] = Array.isArray(b) ? b : [b.minx ?? b[0], b.miny, b.maxx, b.maxy];
          map.fitBounds([[miny, minx], [maxy, maxx]]);
        });
        det.appendChild(div);
        const o = document.createElement("option");
        o.value = l.name; o.textContent = titleOf(l);
        select.appendChild(o);
      }
      tree.appendChild(det);
    }
    updateExportLinks();
  }

  function toggle(l, on, div) {
    div.classList.toggle("on", on);
    if (on) {
      const layer = L.tileLayer(tileUrl(l), { opacity: div.querySelector("input[type=range]").value / 100, maxZoom: 19, zIndex: 10 });
      overlays.set(l.name, layer.addTo(map));
      const img = div.querySelector("img");
      if (!img.src) img.src = legendUrl(l);
    } else if (overlays.has(l.name)) {
      map.removeLayer(overlays.get(l.name));
      overlays.delete(l.name);
    }
  }

  document.getElementById("layer-search").addEventListener("input", (e) => {
    const q = e.target.value.trim().toLowerCase();
    document.querySelectorAll(".cg-layer").forEach((d) => { d.style.display = !q || d.dataset.search.includes(q) ? "" : "none"; });
  });

  function attributeTable(features, heading) {
    if (!features.length) return `<p class="cg-empty">${esc(t("noData"))}</p>`;
    return features.map((f) => {
      const p = f.properties || {};
      return `<div class="cg-panel-body" style="border-bottom:1px solid var(--cg-border)"><b>${esc(heading(f))}</b>
        <table class="cg-table cg-popup-table">${Object.entries(p).filter(([, v]) => v !== null && typeof v !== "object")
          .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("")}</table></div>`;
    }).join("");
  }

  // Identify by click: WMS 1.3.0 GetFeatureInfo on the visible layers, JSON answer.
  map.on("click", async (e) => {
    const names = [...overlays.keys()];
    if (!names.length) { toast("请先在左侧勾选图层"); return; }
    const size = map.getSize();
    const b = map.getBounds();
    const sw = L.CRS.EPSG3857.project(b.getSouthWest()), ne = L.CRS.EPSG3857.project(b.getNorthEast());
    const pt = map.latLngToContainerPoint(e.latlng);
    const q = new URLSearchParams({ SERVICE: "WMS", VERSION: "1.3.0", REQUEST: "GetFeatureInfo", LAYERS: names.join(","),
      QUERY_LAYERS: names.join(","), STYLES: "", CRS: "EPSG:3857", BBOX: [sw.x, sw.y, ne.x, ne.y].join(","), WIDTH: size.x, HEIGHT: size.y,
      I: Math.round(pt.x), J: Math.round(pt.y), INFO_FORMAT: "application/json", FEATURE_COUNT: "10", FORMAT: "image/png" });
    try {
      const res = await fetch(`/ows?${q}`, { credentials: "same-origin" });
      if (!res.ok) throw new Error(res.status);
      const body = await res.json();
      const features = body.features || [];
      showResults(features, (f) => f.layer || f.properties?.layer || f.id || t("features"));
      const table = attributeTable(features.slice(0, 1), (f) => f.layer || f.id || t("identify"));
      L.popup({ maxWidth: 360, maxHeight: 300 }).setLatLng(e.latlng).setContent(features.length ? table : esc(t("noData"))).openOn(map);
    } catch (err) {
      toast(`${t("identify")}: ${t("serviceMissing")}`);
    }
  });

  function showResults(features, heading) {
    document.getElementById("result-count").textContent = features.length;
    document.getElementById("results").innerHTML = `<div class="cg-attr-table">${attributeTable(features, heading)}</div>`;
  }

  function filterParams() {
    const p = new URLSearchParams();
    const expr = document.getElementById("filter-expr").value.trim();
    if (expr) p.set("filter", expr);
    if (document.getElementById("filter-bbox").checked) p.set("bbox", map.getBounds().toBBoxString());
    return p;
  }
  function updateExportLinks() {
    const name = document.getElementById("filter-layer").value;
    for (const fmt of ["geojson", "gpkg", "csv"]) {
      const p = filterParams();
      p.set("format", fmt);
      document.getElementById(`export-${fmt}`).href = name ? `${config.api}layers/${encodeURIComponent(name)}/export/?${p}` : "#";
    }
  }
  ["change", "input"].forEach((ev) => document.getElementById("filter-form").addEventListener(ev, updateExportLinks));
  map.on("moveend", updateExportLinks);

  document.getElementById("filter-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = document.getElementById("filter-layer").value;
    if (!name) return;
    const p = filterParams();
    p.set("limit", "500");
    try {
      const body = await api(`layers/${encodeURIComponent(name)}/features/?${p}`);
      const fc = body.type === "FeatureCollection" ? body : body.results || { features: [] };
      selection.clearLayers().addData(fc);
      showResults(fc.features || [], (f) => `${name} #${f.id ?? ""}`);
      if ((fc.features || []).length) map.fitBounds(selection.getBounds(), { maxZoom: 17 });
    } catch (err) {
      document.getElementById("results").innerHTML = `<div class="cg-alert cg-alert-error">${esc(typeof err.body === "object" ? JSON.stringify(err.body) : err.message).slice(0, 400)}</div>`;
    }
  });

  loadCatalog();
  window.CityGIS.viewer = { map, overlays, toggle: (name, on) => {
    const div = document.querySelector(`.cg-layer[data-name="${CSS.escape(name)}"]`);
    const box = div.querySelector("input[type=checkbox]");
    box.checked = on; box.dispatchEvent(new Event("change"));
  } };
})();
