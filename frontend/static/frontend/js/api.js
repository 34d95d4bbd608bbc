/* CityGIS shared browser helpers: page config, translations, REST calls with the session + CSRF, map set-up. */
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("cg-config").textContent);
  const strings = JSON.parse(document.getElementById("cg-i18n").textContent);

  function cookie(name) {
    const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }

  class ApiError extends Error {
    constructor(status, body) {
      super(typeof body === "string" ? body : JSON.stringify(body));
      this.status = status;
      this.body = body;
    }
  }

  /** Call the REST API (path relative to /api/v1/ unless absolute); JSON in, JSON out. */
  async function api(path, options = {}) {
    const url = path.startsWith("/") ? path : config.api + path;
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options);
    opts.headers = Object.assign({ Accept: "application/json" }, opts.headers);
    if (opts.method && opts.method !== "GET") {
      opts.headers["X-CSRFToken"] = cookie("csrftoken");
      if (opts.json !== undefined) {
        opts.headers["Content-Type"] = "application/json";
        opts.body = JSON.stringify(opts.json);
      }
    }
    delete opts.json;
    const res = await fetch(url, opts);
    const type = res.headers.get("Content-Type") || "";
    const body = type.includes("json") ? await res.json() : await res.text();
    if (!res.ok) throw new ApiError(res.status, body);
    return body;
  }

  /** Every item of a list endpoint: follows LimitOffset pagination ("results"/"next") up to `max` items. */
  async function list(path, max = 2000) {
    let url = path;
    const out = [];
    while (url && out.length < max) {
      const body = await api(url);
      if (Array.isArray(body)) return out.concat(body);
      if (body.type === "FeatureCollection") { out.push(...body.features); url = body.next || null; continue; }
      const items = body.results || [];
      if (items.type === "FeatureCollection") out.push(...items.features); else out.push(...items);
      url = body.next ? new URL(body.next, location.href).pathname + new URL(body.next, location.href).search : null;
    }
    return out;
  }

  /** [lat, lon] of an API object: GeoJSON feature, GeoJSON point field, or lon/lat fields. */
  function latLngOf(obj) {
    if (!obj) return null;
    const geom = obj.geometry || obj.location || obj.point || obj.geom;
    if (geom && geom.type === "Point" && geom.coordinates) return [geom.coordinates[1], geom.coordinates[0]];
    const p = obj.properties || obj;
    const lon = p.lon ?? p.longitude ?? p.long, lat = p.lat ?? p.latitude;
    if (lon != null && lat != null) return [Number(lat), Number(lon)];
    return null;
  }

  /** Properties of a GeoJSON feature or the object itself, with the feature id kept. */
  function propsOf(obj) {
    if (obj && obj.type === "Feature") return Object.assign({ id: obj.id }, obj.properties);
    return obj;
  }

  /** The category tree of /categories/ ([{kind, big_code, big_name_zh, children: […]}]) as a flat list of small classes. */
  function flattenCategories(tree) {
    const out = [];
    for (const node of tree) {
      if (!node.children) { out.push(node); continue; }
      for (const c of node.children) out.push(Object.assign({ big_name_zh: node.big_name_zh, big_name_en: node.big_name_en, kind: node.kind }, c));
    }
    return out;
  }

  function t(key) { return strings[key] ?? key; }

  function esc(value) {
    return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  let toastTimer;
  function toast(message) {
    let el = document.querySelector(".cg-toast");
    if (!el) { el = document.createElement("div"); el.className = "cg-toast"; el.setAttribute("role", "status"); document.body.appendChild(el); }
    el.textContent = message;
    el.classList.add("show");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => el.classList.remove("show"), 3000);
  }

  /** A Leaflet map on our own base map tiles (no outside tile service). */
  function baseMap(elementId, options = {}) {
    const map = L.map(elementId, Object.assign({ zoomControl: true, attributionControl: true }, options))
      .setView(options.center || config.center, options.zoom || config.zoom);
    const base = L.tileLayer(config.baseTiles, { maxZoom: 19, attribution: "CityGIS 六盘水" }).addTo(map);
    map.attributionControl.setPrefix(false);
    map.cgBase = base;
    return map;
  }

  function fmtTime(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    if (isNaN(d)) return esc(iso);
    return d.toLocaleString(config.language === "en" ? "en-GB" : "zh-CN", { timeZone: "Asia/Shanghai", hour12: false,
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  }

  function label(value) {
    if (value == null) return "";
    if (typeof value === "object") return value.name_zh || value.name || value.label || value.title || value.code || "";
    return String(value);
  }

  window.CityGIS = { flattenCategories, config, strings, t, api, list, latLngOf, propsOf, esc, toast, baseMap, fmtTime, label, ApiError, cookie };
})();
