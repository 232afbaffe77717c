// Shared by the remote and the overlay: the game's id, the API token and one fetch helper.
// The token travels only as `Authorization: Bearer` (never a cookie), so no other page
// can make the browser send it; it arrives in the URL fragment (#token=…, never sent to
// any server) or is typed once, and is kept in this origin's localStorage.
"use strict";

const TOKEN_KEY = "dglab-hub-api-token";

export function clientId() {
  const id = new URLSearchParams(location.search).get("clientId");
  return id && /^[0-9a-zA-Z-]{1,64}$/.test(id) ? id : "all";
}

export function token() {
  const frag = new URLSearchParams(location.hash.replace(/^#/, ""));
  const t = frag.get("token");
  if (t) {
    localStorage.setItem(TOKEN_KEY, t);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return localStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(t) {
  if (t) localStorage.setItem(TOKEN_KEY, t);
  else localStorage.removeItem(TOKEN_KEY);
}

// A read-only overlay on another machine may carry ?token= in its URL (OBS cannot set headers).
function queryToken() {
  return new URLSearchParams(location.search).get("token") || "";
}

/** Calls the API; resolves to {http, body} (body null when it was not JSON). */
export async function api(method, path, body) {
  const headers = {};
  const t = token() || queryToken();
  if (t) headers.Authorization = "Bearer " + t;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
  });
  let parsed = null;
  try {
    parsed = await res.json();
  } catch (_) {
    parsed = null;
  }
  return { http: res.status, body: parsed };
}

export function gamePath(rest) {
  return "/api/x/game/" + encodeURIComponent(clientId()) + rest;
}
