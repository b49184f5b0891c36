// xcapp service worker (scope /inspections/): the app shell and the officer's
// checklists for use without network. Writes never pass through here: the page's
// own queue (IndexedDB) holds every change and sends it when the server answers.
// Static files have content-hashed URLs: cache first. Pages: network first, the
// cached copy when the network fails. Written by hand: Workbox would only add a loader.
"use strict";
const PAGES = "xcapp-pages-v1";
const SHELL = "xcapp-shell-v1";
const PAGE_PATH = /^\/inspections\/(mine|tasks\/\d+)$/;

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((keys) => Promise.all(
    keys.filter((k) => k !== PAGES && k !== SHELL).map((k) => caches.delete(k))
  )).then(() => self.clients.claim()));
});

function offlinePage() {
  return new Response('<!doctype html><html lang="zh-CN"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
    "<title>离线</title><p>当前没有网络，此页面尚未保存在手机上。请联网后打开“我的任务”，其中的检查表会自动保存到手机，之后离线也能打开。</p>",
    {status: 503, headers: {"Content-Type": "text/html; charset=utf-8"}});
}

async function storePage(url, response) {
  // Never keep a login page or an error under a checklist's address.
  if (!response || !response.ok || response.redirected || response.type !== "basic") { return; }
  const cache = await caches.open(PAGES);
  await cache.put(url, response);
}

async function fromNetworkOrCache(request) {
  const url = new URL(request.url);
  const key = url.origin + url.pathname + url.search;
  try {
    const response = await fetch(request);
    if (url.search === "") { await storePage(key, response.clone()); }
    return response;
  } catch (err) {
    const cached = await caches.match(key, {cacheName: PAGES});
    return cached || offlinePage();
  }
}

async function staticFirst(request) {
  const cache = await caches.open(SHELL);
  const cached = await cache.match(request);
  if (cached) { return cached; }
  const response = await fetch(request);
  if (response.ok) { await cache.put(request, response.clone()); }
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") { return; }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(staticFirst(request));
  } else if (request.mode === "navigate" && PAGE_PATH.test(url.pathname)) {
    event.respondWith(fromNetworkOrCache(request));
  }
});

// From 我的任务 (online): keep these pages and the files they use.
self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type !== "cache") { return; }
  event.waitUntil((async () => {
    const shell = await caches.open(SHELL);
    for (const asset of data.assets || []) {
      if (!(await shell.match(asset))) {
        try { await shell.add(asset); } catch (err) { /* next time */ }
      }
    }
    for (const page of data.pages || []) {
      const url = new URL(page, self.location.origin);
      if (!PAGE_PATH.test(url.pathname)) { continue; }
      try {
        const response = await fetch(url.href, {credentials: "same-origin", redirect: "follow"});
        const html = response.ok && !response.redirected ? await response.clone().text() : "";
        await storePage(url.origin + url.pathname, response);
        for (const match of html.matchAll(/(?:src|href|content)="(\/static\/[^"]+)"/g)) {
          const asset = match[1].replace(/&amp;/g, "&");
          if (!(await shell.match(asset))) {
            try { await shell.add(asset); } catch (err) { /* next time */ }
          }
        }
      } catch (err) { /* offline: keep the copy we have */ }
    }
  })());
});
