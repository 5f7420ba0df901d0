// Audio: a waveform drawn from the decoded file, segments dragged on it, label and transcript
// edited in the list below, each segment playable.
import { mediaBytes } from "../api.js";
import { colorFor, h, newId, perFrame, replace } from "../dom.js";

/** Min / max per pixel column of channel 0. */
export function peaks(samples, columns) {
  const out = new Float32Array(columns * 2);
  const per = samples.length / columns;
  for (let c = 0; c < columns; c++) {
    let lo = 1;
    let hi = -1;
    const a = Math.floor(c * per);
    const b = Math.max(a + 1, Math.floor((c + 1) * per));
    for (let i = a; i < b && i < samples.length; i++) { const v = samples[i]; if (v < lo) lo = v; if (v > hi) hi = v; }
    out[2 * c] = lo > hi ? 0 : lo;
    out[2 * c + 1] = lo > hi ? 0 : hi;
  }
  return out;
}

export function audioEditor(doc, media, fieldName, controls, tools) {
  const names = new Set(controls.map((c) => c.name));
  const canvas = h("canvas.wave", { tabindex: 0, dataset: { field: fieldName }, "aria-label": `waveform ${fieldName}` });
  const list = h("table.segments");
  const status = h("p.note", null, "decoding audio…");
  let buffer = null;
  let duration = media.meta?.duration_s || 0;
  let wavePeaks = null;
  let drag = null;
  let queued = false;
  let ctxAudio = null;
  let playing = null;

  const segs = () => doc.regions.filter((r) => names.has(r.control)).sort((a, b) => a.start_s - b.start_s);
  const control = () => controls.find((c) => c.name === tools.active) || controls[0];
  const xOf = (t) => (t / (duration || 1)) * canvas.clientWidth;
  const tOf = (x) => Math.max(0, Math.min(duration, (x / Math.max(1, canvas.clientWidth)) * duration));

  function size() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(320, canvas.parentElement?.clientWidth || 800);
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(160 * dpr);
    canvas.style.width = w + "px";
    canvas.style.height = "160px";
    if (buffer) wavePeaks = peaks(buffer.getChannelData(0), w);
  }

  function redraw() { if (!queued) { queued = true; requestAnimationFrame(draw); } }

  function draw() {
    queued = false;
    const g = canvas.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth;
    const hh = 160;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = "#1f2430";
    g.fillRect(0, 0, w, hh);
    for (const s of segs()) {
      const x0 = xOf(s.start_s);
      const x1 = xOf(s.end_s);
      g.fillStyle = colorFor(s.label).replace("hsl", "hsla").replace(")", ", 0.35)");
      g.fillRect(x0, 0, x1 - x0, hh);
      g.strokeStyle = s.id === doc.selected ? "#fff" : colorFor(s.label);
      g.lineWidth = s.id === doc.selected ? 2 : 1;
      g.setLineDash(doc.suggested.has(s.id) ? [5, 3] : []);
      g.strokeRect(x0, 1, x1 - x0, hh - 2);
      g.setLineDash([]);
      g.fillStyle = "#fff";
      g.font = "12px system-ui";
      g.fillText(s.label, x0 + 3, 13);
    }
    if (wavePeaks) {
      g.strokeStyle = "#8ecae6";
      g.beginPath();
      const n = wavePeaks.length / 2;
      for (let c = 0; c < n; c++) {
        g.moveTo(c + 0.5, hh / 2 - wavePeaks[2 * c + 1] * (hh / 2 - 4));
        g.lineTo(c + 0.5, hh / 2 - wavePeaks[2 * c] * (hh / 2 - 4) + 1);
      }
      g.stroke();
    }
    if (drag && drag.kind === "create") {
      g.strokeStyle = "#ffd166";
      g.strokeRect(xOf(Math.min(drag.t0, drag.t1)), 0, Math.abs(xOf(drag.t1) - xOf(drag.t0)), hh);
    }
    if (playing) {
      g.strokeStyle = "#ffd166";
      const t = playing.from + (ctxAudio.currentTime - playing.at);
      g.beginPath(); g.moveTo(xOf(t), 0); g.lineTo(xOf(t), hh); g.stroke();
      if (t < playing.to) redraw(); else playing = null;
    }
  }

  function renderList() {
    // keep the caret in a transcript being typed while the list is rebuilt
    const active = document.activeElement;
    const typing = active && list.contains(active) && active.classList.contains("transcript")
      ? { id: active.closest("tr").dataset.id, at: active.selectionStart } : null;
    replace(list, h("thead", null, h("tr", null, ["", "label", "start", "end", "transcript", ""].map((t) => h("th", null, t)))),
      h("tbody", null, segs().map((s) => {
        const c = doc.control(s.control);
        return h("tr", { dataset: { id: s.id }, class: s.id === doc.selected ? "sel" : "", onclick: () => doc.select(s.id) },
          h("td", null, h("button", { type: "button", class: "play", title: "play segment", onclick: (ev) => { ev.stopPropagation(); play(s); } }, "▶")),
          h("td", null, h("select", { "aria-label": "segment label", onchange: (ev) => doc.update(s.id, { label: ev.target.value }) },
            c.labels.map((l) => h("option", { value: l, selected: l === s.label }, l))),
            doc.suggested.has(s.id) ? h("span.badge.sugg", null, "suggested") : null),
          h("td.num", null, s.start_s.toFixed(2)), h("td.num", null, s.end_s.toFixed(2)),
          h("td", null, c.transcript ? h("input.transcript", {
            value: s.transcript || "", "aria-label": "transcript",
            onfocus: () => doc.checkpoint(),
            oninput: (ev) => { doc.update(s.id, { transcript: ev.target.value }, { record: false }); doc.suggested.delete(s.id); },
          }) : null),
          h("td", null, h("button.link", { type: "button", onclick: (ev) => { ev.stopPropagation(); doc.remove(s.id); } }, "×")));
      })));
    if (typing) {
      const input = list.querySelector(`tr[data-id="${CSS.escape(typing.id)}"] input.transcript`);
      if (input) { input.focus(); input.setSelectionRange(typing.at, typing.at); }
    }
  }

  async function play(s) {
    if (!buffer) return;
    ctxAudio = ctxAudio || new AudioContext();
    const src = ctxAudio.createBufferSource();
    src.buffer = buffer;
    src.connect(ctxAudio.destination);
    src.start(0, s.start_s, Math.max(0.01, s.end_s - s.start_s));
    playing = { from: s.start_s, to: s.end_s, at: ctxAudio.currentTime };
    canvas.dataset.played = s.id;
    redraw();
  }

  const EDGE = 5;
  canvas.addEventListener("pointerdown", (ev) => {
    canvas.setPointerCapture(ev.pointerId);
    canvas.focus({ preventScroll: true });
    const x = ev.offsetX;
    const t = tOf(x);
    for (const s of segs()) {
      if (Math.abs(xOf(s.start_s) - x) <= EDGE) { doc.checkpoint(); doc.select(s.id); drag = { kind: "edge", id: s.id, which: "start_s" }; return; }
      if (Math.abs(xOf(s.end_s) - x) <= EDGE) { doc.checkpoint(); doc.select(s.id); drag = { kind: "edge", id: s.id, which: "end_s" }; return; }
    }
    const inside = segs().find((s) => t >= s.start_s && t <= s.end_s);
    if (inside) { doc.select(inside.id); tools.setActive(inside.control); doc.checkpoint(); drag = { kind: "move", id: inside.id, t, orig: { ...inside } }; return; }
    doc.select(null);
    drag = { kind: "create", t0: t, t1: t };
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const t = tOf(ev.offsetX);
    if (drag.kind === "create") drag.t1 = t;
    else if (drag.kind === "edge") {
      const s = doc.get(drag.id);
      const v = drag.which === "start_s" ? Math.min(t, s.end_s - 0.01) : Math.max(t, s.start_s + 0.01);
      doc.update(drag.id, { [drag.which]: Math.round(v * 1000) / 1000 }, { record: false });
    } else {
      const len = drag.orig.end_s - drag.orig.start_s;
      const start = Math.max(0, Math.min(duration - len, drag.orig.start_s + t - drag.t));
      doc.update(drag.id, { start_s: Math.round(start * 1000) / 1000, end_s: Math.round((start + len) * 1000) / 1000 }, { record: false });
    }
    redraw();
  });
  canvas.addEventListener("pointerup", () => {
    if (drag && drag.kind === "create") {
      const a = Math.min(drag.t0, drag.t1);
      const b = Math.max(drag.t0, drag.t1);
      if (xOf(b) - xOf(a) >= 3) {
        const c = control();
        const region = { id: newId("a"), control: c.name, label: tools.labelOf(c.name) ?? c.labels[0], start_s: Math.round(a * 1000) / 1000, end_s: Math.round(b * 1000) / 1000 };
        if (c.transcript) region.transcript = "";
        doc.add(region);
      }
    } else if (drag && drag.id) doc.suggested.delete(drag.id);
    drag = null;
    redraw();
  });

  async function load() {
    try {
      const bytes = await mediaBytes(`/api/media/${media.sha256}`);
      // decode at the file's own rate (no resampling) where the browser supports it
      const rate = Number(media.meta?.sample_rate) || 44100;
      const off = new OfflineAudioContext(1, 1, rate >= 8000 && rate <= 96000 ? rate : 44100);
      buffer = await off.decodeAudioData(bytes);
      duration = buffer.duration;
      size();
      replace(status, `${duration.toFixed(2)} s · ${buffer.sampleRate} Hz · drag on the waveform to add a segment`);
      canvas.dataset.loaded = "1";
      redraw();
    } catch (e) {
      replace(status, "could not decode the audio: " + e.message);
    }
  }

  const renderListSoon = perFrame(renderList);
  const onChange = () => { renderListSoon(); redraw(); };
  doc.addEventListener("change", onChange);
  doc.addEventListener("select", onChange);
  renderList();
  return {
    el: h("div.audio-editor", null, canvas, status, list),
    controls,
    canvas,
    mount() { size(); redraw(); load(); },
    destroy() { if (ctxAudio) ctxAudio.close(); },
    timeToClientX(t) { return canvas.getBoundingClientRect().left + xOf(t); },
  };
}
