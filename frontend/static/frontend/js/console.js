/* Dispatcher console: live map of open cases, filters, list ↔ map sync, case panel with the workflow buttons. */
(function () {
  "use strict";
  const { config, t, api, list, latLngOf, propsOf, esc, toast, baseMap, fmtTime, label, flattenCategories } = window.CityGIS;
  const POLL_MS = 8000;                 // refresh within 10 s of a change
  const CLOSED = new Set(["closed", "rejected", "voided", "merged"]);
  const REASON_ACTIONS = new Set(["reject", "void", "return", "deny_extension", "deny_suspend", "request_extension", "request_suspend", "check_failed"]);
  const SHORTCUTS = { a: "accept", r: "register", d: "dispatch", c: "close", x: "reject" };

  let cases = [];
  let selectedId = null;
  let selected = null;        // detail of the selected case
  let allowed = [];           // normalised allowed actions of the selected case
  let categories = {};        // code -> category
  const markers = new Map();  // case id -> marker

  const map = baseMap("console-map");
  const cluster = L.markerClusterGroup({
    maxClusterRadius: 45,
    iconCreateFunction(c) {
      const lights = c.getAllChildMarkers().map((m) => m.options.light);
      const worst = lights.includes("red") ? "red" : lights.includes("yellow") ? "yellow" : "green";
      return L.divIcon({ html: `<div><span>${c.getChildCount()}</span></div>`, className: `marker-cluster cg-cluster-${worst}`, iconSize: [40, 40] });
    },
  }).addTo(map);
  const style = document.createElement("style");
  style.textContent = ".cg-cluster-red{background:rgba(217,48,37,.35)}.cg-cluster-red div{background:rgba(217,48,37,.85);color:#fff}" +
    ".cg-cluster-yellow{background:rgba(224,161,0,.35)}.cg-cluster-yellow div{background:rgba(224,161,0,.9);color:#fff}" +
    ".cg-cluster-green{background:rgba(31,157,85,.35)}.cg-cluster-green div{background:rgba(31,157,85,.85);color:#fff}";
  document.head.appendChild(style);

  const filtersForm = document.getElementById("filters");
  const listEl = document.getElementById("case-list");
  const panel = document.getElementById("case-panel");

  function caseId(c) { return c.id ?? c.pk; }
  function caseCode(c) { return c.code || c.number || c.case_no || `#${caseId(c)}`; }
  function caseLight(c) { return c.light || c.traffic_light || "grey"; }
  function stateLabel(c) { return c.state_label || c.state_display || config.states[c.state] || c.state || ""; }
  function categoryLabel(c) {
    const cat = c.category;
    if (cat && typeof cat === "object") return cat.name_zh || cat.name || cat.code;
    const known = categories[`${c.category_kind}:${c.category_code || cat}`];
    return c.category_name || (known && (known.name_zh || known.name)) || cat || "";
  }
  function departmentLabel(c) {
    const d = c.department;
    if (d && typeof d === "object") return d.name_zh || d.name || d.code;
    const known = config.departments.find((x) => x.code === d);
    return c.department_name || (known && known.name_zh) || d || "";
  }

  function query() {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(filtersForm)) {
      if (!v) continue;
      if (k === "date") { q.set("created_from", v); q.set("created_to", v); continue; }
      q.set(k, v);
    }
    // A department handler sees only their own queue (the API enforces it too).
    if (config.user.handlerOnly && config.user.department) q.set("department", config.user.department);
    if (!q.get("state")) q.set("open", "true");
    q.set("limit", "500");
    return q;
  }

  async function loadCategories() {
    try {
      const cats = flattenCategories(await api("categories/"));
      const select = document.getElementById("filter-category");
      let group = null;
      cats.forEach((c) => {
        const key = `${c.kind}:${c.code}`;
        categories[key] = c;
        if (!group || group.dataset.key !== `${c.kind}:${c.big_code}`) {
          group = document.createElement("optgroup");
          group.dataset.key = `${c.kind}:${c.big_code}`;
          group.label = `${c.kind === "component" ? "部件" : "事件"} ${c.big_code} ${c.big_name_zh || ""}`;
          select.appendChild(group);
        }
        const o = document.createElement("option");
        o.value = key;
        o.textContent = `${c.code} ${c.name_zh || c.name || ""}`;
        group.appendChild(o);
      });
    } catch (err) { console.warn("categories", err.status); }
  }

  async function refresh() {
    try {
      const q = query();
      const rows = (await list(`cases/?${q}`, 2000)).map(propsOf);
      cases = q.get("state") ? rows : rows.filter((c) => !CLOSED.has(c.state));
      render();
      document.getElementById("refreshed").textContent = fmtTime(new Date().toISOString()).slice(-5);
    } catch (err) {
      listEl.innerHTML = `<li class="cg-empty">${esc(t("serviceMissing"))} (${esc(err.status || err.message)})</li>`;
    }
  }

  function render() {
    document.getElementById("list-count").textContent = cases.length;
    document.getElementById("count-open").textContent = cases.length;
    document.getElementById("count-overdue").textContent = cases.filter((c) => caseLight(c) === "red").length;
    document.getElementById("count-due-soon").textContent = cases.filter((c) => caseLight(c) === "yellow").length;
    listEl.innerHTML = cases.length ? "" : `<li class="cg-empty">${esc(t("noData"))}</li>`;
    const seen = new Set();
    for (const c of cases) {
      const id = caseId(c);
      seen.add(String(id));
      const li = document.createElement("li");
      li.dataset.id = id;
      li.className = String(id) === String(selectedId) ? "selected" : "";
      li.innerHTML = `<span class="cg-light cg-light-${esc(caseLight(c))}" title="${esc(t("lights")[caseLight(c)] || "")}"></span>
        <span class="title">${esc(caseCode(c))} ${esc(categoryLabel(c))}</span><span class="cg-badge">${esc(stateLabel(c))}</span>
        <span class="meta">${esc(c.address || c.geocode || "")} · ${esc(fmtTime(c.created_at))}${c.supervised ? " · 督办" : ""}</span>`;
      li.addEventListener("click", () => select(id, true));
      listEl.appendChild(li);
      const ll = latLngOf(c);
      if (!ll) continue;
      const m = markers.get(String(id));
      if (m) {
        m.setLatLng(ll);
        if (m.options.light !== caseLight(c)) { m.options.light = caseLight(c); m.setIcon(icon(c, String(id) === String(selectedId))); }
      } else {
        const marker = L.marker(ll, { icon: icon(c, false), light: caseLight(c), title: caseCode(c) });
        marker.on("click", () => select(id, false));
        markers.set(String(id), marker);
        cluster.addLayer(marker);
      }
    }
    for (const [id, m] of markers) if (!seen.has(id)) { cluster.removeLayer(m); markers.delete(id); }
  }

  function icon(c, isSelected) {
    return L.divIcon({ className: "", html: `<div class="cg-marker ${esc(caseLight(c))}${isSelected ? " selected" : ""}"></div>`, iconSize: isSelected ? [22, 22] : [16, 16] });
  }

  async function select(id, fromList) {
    const prev = markers.get(String(selectedId));
    const prevCase = cases.find((c) => String(caseId(c)) === String(selectedId));
    if (prev && prevCase) prev.setIcon(icon(prevCase, false));
    selectedId = id;
    listEl.querySelectorAll("li").forEach((li) => li.classList.toggle("selected", li.dataset.id === String(id)));
    const li = listEl.querySelector(`li[data-id="${CSS.escape(String(id))}"]`);
    if (li && !fromList) li.scrollIntoView({ block: "nearest" });
    const m = markers.get(String(id));
    const c = cases.find((x) => String(caseId(x)) === String(id));
    if (m && c) {
      m.setIcon(icon(c, true));
      if (fromList) cluster.zoomToShowLayer(m, () => map.panTo(m.getLatLng()));
    }
    await loadDetail(id);
  }

  function normaliseActions(body) {
    const raw = Array.isArray(body) ? body : body.actions || body.results || [];
    return raw.map((a) => (typeof a === "string" ? { action: a } : Object.assign({}, a, { action: a.action || a.name || a.code })));
  }

  async function loadDetail(id) {
    panel.innerHTML = `<p class="cg-empty">${esc(t("loading"))}</p>`;
    try {
      const [detail, actions] = await Promise.all([api(`cases/${id}/`), api(`cases/${id}/allowed_actions/`).catch(() => [])]);
      if (String(id) !== String(selectedId)) return;
      selected = propsOf(detail);
      allowed = normaliseActions(actions);
      renderPanel();
    } catch (err) {
      panel.innerHTML = `<div class="cg-alert cg-alert-error">${esc(t("error"))}: ${esc(err.status || err.message)}</div>`;
    }
  }

  function renderPanel() {
    const c = selected;
    document.getElementById("panel-title").textContent = `${t("cases")} ${caseCode(c)}`;
    const photos = (c.attachments || c.photos || []).map((p) => (typeof p === "string" ? { full: p, thumb: p } : { full: p.image || p.url, thumb: p.thumbnail || p.image || p.url })).filter((p) => p.full);
    const history = (c.history || c.transitions || []).slice().reverse();   // newest first
    const ll = latLngOf(c);
    panel.innerHTML = `
      <dl>
        <dt>${esc(t("state"))}</dt><dd><span class="cg-light cg-light-${esc(caseLight(c))}"></span> ${esc(stateLabel(c))}</dd>
        <dt>${esc(t("category"))}</dt><dd>${esc(categoryLabel(c))}</dd>
        <dt>${esc(t("department"))}</dt><dd>${esc(departmentLabel(c) || "—")}</dd>
        <dt>${esc(t("stageDeadline"))}</dt><dd>${esc(fmtTime(c.stage_deadline) || "—")}</dd>
        <dt>${esc(t("deadline"))}</dt><dd>${esc(fmtTime(c.disposal_deadline) || "—")}</dd>
        <dt>${esc(t("location"))}</dt><dd>${esc(c.address || c.geocode || "")}<br><span class="cg-muted">${esc(c.cell_code || label(c.cell) || "")}
          ${ll ? `${ll[1].toFixed(6)}, ${ll[0].toFixed(6)}` : ""}</span></dd>
        <dt>${esc(t("note"))}</dt><dd>${esc(c.description || "")}</dd>
      </dl>
      ${photos.length ? `<div class="cg-photos">${photos.map((p) => `<a href="${esc(p.full)}" target="_blank"><img src="${esc(p.thumb)}" alt="${esc(t("photos"))}"></a>`).join("")}</div>` : ""}
      <div class="cg-actions" id="actions">${allowed.map((a) => `<button type="button" class="cg-btn ${a.action === "reject" || a.action === "void" ? "cg-btn-danger" : "cg-btn-primary"}" data-action="${esc(a.action)}">${esc(a.label || t("actions")[a.action] || a.action)}</button>`).join("")}</div>
      <div id="action-form"></div>
      <h4>${esc(t("history"))}</h4>
      <ul class="cg-timeline">${history.map((h) => `<li><div><b>${esc(h.action_display || t("actions")[h.action] || h.action || h.to_state || "")}</b>
        ${esc(label(h.actor) || "")} ${h.department ? esc(departmentLabel({ department: h.department })) : ""}</div><div class="when">${esc(fmtTime(h.at))}${h.on_time === false ? ' · <span style="color:#d93025">超时</span>' : ""}</div>
        ${h.note || h.reason ? `<div>${esc(h.note || h.reason)}</div>` : ""}</li>`).join("") || `<li>${esc(t("noData"))}</li>`}</ul>`;
    panel.querySelectorAll("#actions button").forEach((b) => b.addEventListener("click", () => openAction(b.dataset.action)));
  }

  function fieldsFor(a) {
    if (Array.isArray(a.fields) && a.fields.length) {
      return a.fields.map((f) => (typeof f === "string" ? { name: f, required: true } : f));
    }
    const names = a.required_fields || a.required || [];
    const fields = names.map((n) => ({ name: n, required: true }));
    const has = (n) => fields.some((f) => f.name === n);
    if (a.action === "dispatch" && !has("department")) fields.unshift({ name: "department", kind: "department", required: true });
    if (REASON_ACTIONS.has(a.action) && !has("reason")) fields.push({ name: "reason", required: true });
    if (!has("note") && !has("reason")) fields.push({ name: "note", required: false });
    return fields;
  }

  function defaultDepartment(a) {
    const known = categories[`${selected.category_kind}:${selected.category_code}`];
    const fromCat = known && known.default_department;
    const d = a.default_department || (a.defaults && a.defaults.department) || selected.default_department || fromCat;
    return d && typeof d === "object" ? d.code : d;
  }

  function inputFor(f, a, preview) {
    const name = esc(f.name);
    const req = f.required ? "required" : "";
    const title = esc(f.label || t("fields")[f.name] || f.name) + (f.required ? " *" : "");
    const kind = f.kind || f.type || "";
    let control;
    if (kind === "department" || f.name === "department") {
      const def = (preview && preview.default_department) || defaultDepartment(a);
      const opts = config.departments.map((d) => `<option value="${esc(d.code)}"${d.code === def ? " selected" : ""}>${esc(config.language === "en" && d.name_en ? d.name_en : d.name_zh)}</option>`);
      control = `<select name="${name}" ${req}><option value=""></option>${opts.join("")}</select>`;
    } else if (kind === "urgency" || f.name === "urgency") {
      const levels = (preview && preview.urgency_levels) || [];
      control = `<select name="${name}" ${req}>${levels.map((l) => `<option value="${esc(l.code)}" data-deadline="${esc(l.deadline)}"${l.code === preview.urgency ? " selected" : ""}>${esc(config.language === "en" && l.name_en ? l.name_en : l.name_zh)} (${esc(l.limit)} ${esc(t("units")[l.unit] || l.unit)})</option>`).join("") || '<option value=""></option>'}</select>`;
    } else if (f.choices && f.choices.length) {
      control = `<select name="${name}" ${req}>${f.required ? "" : '<option value=""></option>'}${f.choices.map((ch) => {
        const v = Array.isArray(ch) ? ch[0] : ch.value ?? ch;
        const l = Array.isArray(ch) ? ch[1] : ch.label ?? ch;
        return `<option value="${esc(v)}">${esc(l)}</option>`;
      }).join("")}</select>`;
    } else if (kind === "int") {
      control = `<input type="number" min="1" name="${name}" ${req}>`;
    } else if (kind === "user" || kind === "case") {
      control = `<input type="text" name="${name}" ${req}>`;
    } else {
      control = `<textarea name="${name}" rows="2" ${req}></textarea>`;
    }
    return `<label>${title}</label>${control}`;
  }

  async function openAction(action) {
    const a = allowed.find((x) => x.action === action);
    if (!a) return;
    const box = document.getElementById("action-form");
    let preview = null;
    if (action === "dispatch") {
      preview = await fetch(`/console/dispatch-preview/${caseId(selected)}/`, { credentials: "same-origin" }).then((r) => (r.ok ? r.json() : null)).catch(() => null);
    }
    box.innerHTML = `<form class="cg-action-form" data-action="${esc(action)}">
      <b>${esc(a.label || t("actions")[action] || action)}</b>
      ${fieldsFor(a).map((f) => inputFor(f, a, preview)).join("")}
      ${action === "dispatch" ? `<div class="cg-alert cg-alert-info" id="dispatch-deadline"></div>` : ""}
      <div class="cg-actions"><button type="submit" class="cg-btn cg-btn-primary">${esc(t("confirm"))}</button>
      <button type="button" class="cg-btn" data-cancel>${esc(t("cancel"))}</button></div></form>`;
    const form = box.querySelector("form");
    const showDeadline = () => {
      const el = form.querySelector("#dispatch-deadline");
      const u = form.elements.urgency;
      const opt = u && u.selectedOptions && u.selectedOptions[0];
      if (el) el.textContent = `${t("deadline")}: ${opt && opt.dataset.deadline ? fmtTime(opt.dataset.deadline) : "—"}`;
    };
    if (form.elements.urgency) form.elements.urgency.addEventListener("change", showDeadline);
    showDeadline();
    form.querySelector("[data-cancel]").addEventListener("click", () => { box.innerHTML = ""; });
    form.addEventListener("submit", (e) => { e.preventDefault(); submitAction(form, a); });
    const first = form.querySelector("select, textarea, input");
    if (first) first.focus();
  }

  async function submitAction(form, a) {
    const payload = { action: a.action };
    for (const [k, v] of new FormData(form)) {
      if (v === "") continue;
      payload[k] = v === "true" ? true : v === "false" ? false : v;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await api(`cases/${caseId(selected)}/transitions/`, { method: "POST", json: payload });
      toast(`${t("done")}: ${a.label || t("actions")[a.action] || a.action}`);
      await Promise.all([refresh(), loadDetail(caseId(selected))]);
    } catch (err) {
      button.disabled = false;
      const msg = typeof err.body === "object" ? Object.entries(err.body).map(([k, v]) => `${k}: ${[].concat(v).join(" ")}`).join("; ") : err.message;
      let box = form.querySelector(".cg-alert-error");
      if (!box) { box = document.createElement("div"); box.className = "cg-alert cg-alert-error"; form.prepend(box); }
      box.textContent = msg;
    }
  }

  function move(step) {
    if (!cases.length) return;
    const i = cases.findIndex((c) => String(caseId(c)) === String(selectedId));
    const next = cases[Math.max(0, Math.min(cases.length - 1, i < 0 ? 0 : i + step))];
    select(caseId(next), true);
  }

  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey) {
      if (e.key === "Escape") document.getElementById("action-form").innerHTML = "";
      return;
    }
    if (e.key === "j") move(1);
    else if (e.key === "k") move(-1);
    else if (e.key === "Escape") document.getElementById("action-form").innerHTML = "";
    else if (SHORTCUTS[e.key] && allowed.some((a) => a.action === SHORTCUTS[e.key])) { e.preventDefault(); openAction(SHORTCUTS[e.key]); }
  });

  // Area filters cascade: a district narrows streets, a street narrows communities.
  function cascade(parentName, childName) {
    const parent = filtersForm.elements[parentName];
    const child = filtersForm.elements[childName];
    parent.addEventListener("change", () => {
      for (const o of child.options) o.hidden = Boolean(o.value && parent.value && !o.dataset.parent.startsWith(parent.value) && o.dataset.parent !== parent.value);
      if (child.selectedOptions[0] && child.selectedOptions[0].hidden) child.value = "";
    });
  }
  cascade("district", "street");
  cascade("street", "community");
  filtersForm.addEventListener("change", refresh);

  const wanted = new URLSearchParams(location.search).get("case");   // deep link, e.g. from the dashboard's drill-down
  loadCategories().then(refresh).then(() => { if (wanted) select(wanted, true); });
  setInterval(() => { if (!document.hidden) refresh(); }, POLL_MS);
  window.CityGIS.console = { refresh, select, get cases() { return cases; } };

  // New geohazard alerts (only for users who may open /emergency/): a dismissible banner linking there.
  if (config.hazardAlerts) {
    const H = config.hazardAlerts;
    const KEY = "cg-hazard-alerts-dismissed";
    const dismissed = () => { try { return new Set(JSON.parse(localStorage.getItem(KEY) || "[]")); } catch (e) { return new Set(); } };
    let shown = [];
    const banner = document.createElement("div");
    banner.id = "hazard-alert-banner";
    banner.setAttribute("role", "alert");
    banner.hidden = true;
    banner.style.cssText = "position:fixed;top:64px;left:50%;transform:translateX(-50%);z-index:2000;background:#d7191c;color:#fff;padding:8px 14px;border-radius:6px;box-shadow:0 2px 8px rgba(0,0,0,.3)";
    document.body.appendChild(banner);
    banner.addEventListener("click", (e) => {
      if (!e.target.closest("[data-dismiss]")) return;
      const keep = [...dismissed(), ...shown].slice(-200);  // bounded
      localStorage.setItem(KEY, JSON.stringify(keep));
      banner.hidden = true;
    });
    const pollAlerts = async () => {
      try {
        const body = await api("hazards/alerts/?open=true&limit=50");
        const gone = dismissed();
        const fresh = (body.results || []).filter((a) => !a.acknowledged_at && !gone.has(a.id));
        shown = fresh.map((a) => a.id);
        if (!fresh.length) { banner.hidden = true; return; }
        const a = fresh[0];  // the newest (the API lists newest first)
        const more = fresh.length > 1 ? " · " + H.more.replace("%(n)s", String(fresh.length - 1)) : "";
        banner.innerHTML = `${esc(H.newAlert)}：<b class="hazard-alert-point">${esc(a.hazard_point_name || a.hazard_point)}</b> ` +
          `<span class="hazard-alert-level">${esc(H.levels[a.level] || a.level)}</span>${esc(more)} ` +
          `<a href="${esc(H.url)}" style="color:#fff;text-decoration:underline">${esc(H.open)}</a> ` +
          `<button type="button" class="cg-btn cg-btn-ghost" data-dismiss style="color:#fff">${esc(H.dismiss)}</button>`;
        banner.style.background = a.level === "red" ? "#d7191c" : a.level === "orange" ? "#f58025" : a.level === "yellow" ? "#b59a00" : "#2b83ba";
        banner.hidden = false;
      } catch (e) { /* the banner is a notice; the console keeps working without it */ }
    };
    pollAlerts();
    setInterval(() => { if (!document.hidden) pollAlerts(); }, 10000);
  }
})();
