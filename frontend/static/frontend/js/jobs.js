/* The /map/ jobs panel: the user's recent background jobs (/api/v1/jobs/) with a <progress> bar, state, message
   and a cancel button. Polls every 2 s while a job is queued or running, every 20 s otherwise, not at all while
   the tab is hidden (a bounded cost per open page). Labels come from the panel's data-* attributes. */
(function () {
  "use strict";
  const panel = document.getElementById("jobs-panel");
  if (!panel || !window.CityGIS) return;
  const { api, esc, fmtTime, toast } = window.CityGIS;
  const list = document.getElementById("jobs-list");
  const badge = document.getElementById("jobs-active");
  const RECENT = 10, FAST = 2000, SLOW = 20000;
  const ACTIVE = new Set(["queued", "running"]);
  let timer = null;

  const kinds = JSON.parse((document.getElementById("jobs-kinds") || {}).textContent || "{}");

  function stateLabel(state) { return panel.dataset[state] || state; }

  function row(job) {
    const active = ACTIVE.has(job.state);
    const what = esc(kinds[job.kind] || job.kind) + (job.layer ? " · " + esc(job.layer) : "");
    const counts = job.done != null ? esc(job.done) + (job.total != null ? " / " + esc(job.total) : "") : "";
    const note = job.cancel_requested && active ? panel.dataset.requested : (job.message || job.error || "");
    // a finished job shows a full (succeeded) or frozen bar; a queued one an empty bar
    const value = job.state === "succeeded" ? 100 : job.progress;
    return `<li class="cg-job" data-job="${esc(job.id)}" data-state="${esc(job.state)}">
      <div style="display:flex;justify-content:space-between;gap:6px"><b>#${esc(job.id)} ${what}</b>
        <span class="cg-job-state">${esc(stateLabel(job.state))}</span></div>
      <progress max="100" value="${esc(value)}" style="width:100%" aria-label="${esc(job.kind)} ${esc(value)}%"></progress>
      <div class="cg-muted" style="display:flex;justify-content:space-between;gap:6px">
        <span class="cg-job-figures">${esc(value)}%${counts ? " · " + counts : ""}</span><span>${fmtTime(job.created_at)}</span></div>
      ${note ? `<div class="cg-muted cg-job-message">${esc(note)}</div>` : ""}
      ${active && !job.cancel_requested ? `<div class="cg-actions"><button type="button" class="cg-btn cg-job-cancel" data-job="${esc(job.id)}">${esc(panel.dataset.cancel)}</button></div>` : ""}
    </li>`;
  }

  async function refresh() {
    clearTimeout(timer);
    let jobs = [];
    try {
      const body = await api(`jobs/?limit=${RECENT}`);
      jobs = body.results || [];
    } catch (err) {
      timer = setTimeout(refresh, SLOW);  // e.g. the session ended: retry slowly
      return;
    }
    const active = jobs.filter((j) => ACTIVE.has(j.state)).length;
    badge.textContent = String(active);
    list.innerHTML = jobs.length ? jobs.map(row).join("") : `<li class="cg-empty">${esc(panel.dataset.empty)}</li>`;
    if (!document.hidden) timer = setTimeout(refresh, active ? FAST : SLOW);
  }

  list.addEventListener("click", async (event) => {
    const button = event.target.closest(".cg-job-cancel");
    if (!button || !window.confirm(panel.dataset.confirm)) return;
    button.disabled = true;
    try {
      await api(`jobs/${encodeURIComponent(button.dataset.job)}/cancel/`, { method: "POST" });
    } catch (err) {
      toast(err.body && err.body.detail ? err.body.detail : err.message);
    }
    refresh();
  });

  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  /** Other scripts (an import that answered 202) can ask for an immediate refresh. */
  window.CityGIS.refreshJobs = refresh;
  refresh();
})();
