// Boxes, polygons and keypoints on one canvas: wheel zoom, space+drag (or middle button) pan,
// handles to move and resize. Everything is redrawn on requestAnimationFrame in batches per
// colour, so a thousand boxes stay smooth.
import { colorFor, h, newId } from "../dom.js";

const HANDLE = 6; // screen pixels

function inPolygon(pts, x, y) {
  let inside = false;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const [xi, yi] = pts[i];
    const [xj, yj] = pts[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * @param {Doc} doc
 * @param {object} media  {sha256, meta:{width,height}}
 * @param {object[]} controls  boxes / polygons / keypoints controls on this image
 * @param {Tools} tools
 */
export function imageEditor(doc, media, fieldName, controls, tools) {
  const names = new Set(controls.map((c) => c.name));
  const canvas = h("canvas.imagecanvas", { tabindex: 0, dataset: { field: fieldName }, "aria-label": `image ${fieldName}` });
  const wrap = h("div.canvaswrap", null, canvas, h("p.hint", null, "drag: draw / move · wheel: zoom · space+drag: pan · double-click: close polygon · Esc: cancel"));
  const ctx = canvas.getContext("2d");
  const img = new Image();
  let W = media.meta?.width || 0;
  let Hh = media.meta?.height || 0;
  const view = { scale: 1, tx: 0, ty: 0 };
  let queued = false;
  let spaceDown = false;
  let drag = null; // {kind:'pan'|'create'|'move'|'handle', ...}
  let pending = null; // polygon / keypoints being placed: {control, points}
  let lastDrawMs = 0;

  const geometric = () => doc.regions.filter((r) => names.has(r.control));
  const activeControl = () => controls.find((c) => c.name === tools.active) || null;

  function size() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(320, wrap.clientWidth || 800);
    const hgt = Math.max(240, Math.min(640, Math.round(w * 0.62)));
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(hgt * dpr);
    canvas.style.width = w + "px";
    canvas.style.height = hgt + "px";
  }

  function fit() {
    const w = canvas.clientWidth || 800;
    const hh = canvas.clientHeight || 500;
    if (!W || !Hh) return;
    view.scale = Math.min(w / W, hh / Hh) * 0.95;
    view.tx = (w - W * view.scale) / 2;
    view.ty = (hh - Hh * view.scale) / 2;
  }

  function redraw() {
    if (queued) return;
    queued = true;
    requestAnimationFrame(draw);
  }

  function draw() {
    queued = false;
    const t0 = performance.now();
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#2b2f36";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.setTransform(dpr * view.scale, 0, 0, dpr * view.scale, dpr * view.tx, dpr * view.ty);
    if (img.complete && img.naturalWidth) {
      ctx.imageSmoothingEnabled = view.scale < 4;
      ctx.drawImage(img, 0, 0);
    }
    const lw = 1.5 / view.scale;
    // batch by (label, suggested) so each colour is one path and one stroke
    const batches = new Map();
    for (const r of geometric()) {
      const key = r.label + (doc.suggested.has(r.id) ? "\u0000s" : "");
      if (!batches.has(key)) batches.set(key, []);
      batches.get(key).push(r);
    }
    for (const [key, rs] of batches) {
      const label = key.split("\u0000")[0];
      ctx.strokeStyle = colorFor(label);
      ctx.fillStyle = colorFor(label).replace(")", ", 0.15)").replace("hsl", "hsla");
      ctx.lineWidth = lw;
      ctx.setLineDash(key.endsWith("\u0000s") ? [6 / view.scale, 4 / view.scale] : []);
      ctx.beginPath();
      for (const r of rs) {
        if (r.xyxy) ctx.rect(r.xyxy[0], r.xyxy[1], r.xyxy[2] - r.xyxy[0], r.xyxy[3] - r.xyxy[1]);
        else if (r.points && doc.control(r.control)?.kind === "polygons") {
          r.points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
          ctx.closePath();
        }
      }
      ctx.fill();
      ctx.stroke();
      for (const r of rs) {
        if (doc.control(r.control)?.kind !== "keypoints") continue;
        ctx.beginPath();
        for (const [x, y, v] of r.points) if (v > 0) { ctx.moveTo(x + 3 / view.scale, y); ctx.arc(x, y, 3 / view.scale, 0, Math.PI * 2); }
        ctx.fillStyle = colorFor(label);
        ctx.fill();
      }
    }
    ctx.setLineDash([]);
    const sel = doc.selected ? doc.get(doc.selected) : null;
    if (sel && names.has(sel.control)) {
      ctx.strokeStyle = "#fff";
      ctx.lineWidth = 2.5 / view.scale;
      ctx.beginPath();
      if (sel.xyxy) ctx.rect(sel.xyxy[0], sel.xyxy[1], sel.xyxy[2] - sel.xyxy[0], sel.xyxy[3] - sel.xyxy[1]);
      else if (doc.control(sel.control).kind === "polygons") { sel.points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y))); ctx.closePath(); }
      ctx.stroke();
      ctx.fillStyle = "#fff";
      const s = HANDLE / view.scale;
      for (const [x, y] of handles(sel)) ctx.fillRect(x - s / 2, y - s / 2, s, s);
    }
    if (drag && drag.kind === "create") {
      ctx.strokeStyle = "#ffd166";
      ctx.lineWidth = lw;
      ctx.strokeRect(drag.x0, drag.y0, drag.x1 - drag.x0, drag.y1 - drag.y0);
    }
    if (pending) {
      ctx.strokeStyle = "#ffd166";
      ctx.fillStyle = "#ffd166";
      ctx.lineWidth = lw;
      ctx.beginPath();
      pending.points.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.stroke();
      for (const [x, y] of pending.points) ctx.fillRect(x - 2 / view.scale, y - 2 / view.scale, 4 / view.scale, 4 / view.scale);
    }
    lastDrawMs = performance.now() - t0;
    canvas.dataset.drawMs = lastDrawMs.toFixed(2);
    canvas.dataset.frames = String((+canvas.dataset.frames || 0) + 1);
  }

  function handles(r) {
    if (r.xyxy) {
      const [a, b, c, d] = r.xyxy;
      return [[a, b], [c, b], [c, d], [a, d]];
    }
    return r.points.map((p) => [p[0], p[1]]);
  }

  function toImage(ev) {
    const rect = canvas.getBoundingClientRect();
    return [(ev.clientX - rect.left - view.tx) / view.scale, (ev.clientY - rect.top - view.ty) / view.scale];
  }

  const clampX = (x) => Math.max(0, Math.min(W || Infinity, x));
  const clampY = (y) => Math.max(0, Math.min(Hh || Infinity, y));

  function hit(x, y) {
    const rs = geometric();
    const tol = HANDLE / view.scale;
    for (let i = rs.length - 1; i >= 0; i--) {
      const r = rs[i];
      if (r.xyxy) { if (x >= r.xyxy[0] && x <= r.xyxy[2] && y >= r.xyxy[1] && y <= r.xyxy[3]) return r; }
      else if (doc.control(r.control).kind === "polygons") { if (inPolygon(r.points, x, y)) return r; }
      else if (r.points.some(([px, py, v]) => v > 0 && Math.abs(px - x) <= tol && Math.abs(py - y) <= tol)) return r;
    }
    return null;
  }

  function handleAt(r, x, y) {
    const tol = HANDLE / view.scale;
    return handles(r).findIndex(([hx, hy]) => Math.abs(hx - x) <= tol && Math.abs(hy - y) <= tol);
  }

  canvas.addEventListener("pointerdown", (ev) => {
    canvas.focus({ preventScroll: true });
    canvas.setPointerCapture(ev.pointerId);
    if (spaceDown || ev.button === 1) { drag = { kind: "pan", sx: ev.clientX, sy: ev.clientY, tx: view.tx, ty: view.ty }; return; }
    const [x, y] = toImage(ev);
    const sel = doc.selected ? doc.get(doc.selected) : null;
    if (sel && names.has(sel.control)) {
      const k = handleAt(sel, x, y);
      if (k >= 0) { doc.checkpoint(); drag = { kind: "handle", id: sel.id, k }; return; }
    }
    const ac = activeControl();
    if (pending) { placePoint(x, y); return; }
    const target = hit(x, y);
    if (target && !(ac && ac.kind === "polygons" && ev.altKey)) {
      doc.select(target.id);
      tools.setActive(target.control);
      doc.checkpoint();
      drag = { kind: "move", id: target.id, x, y, orig: structuredClone(target) };
      return;
    }
    doc.select(null);
    if (!ac) return;
    if (ac.kind === "boxes") drag = { kind: "create", control: ac, x0: clampX(x), y0: clampY(y), x1: clampX(x), y1: clampY(y) };
    else if (ac.kind === "polygons" || ac.kind === "keypoints") { pending = { control: ac, points: [] }; placePoint(x, y); }
  });

  function placePoint(x, y) {
    const c = pending.control;
    if (c.kind === "polygons") {
      const first = pending.points[0];
      if (first && pending.points.length >= Math.max(3, c.min_points || 3) && Math.hypot(first[0] - x, first[1] - y) * view.scale <= HANDLE * 1.5) { closePending(); return; }
      const last = pending.points.at(-1);
      // the clicks of a double-click (which closes the polygon) must not add vertices
      if (last && Math.hypot(last[0] - x, last[1] - y) * view.scale <= HANDLE) return;
      pending.points.push([clampX(x), clampY(y)]);
    } else {
      pending.points.push([clampX(x), clampY(y), 2]);
      if (pending.points.length >= c.keypoints.length) closePending();
    }
    redraw();
  }

  function closePending() {
    if (!pending) return;
    const c = pending.control;
    const label = tools.labelOf(c.name) ?? c.labels[0];
    if (c.kind === "polygons" && pending.points.length >= Math.max(3, c.min_points || 3)) doc.add({ id: newId("p"), control: c.name, label, points: pending.points });
    if (c.kind === "keypoints" && pending.points.length === c.keypoints.length) doc.add({ id: newId("k"), control: c.name, label, points: pending.points });
    pending = null;
    redraw();
  }

  canvas.addEventListener("dblclick", () => closePending());

  canvas.addEventListener("pointermove", (ev) => {
    if (!drag) {
      const [x, y] = toImage(ev);
      canvas.style.cursor = spaceDown ? "grab" : hit(x, y) ? "move" : "crosshair";
      return;
    }
    if (drag.kind === "pan") {
      view.tx = drag.tx + ev.clientX - drag.sx;
      view.ty = drag.ty + ev.clientY - drag.sy;
      redraw();
      return;
    }
    const [x, y] = toImage(ev);
    if (drag.kind === "create") { drag.x1 = clampX(x); drag.y1 = clampY(y); redraw(); return; }
    const r = doc.get(drag.id);
    if (!r) return;
    if (drag.kind === "move") {
      let dx = x - drag.x;
      let dy = y - drag.y;
      if (drag.orig.xyxy) {
        const [a, b, c, d] = drag.orig.xyxy;
        if (W) dx = Math.max(-a, Math.min(W - c, dx));
        if (Hh) dy = Math.max(-b, Math.min(Hh - d, dy));
        doc.update(r.id, { xyxy: [a + dx, b + dy, c + dx, d + dy] }, { record: false });
      } else {
        doc.update(r.id, { points: drag.orig.points.map((p) => [clampX(p[0] + dx), clampY(p[1] + dy), ...p.slice(2)]) }, { record: false });
      }
    } else if (drag.kind === "handle") {
      if (r.xyxy) {
        const [a, b, c, d] = r.xyxy;
        const corners = [[a, b], [c, b], [c, d], [a, d]];
        const opp = corners[(drag.k + 2) % 4];
        const nx = clampX(x);
        const ny = clampY(y);
        doc.update(r.id, { xyxy: [Math.min(opp[0], nx), Math.min(opp[1], ny), Math.max(opp[0], nx), Math.max(opp[1], ny)] }, { record: false });
        // keep dragging the corner that is now under the pointer
        const nb = doc.get(r.id).xyxy;
        const nc = [[nb[0], nb[1]], [nb[2], nb[1]], [nb[2], nb[3]], [nb[0], nb[3]]];
        drag.k = nc.findIndex(([hx, hy]) => hx === nx && hy === ny);
        if (drag.k < 0) drag.k = 2;
      } else {
        const pts = r.points.map((p) => p.slice());
        pts[drag.k][0] = clampX(x);
        pts[drag.k][1] = clampY(y);
        doc.update(r.id, { points: pts }, { record: false });
      }
    }
  });

  canvas.addEventListener("pointerup", () => {
    if (drag && drag.kind === "create") {
      const x0 = Math.min(drag.x0, drag.x1);
      const x1 = Math.max(drag.x0, drag.x1);
      const y0 = Math.min(drag.y0, drag.y1);
      const y1 = Math.max(drag.y0, drag.y1);
      if ((x1 - x0) * view.scale >= 3 && (y1 - y0) * view.scale >= 3) {
        const c = drag.control;
        doc.add({ id: newId("b"), control: c.name, label: tools.labelOf(c.name) ?? c.labels[0], xyxy: [x0, y0, x1, y1].map((v) => Math.round(v * 100) / 100) });
      }
    } else if (drag && (drag.kind === "move" || drag.kind === "handle")) {
      const r = doc.get(drag.id);
      if (r && JSON.stringify(r) === JSON.stringify(drag.orig)) doc.undoStack.pop(); // a click, not an edit
      else if (r) doc.suggested.delete(r.id); // corrected: the region is the annotator's now
      doc.dispatchEvent(new CustomEvent("change", { detail: "drag-end" }));
    }
    drag = null;
    redraw();
  });

  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const rect = canvas.getBoundingClientRect();
    const mx = ev.clientX - rect.left;
    const my = ev.clientY - rect.top;
    const f = Math.exp(-ev.deltaY * 0.0015);
    const ns = Math.max(0.02, Math.min(64, view.scale * f));
    view.tx = mx - ((mx - view.tx) * ns) / view.scale;
    view.ty = my - ((my - view.ty) * ns) / view.scale;
    view.scale = ns;
    redraw();
  }, { passive: false });

  const onKeyDown = (ev) => {
    if (ev.code === "Space" && document.activeElement === canvas) { spaceDown = true; ev.preventDefault(); }
    if (ev.key === "Escape" && pending) { pending = null; redraw(); }
  };
  const onKeyUp = (ev) => { if (ev.code === "Space") spaceDown = false; };
  window.addEventListener("keydown", onKeyDown);
  window.addEventListener("keyup", onKeyUp);
  const ro = new ResizeObserver(() => { size(); redraw(); });

  img.addEventListener("load", () => {
    W = W || img.naturalWidth;
    Hh = Hh || img.naturalHeight;
    fit();
    canvas.dataset.loaded = "1";
    redraw();
  });
  img.src = `/api/media/${media.sha256}`;
  doc.addEventListener("change", redraw);
  doc.addEventListener("select", redraw);
  tools.addEventListener("change", redraw);

  return {
    el: wrap,
    controls,
    canvas,
    mount() { size(); fit(); ro.observe(wrap); redraw(); },
    destroy() { ro.disconnect(); window.removeEventListener("keydown", onKeyDown); window.removeEventListener("keyup", onKeyUp); },
    /** image -> client coordinates (tests, tooltips) */
    toClient(x, y) {
      const rect = canvas.getBoundingClientRect();
      return [rect.left + view.tx + x * view.scale, rect.top + view.ty + y * view.scale];
    },
    view,
    get lastDrawMs() { return lastDrawMs; },
    redraw,
  };
}
