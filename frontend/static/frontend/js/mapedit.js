/* Editing in /map/ for the owning department's stewards (Leaflet-Geoman, vendored): draw, move vertices, delete,
   an attribute form from the collection's queryables, saves through OGC API – Features Part 4 with If-Match
   (a 412 shows the newer state), undo of the last change by its inverse edit, the layer's edit log. */
(function () {
  "use strict";
  const { esc, toast } = window.CityGIS;
  const viewer = window.CityGIS.viewer;
  const panel = document.getElementById("edit-panel");
  if (!viewer || !panel || !window.L || !L.PM) return;
  const map = viewer.map;
  const select = document.getElementById("edit-layer");
  const form = document.getElementById("edit-form");
  const log = document.getElementById("edit-log");
  const DRAW = { POLYGON: "Polygon", LINESTRING: "Line", POINT: "Marker" };
  const group = L.featureGroup().addTo(map);
  let current = null;   // {name, geometryType, props: [[name, spec]]}
  let selected = null;  // {layer (Leaflet), id, etag} | {layer, id: null} for a drawn, unsaved feature
  let undo = null;      // {method, id, body, etag}: the inverse of the last saved change
  map.pm.setGlobalOptions({ snappable: true, snapDistance: 15 });

  function cookie(name) {
    const m = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : "";
  }
  function items(id) {
    return `/ogcapi/collections/${encodeURIComponent(current.name)}/items` + (id == null ? "" : `/${id}`);
  }
  async function call(method, url, body, etag) {
    const headers = { Accept: "application/geo+json", "X-CSRFToken": cookie("csrftoken") };
    if (body !== undefined) headers["Content-Type"] = "application/geo+json";
    if (etag) headers["If-Match"] = etag;
    const res = await fetch(url, { method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body) });
    const type = res.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await res.json() : null;
    return { status: res.status, etag: res.headers.get("ETag"), data };
  }
  function problemText(r) { return (r.data && (r.data.detail || r.data.title)) || String(r.status); }

  async function loadCollections() {
    const res = await fetch("/ogcapi/collections?f=json", { credentials: "same-origin" });
    if (!res.ok) return;
    const writable = (await res.json()).collections.filter((c) => c.writable);
    if (!writable.length) return;
    select.innerHTML = '<option value="">—</option>' + writable.map((c) =>
      `<option value="${esc(c.id)}" data-type="${esc(c.geometryType)}">${esc(c.title)}</option>`).join("");
    panel.hidden = false;
  }

  async function chooseLayer(name) {
    group.clearLayers(); selected = null; undo = null; form.innerHTML = ""; log.innerHTML = "";
    current = null;
    if (!name) return;
    const type = select.selectedOptions[0].dataset.type;
    const q = await (await fetch(`/ogcapi/collections/${encodeURIComponent(name)}/queryables`,
      { credentials: "same-origin" })).json();
    const props = Object.entries(q.properties).filter(([, s]) => !s["x-ogc-role"]);
    current = { name, geometryType: type, props };
    map.pm.removeControls();
    map.pm.addControls({ position: "topleft", drawMarker: type === "POINT", drawPolyline: type === "LINESTRING",
      drawPolygon: type === "POLYGON", drawRectangle: type === "POLYGON", drawCircle: false, drawCircleMarker: false,
      drawText: false, cutPolygon: false, rotateMode: false, dragMode: false, removalMode: false,
      editMode: false });
    await loadFeatures();
    await loadLog();
  }

  async function loadFeatures() {
    group.clearLayers();
    const b = map.getBounds();
    const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((v) => v.toFixed(6)).join(",");
    const res = await fetch(`${items()}?f=json&limit=500&bbox=${bbox}`, { credentials: "same-origin" });
    if (!res.ok) return;
    L.geoJSON(await res.json(), { style: { color: "#6a1b9a", weight: 2, fillOpacity: 0.1 },
      onEachFeature: (f, layer) => { layer.featureId = f.id; layer.on("click", () => pick(layer)); } })
      .eachLayer((l) => group.addLayer(l));
  }

  async function loadLog() {
    try {
      const data = await window.CityGIS.api(`layers/${encodeURIComponent(current.name)}/versions/?limit=10`);
      const rows = (data.results || data).slice(0, 10);
      log.innerHTML = rows.map((v) => `<li data-number="${esc(v.number)}">v${esc(v.number)} · ${esc(v.kind)} · ` +
        `${esc(v.created_by || "")} · ${esc((v.created_at || "").slice(0, 16).replace("T", " "))}` +
        ` · +${esc(v.rows_added)} ~${esc(v.rows_changed)} −${esc(v.rows_removed)} ${esc(v.comment || "")}</li>`).join("");
    } catch (err) { log.innerHTML = ""; }
  }

  function showForm(properties) {
    form.innerHTML = current.props.map(([name, spec]) => {
      const value = properties[name] == null ? "" : properties[name];
      if (Array.isArray(spec.enum)) {  // a closed list (the field's choices): a drop-down, never free text
        const titles = spec["x-enum-titles"] || spec.enum;
        const options = spec.enum.map((v, i) => `<option value="${esc(v)}"${String(v) === String(value) ? " selected" : ""}>` +
          `${esc(titles[i])}</option>`).join("");
        return `<label>${esc(spec.title || name)}<select name="${esc(name)}" data-type="${esc(spec.type)}">` +
          `<option value="">—</option>${options}</select></label>`;
      }
      const kind = spec.type === "number" || spec.type === "integer" ? "number" : "text";
      const max = spec.maxLength ? ` maxlength="${esc(spec.maxLength)}"` : "";
      return `<label>${esc(spec.title || name)}<input name="${esc(name)}" data-type="${esc(spec.type)}"` +
        ` type="${kind}" step="any" value="${esc(value)}"${max}></label>`;
    }).join("") + `<div class="cg-actions"><button type="submit" class="cg-btn cg-btn-primary" id="edit-save">` +
      `${esc(gettext("保存"))}</button>${selected && selected.id != null ? `<button type="button" class="cg-btn" id="edit-delete">${esc(gettext("删除"))}</button>` : ""}` +
      `</div>`;
    const del = document.getElementById("edit-delete");
    if (del) del.addEventListener("click", removeSelected);
  }
  function formProperties() {
    const out = {};
    for (const input of form.querySelectorAll("input[name], select[name]")) {
      if (input.value === "") { out[input.name] = null; continue; }
      out[input.name] = input.dataset.type === "number" || input.dataset.type === "integer" ? Number(input.value)
        : input.value;
    }
    return out;
  }

  async function pick(layer) {
    if (selected && selected.layer !== layer && selected.layer.pm) selected.layer.pm.disable();
    const r = await call("GET", items(layer.featureId));
    if (r.status !== 200) { toast(problemText(r), "error"); return; }
    selected = { layer, id: layer.featureId, etag: r.etag, before: r.data };
    layer.pm.enable({ snappable: true });
    showForm(r.data.properties || {});
  }

  function geometryOf(layer) {
    return layer.toGeoJSON(7).geometry;
  }
  function body(geometry, properties) { return { type: "Feature", geometry, properties }; }

  async function save(ev) {
    ev.preventDefault();
    if (!selected) return;
    const properties = formProperties();
    const geometry = geometryOf(selected.layer);
    let r;
    if (selected.id == null) {
      r = await call("POST", items(), body(geometry, properties));
      if (r.status === 201) undo = { method: "DELETE", id: r.data.id, etag: r.etag };
    } else {
      r = await call("PUT", items(selected.id), body(geometry, properties), selected.etag);
      if (r.status === 200) {
        undo = { method: "PUT", id: selected.id, etag: r.etag,
          body: body(selected.before.geometry, selected.before.properties) };
      }
    }
    await settle(r);
  }

  async function removeSelected() {
    if (!selected || selected.id == null) return;
    const before = selected.before;
    const r = await call("DELETE", items(selected.id), undefined, selected.etag);
    if (r.status === 204) undo = { method: "POST", body: body(before.geometry, before.properties) };
    await settle(r);
  }

  async function settle(r) {
    if (r.status === 412 || r.status === 409) {
      // someone saved this feature after we read it: show their state, keep nothing of ours
      toast(gettext("要素已被他人修改，已显示最新状态") + " — " + problemText(r), "error");
      const fresh = await call("GET", items(selected.id));
      await loadFeatures();
      if (fresh.status === 200) {
        selected.etag = fresh.etag; selected.before = fresh.data; showForm(fresh.data.properties || {});
      }
      return;
    }
    if (r.status >= 400) { toast(problemText(r), "error"); return; }
    toast(gettext("已保存"), "success");
    selected = null; form.innerHTML = "";
    await loadFeatures();
    await loadLog();
    document.getElementById("edit-undo").disabled = !undo;
  }

  async function undoLast() {
    if (!undo || !current) return;
    let r;
    if (undo.method === "DELETE") r = await call("DELETE", items(undo.id), undefined, undo.etag);
    else if (undo.method === "PUT") r = await call("PUT", items(undo.id), undo.body, undo.etag);
    else r = await call("POST", items(), undo.body);
    undo = null;
    await settle(r);
  }

  map.on("pm:create", (e) => {
    if (!current) { e.layer.remove(); return; }
    e.layer.featureId = null;
    group.addLayer(e.layer);
    e.layer.on("click", () => { selected = { layer: e.layer, id: null }; showForm({}); });
    selected = { layer: e.layer, id: null };
    showForm({});
  });
  select.addEventListener("change", () => chooseLayer(select.value));
  form.addEventListener("submit", save);
  document.getElementById("edit-undo").addEventListener("click", undoLast);
  map.on("moveend", () => { if (current && !selected) loadFeatures(); });
  function gettext(s) { return (window.CityGIS.t && window.CityGIS.t(s)) || s; }
  loadCollections();
})();
