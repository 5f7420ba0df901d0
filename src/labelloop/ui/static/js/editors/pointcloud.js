// Point clouds: a three.js perspective view (Points + cuboid wireframes, orbit controls) and two
// orthographic 2D views for editing cuboids: top (x-y: create, move, resize, rotate yaw) and
// side (along the selected cuboid's heading vs z: height and elevation).
import { colorFor, h, newId, perFrame, replace } from "../dom.js";
import { loadPoints } from "./pcformats.js";

/**
 * Where most of the points are: the 2nd to 98th percentile per axis (a lidar scan's few far
 * returns would otherwise shrink everything near the sensor to a dot).
 */
function coreBounds(pts) {
  const n = pts.length / 3;
  if (!n) return [-10, -10, -2, 10, 10, 2];
  const step = Math.max(1, Math.floor(n / 20000));
  const out = [];
  for (let a = 0; a < 3; a++) {
    const v = [];
    for (let i = a; i < pts.length; i += 3 * step) v.push(pts[i]);
    v.sort((x, y) => x - y);
    out.push(v[Math.floor(0.02 * (v.length - 1))], v[Math.ceil(0.98 * (v.length - 1))]);
  }
  const b = [out[0], out[2], out[4], out[1], out[3], out[5]];
  for (let a = 0; a < 3; a++) if (b[3 + a] - b[a] < 1) { b[a] -= 0.5; b[3 + a] += 0.5; }
  return b;
}

function bounds(pts) {
  const b = [Infinity, Infinity, Infinity, -Infinity, -Infinity, -Infinity];
  for (let i = 0; i < pts.length; i += 3) {
    for (let a = 0; a < 3; a++) { const v = pts[i + a]; if (v < b[a]) b[a] = v; if (v > b[3 + a]) b[3 + a] = v; }
  }
  if (!pts.length) return [-10, -10, -2, 10, 10, 2];
  return b;
}

/** A cuboid's footprint corners (x, y), counter-clockwise from rear-right. */
function footprint(c) {
  const [x, y] = c.center;
  const [l, w] = c.size;
  const cs = Math.cos(c.yaw || 0);
  const sn = Math.sin(c.yaw || 0);
  return [[-l / 2, -w / 2], [l / 2, -w / 2], [l / 2, w / 2], [-l / 2, w / 2]].map(([u, v]) => [x + u * cs - v * sn, y + u * sn + v * cs]);
}

function toLocal(c, x, y) {
  const dx = x - c.center[0];
  const dy = y - c.center[1];
  const cs = Math.cos(c.yaw || 0);
  const sn = Math.sin(c.yaw || 0);
  return [dx * cs + dy * sn, -dx * sn + dy * cs];
}

const r3 = (v) => Math.round(v * 1000) / 1000;

