{% load static %}/* Service worker of the mobile reporter: keeps the page shell available offline.
   The page network-first (fresh when online), static assets cache-first; the API is never cached. */
const CACHE = "citygis-m-v1";
const SHELL = ["{% static 'frontend/css/citygis.css' %}", "{% static 'frontend/js/api.js' %}",
  "{% static 'frontend/js/offline_queue.js' %}", "{% static 'frontend/js/mobile.js' %}", "{% static 'leaflet/leaflet.js' %}",
  "{% static 'leaflet/leaflet.css' %}", "{% static 'frontend/img/logo.svg' %}"];
self.addEventListener("install", (e) => e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting())));
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));
self.addEventListener("fetch", (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== "GET" || url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
  if (url.pathname === "/m/") {
    e.respondWith(fetch(e.request).then((r) => { const copy = r.clone(); caches.open(CACHE).then((c) => c.put(e.request, copy)); return r; })
      .catch(() => caches.match(e.request)));
  } else if (url.pathname.startsWith("/static/")) {
    e.respondWith(caches.match(e.request).then((hit) => hit || fetch(e.request)));
  }
});
