// The REST client: JSON in and out, the session cookie plus the CSRF header on unsafe methods.

let csrfToken = null;
let currentUser = null;
let sessionLost = null; // (user) => Promise<boolean>: log the same user in again (see onSessionLost)
let relogin = null; // the re-login under way, shared by every request that found the session gone

export class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    const msg = body && body.error ? `${body.error.code}: ${body.error.message}` : `HTTP ${status}`;
    super(msg);
    this.status = status;
    this.body = body;
    /** seconds the server asks to wait (429's Retry-After), or null */
    this.retryAfter = retryAfter === null || retryAfter === "" ? null : Number(retryAfter);
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
  try {
    return await send(method, path, body, headers, keepalive);
  } catch (e) {
    // the session ended (expired, revoked) while someone was working: log them in again in place
    // and send the request once more, so the work on the page is saved rather than lost
    if (!(e instanceof ApiError && e.status === 401) || !currentUser || !sessionLost || keepalive
        || path.startsWith("/api/auth/")) throw e;
    relogin = relogin || sessionLost(currentUser).finally(() => { relogin = null; });
    if (!(await relogin)) throw e;
    return send(method, path, body, headers, keepalive);
  }
}

/**
 * What to do when a request finds the session gone while a user is logged in: ``fn(user)`` logs
 * the same user in again and resolves true (the request is then sent once more), or false.
 * @param {(user: object) => Promise<boolean>} fn
 */
export function onSessionLost(fn) {
  sessionLost = fn;
}

async function send(method, path, body, headers, keepalive) {
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
  if (!res.ok) throw new ApiError(res.status, data, res.headers.get("Retry-After"));
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

/**
 * Upload a file as the raw request body (an import); resolves with the parsed JSON answer.
 * @param {string} path  starting with /api/ (with its query string)
 * @param {Blob} file
 * @param {(sent: number, total: number) => void} [onProgress]  upload progress in bytes
 * @returns {Promise<any>}
 */
export function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    if (csrfToken) xhr.setRequestHeader("X-CSRF-Token", csrfToken);
    xhr.withCredentials = true;
    if (onProgress) xhr.upload.addEventListener("progress", (ev) => onProgress(ev.loaded, ev.total || file.size));
    xhr.addEventListener("load", () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, data));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, null)));
    xhr.send(file);
  });
}