export function pointcloudEditor(doc, media, fieldName, controls, tools) {
  const names = new Set(controls.map((c) => c.name));
  const cuboids = () => doc.regions.filter((r) => names.has(r.control));
  const view3d = h("div.view3d", { dataset: { field: fieldName } });
  const top = h("canvas.topview", { tabindex: 0, "aria-label": "top view" });
  const side = h("canvas.sideview", { tabindex: 0, "aria-label": "side view" });
  const status = h("p.note", null, "loading points…");
  const list = h("ul.cuboids");
  let pts = new Float32Array(0);
  let bb = [-10, -10, -2, 10, 10, 2];
  const tv = { scale: 20, cx: 0, cy: 0 };
  let queued = false;
  let drag = null;
  let spaceDown = false;
  let three = null;

  const selected = () => { const r = doc.selected ? doc.get(doc.selected) : null; return r && names.has(r.control) ? r : null; };
  const control = () => controls.find((c) => c.name === tools.active) || controls[0];

  // ---- top view coordinates: x to the right, y up
  const tx = (x) => (x - tv.cx) * tv.scale + top.clientWidth / 2;
  const ty = (y) => -(y - tv.cy) * tv.scale + top.clientHeight / 2;
  const fromTop = (px, py) => [(px - top.clientWidth / 2) / tv.scale + tv.cx, -(py - top.clientHeight / 2) / tv.scale + tv.cy];

  function sizeCanvas(c, hgt) {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(240, c.parentElement?.clientWidth || 400);
    c.width = Math.round(w * dpr); c.height = Math.round(hgt * dpr);
    c.style.width = w + "px"; c.style.height = hgt + "px";
  }

  function fitTop() {
    const w = top.clientWidth || 400;
    const hh = top.clientHeight || 320;
    tv.cx = (bb[0] + bb[3]) / 2; tv.cy = (bb[1] + bb[4]) / 2;
    tv.scale = 0.9 * Math.min(w / Math.max(1e-3, bb[3] - bb[0]), hh / Math.max(1e-3, bb[4] - bb[1]));
  }

  function redraw() { if (!queued) { queued = true; requestAnimationFrame(draw); } }

  function draw() {
    queued = false;
    drawTop();
    drawSide();
    if (three) three.sync();
  }

  function drawTop() {
    const g = top.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = "#111418"; g.fillRect(0, 0, top.clientWidth, top.clientHeight);
    g.fillStyle = "#9fb3c8";
    const step = Math.max(1, Math.floor(pts.length / 3 / 60000));
    for (let i = 0; i < pts.length; i += 3 * step) g.fillRect(tx(pts[i]) - 0.5, ty(pts[i + 1]) - 0.5, 1.5, 1.5);
    const sel = selected();
    for (const c of cuboids()) {
      const fp = footprint(c);
      g.strokeStyle = c === sel ? "#fff" : colorFor(c.label);
      g.lineWidth = c === sel ? 2 : 1.5;
      g.setLineDash(doc.suggested.has(c.id) ? [5, 3] : []);
      g.beginPath(); fp.forEach(([x, y], i) => (i ? g.lineTo(tx(x), ty(y)) : g.moveTo(tx(x), ty(y)))); g.closePath(); g.stroke();
      // heading: a line from the centre to the front face
      const front = [(fp[1][0] + fp[2][0]) / 2, (fp[1][1] + fp[2][1]) / 2];
      g.beginPath(); g.moveTo(tx(c.center[0]), ty(c.center[1])); g.lineTo(tx(front[0]), ty(front[1])); g.stroke();
      g.setLineDash([]);
      if (c === sel) {
        g.fillStyle = "#fff";
        for (const [x, y] of fp) g.fillRect(tx(x) - 4, ty(y) - 4, 8, 8);
        const [rx, ry] = rotHandle(c);
        g.beginPath(); g.arc(tx(rx), ty(ry), 5, 0, Math.PI * 2); g.fill();
      }
    }
    if (drag && drag.kind === "create") {
      g.strokeStyle = "#ffd166";
      g.strokeRect(tx(drag.x0), ty(drag.y0), tx(drag.x1) - tx(drag.x0), ty(drag.y1) - ty(drag.y0));
    }
  }

  function rotHandle(c) {
    const off = c.size[0] / 2 + 14 / tv.scale;
    return [c.center[0] + Math.cos(c.yaw || 0) * off, c.center[1] + Math.sin(c.yaw || 0) * off];
  }

  // ---- side view: along the selected cuboid's heading (u) against z
  const sv = { scale: 20, cu: 0, cz: 0 };
  function sideFrame() {
    const c = selected();
    const yaw = c ? c.yaw || 0 : 0;
    const origin = c ? c.center : [0, 0, 0];
    return { c, yaw, origin };
  }
  function drawSide() {
    const g = side.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    const w = side.clientWidth;
    const hh = side.clientHeight;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = "#111418"; g.fillRect(0, 0, w, hh);
    const { c, yaw, origin } = sideFrame();
    const cs = Math.cos(yaw); const sn = Math.sin(yaw);
    if (c) { sv.scale = 0.7 * Math.min(w / Math.max(1, c.size[0] * 1.6), hh / Math.max(1, c.size[2] * 1.6)); sv.cu = 0; sv.cz = c.center[2]; }
    else { sv.scale = 0.9 * Math.min(w / Math.max(1e-3, bb[3] - bb[0]), hh / Math.max(1e-3, bb[5] - bb[2])); sv.cu = (bb[0] + bb[3]) / 2; sv.cz = (bb[2] + bb[5]) / 2; }
    const su = (u) => (u - sv.cu) * sv.scale + w / 2;
    const sz = (z) => -(z - sv.cz) * sv.scale + hh / 2;
    g.fillStyle = "#9fb3c8";
    const half = c ? c.size[1] / 2 + 0.5 : Infinity;
    for (let i = 0; i < pts.length; i += 3) {
      const dx = pts[i] - origin[0]; const dy = pts[i + 1] - origin[1];
      const u = dx * cs + dy * sn; const v = -dx * sn + dy * cs;
      if (Math.abs(v) > half) continue;
      g.fillRect(su(c ? u : pts[i]) - 0.5, sz(pts[i + 2]) - 0.5, 1.5, 1.5);
    }
    if (c) {
      g.strokeStyle = "#fff"; g.lineWidth = 2;
      g.strokeRect(su(-c.size[0] / 2), sz(c.center[2] + c.size[2] / 2), c.size[0] * sv.scale, c.size[2] * sv.scale);
      g.fillStyle = "#fff";
      g.fillRect(su(0) - 4, sz(c.center[2] + c.size[2] / 2) - 4, 8, 8);
      g.fillRect(su(0) - 4, sz(c.center[2] - c.size[2] / 2) - 4, 8, 8);
      g.font = "12px system-ui";
      g.fillText(`side view of ${c.label}: drag top / bottom to set height`, 6, 14);
    } else {
      g.fillStyle = "#ccc"; g.font = "12px system-ui"; g.fillText("side view (x-z); select a cuboid to edit its height", 6, 14);
    }
    side._map = { su, sz };
  }

  function hitCuboid(x, y) {
    const cs = cuboids();
    for (let i = cs.length - 1; i >= 0; i--) {
      const [u, v] = toLocal(cs[i], x, y);
      if (Math.abs(u) <= cs[i].size[0] / 2 && Math.abs(v) <= cs[i].size[1] / 2) return cs[i];
    }
    return null;
  }

  function zRange(x0, y0, x1, y1) {
    let lo = Infinity; let hi = -Infinity;
    for (let i = 0; i < pts.length; i += 3) {
      const x = pts[i]; const y = pts[i + 1];
      if (x >= x0 && x <= x1 && y >= y0 && y <= y1) { lo = Math.min(lo, pts[i + 2]); hi = Math.max(hi, pts[i + 2]); }
    }
    return lo <= hi && hi - lo > 0.05 ? [lo, hi] : [0, 1.5];
  }

  top.addEventListener("pointerdown", (ev) => {
    top.setPointerCapture(ev.pointerId);
    top.focus({ preventScroll: true });
    if (spaceDown || ev.button === 1) { drag = { kind: "pan", sx: ev.clientX, sy: ev.clientY, cx: tv.cx, cy: tv.cy }; return; }
    const [x, y] = fromTop(ev.offsetX, ev.offsetY);
    const sel = selected();
    if (sel) {
      const [rx, ry] = rotHandle(sel);
      if (Math.hypot(tx(rx) - ev.offsetX, ty(ry) - ev.offsetY) <= 8) { doc.checkpoint(); drag = { kind: "rotate", id: sel.id }; return; }
      const k = footprint(sel).findIndex(([cx, cy]) => Math.hypot(tx(cx) - ev.offsetX, ty(cy) - ev.offsetY) <= 7);
      if (k >= 0) {
        doc.checkpoint();
        const opp = footprint(sel)[(k + 2) % 4];
        drag = { kind: "resize", id: sel.id, opp };
        return;
      }
    }
    const hit = hitCuboid(x, y);
    if (hit) {
      doc.select(hit.id);
      tools.setActive(hit.control);
      doc.checkpoint();
      drag = { kind: "move", id: hit.id, x, y, center: hit.center.slice() };
      return;
    }
    doc.select(null);
    drag = { kind: "create", x0: x, y0: y, x1: x, y1: y };
  });

  top.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    if (drag.kind === "pan") {
      tv.cx = drag.cx - (ev.clientX - drag.sx) / tv.scale;
      tv.cy = drag.cy + (ev.clientY - drag.sy) / tv.scale;
      redraw();
      return;
    }
    const [x, y] = fromTop(ev.offsetX, ev.offsetY);
    if (drag.kind === "create") { drag.x1 = x; drag.y1 = y; redraw(); return; }
    const c = doc.get(drag.id);
    if (!c) return;
    if (drag.kind === "move") {
      doc.update(c.id, { center: [r3(drag.center[0] + x - drag.x), r3(drag.center[1] + y - drag.y), c.center[2]] }, { record: false });
    } else if (drag.kind === "rotate") {
      doc.update(c.id, { yaw: r3(Math.atan2(y - c.center[1], x - c.center[0])) }, { record: false });
    } else if (drag.kind === "resize") {
      // the opposite corner stays; size measured in the cuboid's own frame
      const cs = Math.cos(c.yaw || 0); const sn = Math.sin(c.yaw || 0);
      const dx = x - drag.opp[0]; const dy = y - drag.opp[1];
      const u = dx * cs + dy * sn; const v = -dx * sn + dy * cs;
      const mx = (x + drag.opp[0]) / 2; const my = (y + drag.opp[1]) / 2;
      doc.update(c.id, { center: [r3(mx), r3(my), c.center[2]], size: [r3(Math.max(0.05, Math.abs(u))), r3(Math.max(0.05, Math.abs(v))), c.size[2]] }, { record: false });
    }
    redraw();
  });

  top.addEventListener("pointerup", () => {
    if (drag && drag.kind === "create") {
      const x0 = Math.min(drag.x0, drag.x1); const x1 = Math.max(drag.x0, drag.x1);
      const y0 = Math.min(drag.y0, drag.y1); const y1 = Math.max(drag.y0, drag.y1);
      if ((x1 - x0) * tv.scale >= 4 && (y1 - y0) * tv.scale >= 4) {
        const [zl, zh] = zRange(x0, y0, x1, y1);
        const c = control();
        doc.add({ id: newId("cub"), control: c.name, label: tools.labelOf(c.name) ?? c.labels[0],
          center: [r3((x0 + x1) / 2), r3((y0 + y1) / 2), r3((zl + zh) / 2)], size: [r3(x1 - x0), r3(y1 - y0), r3(zh - zl)], yaw: 0, frame: "lidar" });
      }
    } else if (drag && drag.id) doc.suggested.delete(drag.id);
    drag = null;
    redraw();
  });

  top.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const [x, y] = fromTop(ev.offsetX, ev.offsetY);
    tv.scale = Math.max(0.5, Math.min(2000, tv.scale * Math.exp(-ev.deltaY * 0.0015)));
    const [x2, y2] = fromTop(ev.offsetX, ev.offsetY);
    tv.cx += x - x2; tv.cy += y - y2;
    redraw();
  }, { passive: false });

  side.addEventListener("pointerdown", (ev) => {
    const c = selected();
    if (!c || !side._map) return;
    side.setPointerCapture(ev.pointerId);
    const { sz } = side._map;
    const topY = sz(c.center[2] + c.size[2] / 2);
    const botY = sz(c.center[2] - c.size[2] / 2);
    doc.checkpoint();
    if (Math.abs(ev.offsetY - topY) <= 6) drag = { kind: "ztop", id: c.id };
    else if (Math.abs(ev.offsetY - botY) <= 6) drag = { kind: "zbot", id: c.id };
    else drag = { kind: "zmove", id: c.id, y: ev.offsetY, z: c.center[2] };
  });
  side.addEventListener("pointermove", (ev) => {
    if (!drag || !drag.kind.startsWith("z")) return;
    const c = doc.get(drag.id);
    const z = sv.cz - (ev.offsetY - side.clientHeight / 2) / sv.scale;
    const lo = c.center[2] - c.size[2] / 2; const hi = c.center[2] + c.size[2] / 2;
    let nlo = lo; let nhi = hi;
    if (drag.kind === "ztop") nhi = Math.max(lo + 0.05, z);
    else if (drag.kind === "zbot") nlo = Math.min(hi - 0.05, z);
    else { const dz = -(ev.offsetY - drag.y) / sv.scale; nlo = drag.z + dz - c.size[2] / 2; nhi = drag.z + dz + c.size[2] / 2; }
    doc.update(c.id, { center: [c.center[0], c.center[1], r3((nlo + nhi) / 2)], size: [c.size[0], c.size[1], r3(nhi - nlo)] }, { record: false });
    drawTop();
    if (three) three.sync();
  });
  side.addEventListener("pointerup", () => { if (drag && drag.id) doc.suggested.delete(drag.id); drag = null; redraw(); });

  function renderList() {
    replace(list, cuboids().map((c) => h("li", { dataset: { id: c.id }, class: c.id === doc.selected ? "sel" : "", onclick: () => doc.select(c.id) },
      h("span.swatch", { style: { background: colorFor(c.label) } }), ` ${c.label} `,
      h("span.note", null, `@ (${c.center.map((v) => v.toFixed(2)).join(", ")}) ${c.size.map((v) => v.toFixed(2)).join("×")} yaw ${((c.yaw || 0) * 180 / Math.PI).toFixed(0)}°`),
      doc.suggested.has(c.id) ? h("span.badge.sugg", null, "suggested") : null,
      h("button.link", { type: "button", onclick: (ev) => { ev.stopPropagation(); doc.remove(c.id); } }, "×"))));
  }

  async function start3d() {
    try {
      const THREE = await import("../../vendor/three.module.min.js");
      const { OrbitControls } = await import("../../vendor/OrbitControls.js");
      const renderer = new THREE.WebGLRenderer({ antialias: true });
      const w = view3d.clientWidth || 600; const hh = 360;
      renderer.setPixelRatio(window.devicePixelRatio || 1);
      renderer.setSize(w, hh);
      view3d.replaceChildren(renderer.domElement);
      const scene = new THREE.Scene();
      scene.background = new THREE.Color(0x111418);
      const camera = new THREE.PerspectiveCamera(55, w / hh, 0.05, 5000);
      camera.up.set(0, 0, 1);
      const span = Math.max(bb[3] - bb[0], bb[4] - bb[1], 1);
      const mid = new THREE.Vector3((bb[0] + bb[3]) / 2, (bb[1] + bb[4]) / 2, (bb[2] + bb[5]) / 2);
      camera.position.set(mid.x - span, mid.y - span, mid.z + span * 0.8);
      const geo = new THREE.BufferGeometry();
      geo.setAttribute("position", new THREE.BufferAttribute(pts, 3));
      const colors = new Float32Array(pts.length);
      const zr = Math.max(1e-3, bb[5] - bb[2]);
      for (let i = 0; i < pts.length; i += 3) { const t = (pts[i + 2] - bb[2]) / zr; colors[i] = 0.3 + 0.7 * t; colors[i + 1] = 0.8 - 0.4 * t; colors[i + 2] = 1 - 0.7 * t; }
      geo.setAttribute("color", new THREE.BufferAttribute(colors, 3));
      scene.add(new THREE.Points(geo, new THREE.PointsMaterial({ size: Math.max(0.02, span / 400), vertexColors: true })));
      const boxes = new THREE.Group();
      scene.add(boxes);
      const controlsOrbit = new OrbitControls(camera, renderer.domElement);
      controlsOrbit.target.copy(mid);
      controlsOrbit.update();
      const render = () => renderer.render(scene, camera);
      controlsOrbit.addEventListener("change", render);
      const edges = new THREE.EdgesGeometry(new THREE.BoxGeometry(1, 1, 1));
      three = {
        sync() {
          boxes.clear();
          for (const c of cuboids()) {
            const line = new THREE.LineSegments(edges, new THREE.LineBasicMaterial({ color: c.id === doc.selected ? 0xffffff : new THREE.Color(colorFor(c.label)) }));
            line.position.set(...c.center);
            line.scale.set(Math.max(c.size[0], 1e-3), Math.max(c.size[1], 1e-3), Math.max(c.size[2], 1e-3));
            line.rotation.z = c.yaw || 0;
            boxes.add(line);
          }
          render();
        },
        dispose() { controlsOrbit.dispose(); renderer.dispose(); },
      };
      three.sync();
      view3d.dataset.webgl = "1";
    } catch (e) {
      replace(view3d, h("p.note", null, "3D view unavailable (", String(e.message || e), "); the top and side views still edit cuboids."));
      view3d.dataset.webgl = "0";
    }
  }

  async function load() {
    try {
      const loaded = await loadPoints(media);
      pts = loaded.points;
      top.dataset.source = loaded.source;
      bb = pts.length / 3 > 1000 ? coreBounds(pts) : bounds(pts);
      replace(status, `${pts.length / 3} points · drag in the top view to draw a cuboid · corners resize · round handle rotates · Q/E turn 5°`);
      sizeCanvas(top, 320); sizeCanvas(side, 200);
      fitTop();
      top.dataset.loaded = "1";
      redraw();
      await start3d();
    } catch (e) {
      replace(status, "could not load the point cloud: " + e.message);
    }
  }

  const renderListSoon = perFrame(renderList);
  const onChange = () => { renderListSoon(); redraw(); };
  doc.addEventListener("change", onChange);
  doc.addEventListener("select", onChange);
  const onKeyDown = (ev) => { if (ev.code === "Space" && document.activeElement === top) { spaceDown = true; ev.preventDefault(); } };
  const onKeyUp = (ev) => { if (ev.code === "Space") spaceDown = false; };
  window.addEventListener("keydown", onKeyDown);
  window.addEventListener("keyup", onKeyUp);
  renderList();
  return {
    el: h("div.pc-editor", null, h("div.pc-grid", null, h("div.pc-3d", null, h("h3", null, "3D"), view3d), h("div.pc-top", null, h("h3", null, "Top"), top), h("div.pc-side", null, h("h3", null, "Side"), side)), status, list),
    controls,
    mount() { sizeCanvas(top, 320); sizeCanvas(side, 200); load(); },
    destroy() { if (three) three.dispose(); window.removeEventListener("keydown", onKeyDown); window.removeEventListener("keyup", onKeyUp); },
    /** Q / E: turn the selected cuboid. */
    rotate(deg) {
      const c = selected();
      if (c) { doc.update(c.id, { yaw: r3((c.yaw || 0) + (deg * Math.PI) / 180) }); doc.suggested.delete(c.id); }
    },
    topToClient(x, y) { const r = top.getBoundingClientRect(); return [r.left + tx(x), r.top + ty(y)]; },
    sideToClient(u, z) { const r = side.getBoundingClientRect(); return [r.left + side._map.su(u), r.top + side._map.sz(z)]; },
  };
}
