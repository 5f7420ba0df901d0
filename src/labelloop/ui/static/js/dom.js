// Small DOM helpers. All text goes through textContent / createTextNode: never innerHTML.

/**
 * Create an element.
 * @param {string} tag  tag name, optionally with classes: "div.row.wide"
 * @param {object|null} attrs  attributes; keys starting with "on" add event listeners,
 *   "dataset" assigns data-*, "style" an object, booleans set/omit the attribute.
 * @param {...(Node|string|number|null|undefined|Array)} children text or nodes
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style") Object.assign(el.style, v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

/** Append children (strings become text nodes). */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replace all children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** SVG element. */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

let toastTimer = 0;
/** Show a short message at the bottom of the page. */
export function toast(message, kind = "info") {
  const el = document.getElementById("toast");
  if (!el) return;
  el.textContent = message;
  el.className = "show " + kind;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.className = ""; }, kind === "error" ? 6000 : 2500);
}

/** A stable colour per label name. */
export function colorFor(label) {
  let hsh = 0;
  for (const ch of String(label)) hsh = (hsh * 31 + ch.codePointAt(0)) >>> 0;
  return `hsl(${hsh % 360}, 75%, 45%)`;
}

/**
 * A random UUID v4. crypto.randomUUID exists only in secure contexts (https, localhost);
 * a server reached over plain http on a LAN still gets proper random keys.
 */
export function uuid() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** A fresh region id. */
export function newId(prefix = "r") {
  return prefix + "_" + uuid().slice(0, 8);
}

/**
 * Wrap fn so that many calls within one frame run it once, on the next animation frame
 * (a drag among a thousand regions must not rebuild a thousand list rows per pointer move).
 */
export function perFrame(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fn(); });
  };
}
