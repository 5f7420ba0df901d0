// The REST client: JSON in and out, the session cookie plus the CSRF header on unsafe methods.

let csrfToken = null;
let currentUser = null;

export class ApiError extends Error {
  constructor(status, body) {
    const msg = body && body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${status}`;
    super(msg);
    this.status = status;
    this.body = body;
  }
}

export function setSession(user, csrf) {
  currentUser = user;
  csrfToken = csrf;
}

export function user() {
  return currentUser;
}

/**
 * Call the API.
 * @param {string} method
 * @param {string} path  starting with /api/
 * @param {any} [body]  JSON body
 * @param {object} [headers]
 * @param {{keepalive?: boolean}} [opts]  keepalive: the request outlives the page (autosave on hide)
 * @returns {Promise<any>} the parsed JSON (null for 204)
 */
export async function api(method, path, body, headers = {}, { keepalive = false } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin", keepalive };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (method !== "GET" && method !== "HEAD" && csrfToken) init.headers["X-CSRF-Token"] = csrfToken;
  const res = await fetch(path, init);
  if (res.status === 204) return null;
  let data = null;
  const type = res.headers.get("Content-Type") || "";
  if (type.includes("json")) data = await res.json();
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** Fetch binary media bytes. */
export async function mediaBytes(path) {
  const res = await fetch(path, { credentials: "same-origin" });
  if (!res.ok) throw new ApiError(res.status, null);
  return res.arrayBuffer();
}

/** Who is logged in (null when nobody). */
export async function loadSession() {
  try {
    const me = await api("GET", "/api/me");
    setSession(me.user, me.csrf_token);
    return me.user;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

export async function login(username, password) {
  const r = await api("POST", "/api/auth/login", { username, password });
  setSession(r.user, r.csrf_token);
  return r.user;
}

export async function logout() {
  try { await api("POST", "/api/auth/logout"); } finally { setSession(null, null); }
}
