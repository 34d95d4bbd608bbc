/* /emergency/: open alerts (polled), devices, active area warnings and shelters on the map; acknowledge an alert,
   a device's readings chart, the evacuation plan of an orange/red alert with its routes. Data: /api/v1/hazards/. */
(function () {
  "use strict";
  const { config, api, list, esc, toast, baseMap, fmtTime } = window.CityGIS;
  const S = config.strings;
  const RANK = { red: 4, orange: 3, yellow: 2, blue: 1 };
  const COLOUR = { red: "#d7191c", orange: "#f58025", yellow: "#e6c700", blue: "#2b83ba" };
  const QUANTITY = { rain_mm: "mm", displacement_mm: "mm", crack_mm: "mm", tilt_deg: "°", water_level_m: "m" };

  const map = baseMap("em-map");
  window.CityGIS.emergencyMap = map;  // for the browser tests
  // 512 px tiles: fewer MapServer requests per view (they share the browser's connections with the API calls)
  L.tileLayer.wms("/ows", { layers: config.hazardLayers.join(","), format: "image/png", transparent: true,
    version: "1.1.1", opacity: 0.8, tileSize: 512 }).addTo(map);
  const warningLayer = L.layerGroup().addTo(map);
  const deviceLayer = L.layerGroup().addTo(map);
  const alertLayer = L.layerGroup().addTo(map);
  const planLayer = L.layerGroup().addTo(map);

  let devices = [];
  let alerts = [];
  let selected = null;  // alert id
  let chart = null;

  /** lat/lng of a hazard point: the mean of its devices' positions (alerts carry only the point's code). */
  function pointLatLng(code) {
    const own = devices.filter((d) => d.hazard_point === code);
    if (!own.length) return null;
    return [own.reduce((s, d) => s + d.lat, 0) / own.length, own.reduce((s, d) => s + d.lon, 0) / own.length];
  }

  function sortAlerts(items) {
    return items.slice().sort((a, b) => (RANK[b.level] - RANK[a.level]) || (new Date(b.opened_at) - new Date(a.opened_at)));
  }

  function deviceState(d) {
    if (d.status !== "active") return d.status;
    const offline = alerts.some((a) => a.rule === config.offlineRule && a.device === d.code);
    return offline ? "offline" : "online";
  }

  function drawDevices() {
    deviceLayer.clearLayers();
    for (const d of devices) {
      const state = deviceState(d);
      const marker = L.circleMarker([d.lat, d.lon], { radius: 5, weight: 1, color: "#333",
        fillColor: state === "online" ? "#1a9641" : "#888", fillOpacity: 0.9, className: `em-device em-device-${state}` });
      marker.bindTooltip(`${esc(d.code)} · ${esc(d.hazard_point_name)} · ${esc(S.deviceStatus[state] || state)}`);
      marker.on("click", () => showDevice(d));
      marker.cgDevice = d.code;
      marker.addTo(deviceLayer);
    }
  }

  function drawAlerts() {
    alertLayer.clearLayers();
    for (const a of alerts) {
      const at = pointLatLng(a.hazard_point);
      if (!at) continue;
      L.circleMarker(at, { radius: 11, weight: 3, color: COLOUR[a.level], fill: false, className: `em-alert-marker em-alert-${a.level}` })
        .bindTooltip(`${esc(a.hazard_point_name)} · ${esc(S.levels[a.level])} · ${esc(a.rule)}`)
        .on("click", () => select(a.id)).addTo(alertLayer);
    }
  }

  function renderList() {
    const ul = document.getElementById("em-alerts");
    if (!alerts.length) { ul.innerHTML = `<li class="cg-empty">${esc(S.noAlerts)}</li>`; return; }
    ul.innerHTML = sortAlerts(alerts).map((a) => {
      const ack = a.acknowledged_at
        ? `<span class="cg-muted em-acked">${esc(S.acknowledged)} ${esc(a.acknowledged_by || "")}</span>`
        : `<button type="button" class="cg-btn em-ack" data-ack="${esc(a.id)}">${esc(S.acknowledge)}</button>`;
      return `<li class="em-alert em-level-${esc(a.level)}${a.id === selected ? " active" : ""}" data-alert="${esc(a.id)}" data-level="${esc(a.level)}">` +
        `<span class="em-badge ${esc(a.level)}">${esc(S.levels[a.level] || a.level)}</span> <b>${esc(a.hazard_point_name)}</b> ` +
        `<span class="cg-muted">${esc(a.hazard_point)}</span><br><span class="cg-muted">${esc(a.rule)}${a.device ? " · " + esc(a.device) : ""}` +
        `${a.value != null ? " · " + esc(a.value) : ""} · ${fmtTime(a.opened_at)}</span><br>${ack}</li>`;
    }).join("");
  }

  async function refresh() {
    try {
      alerts = await list("hazards/alerts/?open=true", 1000);
      renderList(); drawAlerts(); drawDevices();
      document.getElementById("em-updated").textContent = `${S.updated} ${new Date().toLocaleTimeString("zh-CN", { hour12: false })}`;
    } catch (err) {
      toast(String(err.message || err));
    }
  }

  async function loadStatic() {
    const [devs, warnings] = await Promise.all([list("hazards/devices/", 2000), list("hazards/warnings/?active=true", 200)]);
    devices = devs;
    warningLayer.clearLayers();
    for (const w of warnings) {
      L.geoJSON(w.area, { style: { color: COLOUR[w.level], weight: 2, fillColor: COLOUR[w.level], fillOpacity: 0.15 } })
        .bindTooltip(`${esc(S.levels[w.level])} · ${esc(w.issuer)} · ${fmtTime(w.valid_from)}–${fmtTime(w.valid_to)}`)
        .addTo(warningLayer);
    }
  }

  document.getElementById("em-alerts").addEventListener("click", async (e) => {
    const ackId = e.target.getAttribute && e.target.getAttribute("data-ack");
    if (ackId) {
      e.stopPropagation();
      e.target.disabled = true;
      try {
        await api(`hazards/alerts/${encodeURIComponent(ackId)}/acknowledge/`, { method: "POST", json: {} });
        toast(S.acknowledged);
        await refresh();
      } catch (err) {
        e.target.disabled = false;
        toast(err.body && err.body.detail ? err.body.detail : String(err.message || err));
      }
      return;
    }
    const li = e.target.closest("li[data-alert]");
    if (li) select(Number(li.getAttribute("data-alert")));
  });

  async function select(id) {
    selected = id;
    renderList();
    const a = alerts.find((x) => x.id === id);
    const at = a && pointLatLng(a.hazard_point);
    if (at) map.setView(at, Math.max(map.getZoom(), 15));
    planLayer.clearLayers();
    const body = document.getElementById("em-plan-body");
    if (!a || RANK[a.level] < RANK.orange) { body.textContent = S.noPlan; return; }
    try {
      showPlan(await api(`hazards/alerts/${id}/evacuation-plan/`));
    } catch (err) {
      if (err.status !== 404) { body.textContent = String(err.message || err); return; }
      body.innerHTML = esc(S.noPlan) + (config.mayPlan ? ` <button type="button" class="cg-btn" id="em-make-plan">${esc(S.makePlan)}</button>` : "");
      const make = document.getElementById("em-make-plan");
      if (make) make.addEventListener("click", async () => {
        make.disabled = true;
        try { showPlan(await api(`hazards/alerts/${id}/evacuation-plan/`, { method: "POST" })); }
        catch (e2) { body.textContent = JSON.stringify(e2.body); }
      });
    }
  }

  function showPlan(plan) {
    planLayer.clearLayers();
    const zone = L.geoJSON(plan.zone, { style: { color: "#7b3294", weight: 2, dashArray: "4 4", fillOpacity: 0.05 } }).addTo(planLayer);
    for (const r of plan.assignments) {
      if (!r.route) continue;
      L.geoJSON(r.route, { style: { color: "#0050b3", weight: 4, opacity: 0.8, className: "em-route" } })
        .bindTooltip(`${esc(r.community_name)} · ${esc(r.people)} → ${esc(r.shelter_name)} (${esc(r.distance_m)} m)`)
        .addTo(planLayer);
    }
    for (const s of plan.shelters) {
      L.marker([s.lat, s.lon], { title: s.name }).bindTooltip(`${esc(s.name)} ${esc(s.assigned)}/${esc(s.capacity)}`).addTo(planLayer);
    }
    try { map.fitBounds(L.featureGroup(planLayer.getLayers()).getBounds(), { maxZoom: 17 }); } catch (e) { map.fitBounds(zone.getBounds()); }
    const rows = plan.shelters.map((s) => `<tr><td>${esc(s.name)}</td><td>${esc(s.assigned)} / ${esc(s.capacity)}</td></tr>`).join("");
    document.getElementById("em-plan-body").innerHTML =
      `<p id="em-plan-summary">${esc(S.people)} <b>${esc(plan.people_total)}</b> · ${esc(S.buildings)} <b>${esc(plan.buildings)}</b> · ` +
      `${esc(S.assigned)} ${esc(plan.people_assigned)} · ${esc(S.unassigned)} ${esc(plan.people_unassigned)} · ${fmtTime(plan.created_at)}</p>` +
      `<table class="cg-table"><thead><tr><th>${esc(S.shelters)}</th><th>${esc(S.assigned)} / ${esc(S.capacity)}</th></tr></thead><tbody>${rows}</tbody></table>` +
      `<p><a id="em-print" href="/emergency/alerts/${encodeURIComponent(plan.alert)}/evacuation-list/" target="_blank" rel="noopener">${esc(S.printList)}</a></p>`;
  }

  async function showDevice(d) {
    document.getElementById("em-device-title").textContent = `${d.code} · ${d.hazard_point_name}`;
    const note = document.getElementById("em-device-note");
    let data;
    try { data = await api(`hazards/devices/${encodeURIComponent(d.code)}/readings/`); }
    catch (err) { note.textContent = String(err.message || err); return; }
    const keys = [...new Set(data.readings.flatMap((r) => Object.keys(r.values)))];
    note.textContent = data.readings.length ? `${data.count}${data.truncated ? "+" : ""} · ${fmtTime(data.since)} – ${fmtTime(data.until)}` : S.noReadings;
    if (chart) chart.destroy();
    const canvas = document.getElementById("em-chart");
    canvas.setAttribute("data-device", d.code);
    chart = new Chart(canvas, {
      type: "line",
      data: {
        labels: data.readings.map((r) => fmtTime(r.observed_at)),
        datasets: keys.map((k, i) => ({ label: `${k} (${QUANTITY[k] || ""})`, data: data.readings.map((r) => r.values[k] ?? null),
          borderColor: ["#0050b3", "#d7191c", "#1a9641", "#7b3294", "#f58025"][i % 5], pointRadius: 0, borderWidth: 1.5, spanGaps: true })),
      },
      options: { animation: false, maintainAspectRatio: false, scales: { x: { ticks: { maxTicksLimit: 8 } } } },
    });
    window.CityGIS.emergencyChart = chart;
  }

  (async () => {
    try { await loadStatic(); } catch (err) { toast(String(err.message || err)); }
    await refresh();
    setInterval(() => { if (!document.hidden) refresh(); }, config.pollMs);
  })();
})();
