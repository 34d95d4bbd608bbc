/* Offline report queue in IndexedDB: reports wait here (photos as Blobs) until the server has them.
   Each report carries its client_uuid, so a resend after a lost response is recognised by the server
   and the report arrives exactly once. */
(function () {
  "use strict";
  const DB_NAME = "citygis-reporter";
  const STORE = "queue";

  function open() {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "client_uuid" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  async function tx(mode, fn) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const store = t.objectStore(STORE);
      const result = fn(store);
      t.oncomplete = () => { db.close(); resolve(result && "result" in result ? result.result : undefined); };
      t.onerror = () => { db.close(); reject(t.error); };
    });
  }

  const put = (item) => tx("readwrite", (s) => s.put(item));
  const remove = (uuid) => tx("readwrite", (s) => s.delete(uuid));
  const all = () => tx("readonly", (s) => s.getAll());

  let flushing = null;

  /** Send every queued report with `send(item)`; resolves to the number sent. One flush at a time. */
  function flush(send) {
    if (flushing) return flushing;
    flushing = (async () => {
      let sent = 0;
      for (const item of await all()) {
        try {
          const outcome = await send(item);
          if (outcome === "sent") { await remove(item.client_uuid); sent += 1; }
          else if (outcome && outcome.error) { item.error = outcome.error; item.attempts = (item.attempts || 0) + 1; await put(item); }
        } catch (err) {
          break;  // network down: keep the rest for the next attempt
        }
      }
      return sent;
    })().finally(() => { flushing = null; });
    return flushing;
  }

  window.CityGIS.queue = { put, remove, all, flush };
})();
