/* Mobile reporter: category picker, GPS position nudgeable on a map, photos, offline queue, my tasks. */
(function () {
  "use strict";
  const { config, t, api, list, latLngOf, propsOf, esc, toast, baseMap, fmtTime, cookie, queue, flattenCategories } = window.CityGIS;
  const RETRY_MS = 15000;
  const REASON_ACTIONS = new Set(["check_failed", "request_extension", "request_suspend", "return"]);
  // A patrol result's workflow action: city_gis/hazards/patrols.py ACTION_OF, the table the API checks (page config).
  const PATROL_ACTION = config.patrolActions || {};
  const patrolButtons = document.getElementById("patrol-results");
  let categories = [];
  let chosen = null;
  let position = null;   // [lat, lon]

  // Tabs
  document.querySelectorAll(".cg-m-tabs button").forEach((b) => b.addEventListener("click", () => {
    document.querySelectorAll(".cg-m-tabs button").forEach((x) => x.classList.toggle("active", x === b));
    document.querySelectorAll(".cg-m-section").forEach((s) => s.classList.toggle("active", s.id === b.dataset.tab));
    if (b.dataset.tab === "tab-tasks") loadTasks();
    if (b.dataset.tab === "tab-queue") renderQueue();
    if (b.dataset.tab === "tab-report") setTimeout(() => map.invalidateSize(), 50);
  }));

  // Network state
  const net = document.getElementById("net-state");
  function showNet() {
    net.className = `cg-net ${navigator.onLine ? "online" : "offline"}`;
    net.textContent = navigator.onLine ? "在线 · Online" : "离线 · Offline";
  }
  window.addEventListener("online", () => { showNet(); resend(); });
  window.addEventListener("offline", showNet);
  showNet();

  // Categories: big class → small class, searchable by name or code
  function bigClassOf(c) {
    return `${c.big_code || String(c.code).slice(0, 2)} ${(config.language === "en" && c.big_name_en) || c.big_name_zh || ""}`;
  }
  function renderCategories() {
    const q = document.getElementById("cat-search").value.trim().toLowerCase();
    const el = document.getElementById("cat-list");
    const small = categories;
    const hits = small.filter((c) => !q || String(c.code).includes(q) || (c.name_zh || c.name || "").toLowerCase().includes(q) || bigClassOf(c).toLowerCase().includes(q));
    const groups = new Map();
    for (const c of hits) {
      const key = `${c.kind === "component" ? "部件" : "事件"} ${bigClassOf(c)}`;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(c);
    }
    el.innerHTML = hits.length ? "" : `<div class="cg-empty">${esc(t("noData"))}</div>`;
    for (const [group, items] of groups) {
      el.insertAdjacentHTML("beforeend", `<div class="cg-cat-group">${esc(group)}</div>` + items.map((c) =>
        `<div class="cg-cat-item${chosen && chosen.code === c.code && chosen.kind === c.kind ? " selected" : ""}" data-code="${esc(c.code)}" data-kind="${esc(c.kind || "")}" role="option">${esc(c.code)} ${esc((config.language === "en" && c.name_en) || c.name_zh || c.name)}</div>`).join(""));
    }
    el.querySelectorAll(".cg-cat-item").forEach((item) => item.addEventListener("click", () => {
      chosen = categories.find((c) => String(c.code) === item.dataset.code && String(c.kind || "") === item.dataset.kind);
      document.getElementById("cat-chosen").textContent = `${t("category")}: ${chosen.code} ${chosen.name_zh || chosen.name}`;
      renderCategories();
    }));
  }
  document.getElementById("cat-search").addEventListener("input", renderCategories);
  async function loadCategories() {
    try {
      categories = flattenCategories(await api("categories/"));
      localStorage.setItem("citygis.categories", JSON.stringify(categories));  // for offline use
    } catch (err) {
      categories = JSON.parse(localStorage.getItem("citygis.categories") || "[]");
    }
    renderCategories();
  }

  // Position: GPS, then nudge by dragging the marker or tapping the map
  const map = baseMap("m-map", { zoom: 16, zoomControl: false });
  const marker = L.marker(config.center, { draggable: true }).addTo(map);
  async function setPosition(latlng, source) {
    position = [latlng.lat ?? latlng[0], latlng.lng ?? latlng[1]];
    marker.setLatLng(position);
    const text = document.getElementById("pos-text");
    text.textContent = `${source} ${position[1].toFixed(6)}, ${position[0].toFixed(6)}`;
    if (!navigator.onLine) return;
    try {
      const cell = await api(`grid/lookup/?lon=${position[1]}&lat=${position[0]}`);
      const name = [cell.address || cell.community_name, cell.cell_code].filter(Boolean).join(" · ");
      if (name) text.textContent += ` · ${name}`;
    } catch (err) { /* outside the managed area or no lookup: the server will say so on submit */ }
  }
  marker.on("dragend", () => setPosition(marker.getLatLng(), "⊕"));
  map.on("click", (e) => setPosition(e.latlng, "⊕"));
  function locate() {
    if (!navigator.geolocation) { document.getElementById("pos-text").textContent = t("noPosition"); return; }
    navigator.geolocation.getCurrentPosition(
      (p) => { setPosition([p.coords.latitude, p.coords.longitude], "GPS"); map.setView(position, 17); },
      () => { document.getElementById("pos-text").textContent = t("noPosition"); },
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 30000 });
  }
  document.getElementById("btn-locate").addEventListener("click", locate);

  // Photos
  const photoInput = document.getElementById("photos");
  photoInput.addEventListener("change", () => {
    const box = document.getElementById("photo-previews");
    box.innerHTML = "";
    for (const f of photoInput.files) { const img = document.createElement("img"); img.src = URL.createObjectURL(f); box.appendChild(img); }
  });

  // Submit: always through the queue, so online and offline reports take one path
  function message(kind, text) {
    document.getElementById("report-msg").innerHTML = `<div class="cg-alert cg-alert-${kind}">${esc(text)}</div>`;
  }
  document.getElementById("btn-submit").addEventListener("click", async () => {
    if (!chosen) { message("error", t("pickCategory")); return; }
    if (!position) { message("error", t("noPosition")); return; }
    const item = {
      client_uuid: crypto.randomUUID(),
      category: chosen.code,
      kind: chosen.kind || "",
      lon: position[1], lat: position[0],
      description: document.getElementById("description").value,
      reported_at: new Date().toISOString(),
      photos: Array.from(photoInput.files).map((f) => ({ name: f.name, type: f.type, blob: f.slice(0, f.size, f.type) })),
      title: `${chosen.code} ${chosen.name_zh || chosen.name}`,
    };
    await queue.put(item);
    document.getElementById("description").value = "";
    photoInput.value = "";
    document.getElementById("photo-previews").innerHTML = "";
    const sent = navigator.onLine ? await resend() : 0;
    message(sent ? "ok" : "info", sent ? t("sent") : t("queued"));
  });

  async function sendReport(item) {
    const form = new FormData();
    form.append("client_uuid", item.client_uuid);
    form.append("category", item.kind === "component" ? `component:${item.category}` : item.category);
    if (item.description) form.append("description", item.description);
    form.append("observed_at", item.reported_at);
    form.append("location", JSON.stringify({ type: "Point", coordinates: [item.lon, item.lat] }));
    for (const p of item.photos || []) form.append("photos", p.blob, p.name);
    const res = await fetch(`${config.api}reports/`, {
      method: "POST", body: form, credentials: "same-origin",
      headers: { "X-CSRFToken": cookie("csrftoken"), Accept: "application/json" },
    });   // a network failure throws here and keeps the item queued
    if (res.ok) {
      const body = await res.json().catch(() => ({}));
      const sent = JSON.parse(localStorage.getItem("citygis.sent") || "[]");
      sent.unshift({ title: item.title, at: item.reported_at, id: body.id || body.case || "", client_uuid: item.client_uuid });
      localStorage.setItem("citygis.sent", JSON.stringify(sent.slice(0, 20)));
      return "sent";
    }
    if (res.status >= 500 || res.status === 401 || res.status === 403 || res.status === 429) throw new Error(String(res.status));
    return { error: await res.text() };   // 4xx: the report itself is wrong; keep it and show why
  }

  async function resend() {
    if (!navigator.onLine) return 0;
    const sent = await queue.flush(sendReport).catch(() => 0);
    if (sent) toast(`${t("sent")} × ${sent}`);
    await renderQueue();
    return sent;
  }
  document.getElementById("btn-resend").addEventListener("click", resend);

  async function renderQueue() {
    const items = await queue.all();
    document.getElementById("queue-count").textContent = items.length;
    document.getElementById("queue-list").innerHTML = items.map((i) => `<div class="cg-queue-item"><b>${esc(i.title)}</b>
      <div class="cg-muted">${esc(fmtTime(i.reported_at))} · ${esc(t("pending"))}${i.error ? ` · <span style="color:#d93025">${esc(i.error.slice(0, 200))}</span>` : ""}</div></div>`).join("")
      || `<div class="cg-empty">${esc(t("noData"))}</div>`;
    const sent = JSON.parse(localStorage.getItem("citygis.sent") || "[]");
    document.getElementById("sent-list").innerHTML = sent.map((s) => `<div class="cg-queue-item"><b>${esc(s.title)}</b>
      <div class="cg-muted">${esc(fmtTime(s.at))} · ${esc(t("sent"))} ${esc(s.id)}</div></div>`).join("") || `<div class="cg-empty">${esc(t("noData"))}</div>`;
  }

  // My tasks: verify / check, with navigation and completion with photos
  async function loadTasks() {
    const el = document.getElementById("task-list");
    try {
      const tasks = (await list("tasks/?limit=200")).map(propsOf);
      document.getElementById("task-count").textContent = tasks.length;
      el.innerHTML = tasks.map((task) => {
        const ll = latLngOf(task);
        const kind = t("actions")[task.kind] || task.kind || "";
        const patrol = (task.patrol_results || []).length > 0 && patrolButtons;
        return `<div class="cg-task" data-id="${esc(task.id)}"><b>${esc(kind)} · ${esc(task.number)} ${esc(task.category_name || "")}</b>
          <div class="cg-muted">${esc(task.address || "")}${task.deadline ? ` · ${esc(t("stageDeadline"))} ${esc(fmtTime(task.deadline))}` : ""}
            ${task.distance_m != null ? ` · ${Math.round(task.distance_m)} m` : ""}</div>
          <div>${esc(task.description || "")}</div>
          ${ll ? `<a class="cg-btn" href="geo:${ll[0]},${ll[1]}?q=${ll[0]},${ll[1]}">${esc(t("navigate"))} ↗</a>` : ""}
          <form class="cg-action-form" style="margin-top:6px">
            ${patrol ? "" : `<select name="action">${(task.actions || []).map((a) => `<option value="${esc(a)}">${esc(t("actions")[a] || a)}</option>`).join("")}</select>`}
            <label class="cg-btn cg-photo-btn">＋ ${esc(t("photos"))}<input type="file" name="photos" accept="image/*" capture="environment" multiple class="cg-visually-hidden"></label>
            <textarea name="note" rows="2" placeholder="${esc(t("note"))} / ${esc(t("reason"))}"></textarea>
            ${patrol ? patrolButtons.innerHTML : `<button class="cg-btn cg-btn-primary" type="submit">${esc(t("complete"))}</button>`}</form></div>`;
      }).join("") || `<div class="cg-empty">${esc(t("noData"))}</div>`;
      el.querySelectorAll(".cg-task form").forEach((form) => form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const id = form.closest(".cg-task").dataset.id;
        const data = new FormData(form);
        const result = e.submitter && e.submitter.name === "patrol_result" ? e.submitter.value : "";
        if (result) {  // a patrol: the result button decides the action; "evacuate" raises the alert to red
          if (e.submitter.dataset.confirm && !window.confirm(e.submitter.dataset.confirm)) return;
          data.set("patrol_result", result);
          data.set("action", PATROL_ACTION[result]);
        }
        if (REASON_ACTIONS.has(data.get("action"))) { data.set("reason", data.get("note")); data.delete("note"); }
        if (!data.get("photos") || !data.get("photos").size) data.delete("photos");
        try {
          await api(`tasks/${id}/complete/`, { method: "POST", body: data });
          toast(t("done"));
          loadTasks();
        } catch (err) {
          const msg = typeof err.body === "object" ? Object.entries(err.body).map(([k, v]) => `${k}: ${[].concat(v).join(" ")}`).join("; ") : err.message;
          toast(`${t("error")}: ${msg.slice(0, 200)}`);
        }
      }));
    } catch (err) {
      el.innerHTML = `<div class="cg-empty">${esc(t("serviceMissing"))}</div>`;
    }
  }

  if ("serviceWorker" in navigator && location.protocol !== "file:") {
    navigator.serviceWorker.register("/m/sw.js", { scope: "/m/" }).catch(() => {});
  }
  loadCategories();
  locate();
  renderQueue().then(resend);
  loadTasks();
  setInterval(resend, RETRY_MS);
  window.CityGIS.mobile = { resend, setPosition };
})();
