// Which control is active and which label new regions get; the label bar with digit hints.
import { colorFor, h, replace } from "./dom.js";

const DRAWN = new Set(["classification", "spans", "relations", "boxes", "polygons", "keypoints", "segments", "cuboids", "links"]);

export class Tools extends EventTarget {
  constructor(schema) {
    super();
    this.controls = (schema.controls || []).filter((c) => DRAWN.has(c.kind));
    this.active = this.controls.length ? this.controls[0].name : null;
    this.labels = new Map(this.controls.map((c) => [c.name, (c.labels || [])[0] ?? null]));
  }

  control() { return this.controls.find((c) => c.name === this.active) || null; }
  labelOf(name) { return this.labels.get(name) ?? null; }

  setActive(name) {
    if (!this.controls.some((c) => c.name === name) || this.active === name) return;
    this.active = name;
    this.dispatchEvent(new Event("change"));
  }

  setLabel(name, label) {
    this.labels.set(name, label);
    this.dispatchEvent(new Event("change"));
  }

  /** Tab: the next control. */
  cycle(step = 1) {
    if (!this.controls.length) return;
    const i = this.controls.findIndex((c) => c.name === this.active);
    this.setActive(this.controls[(i + step + this.controls.length) % this.controls.length].name);
  }

  /** The label bar element, kept up to date. */
  bar() {
    const el = h("div.labelbar", { id: "labelbar" });
    const render = () => {
      const c = this.control();
      replace(el,
        h("select.control-pick", { "aria-label": "active control", onchange: (ev) => this.setActive(ev.target.value) },
          this.controls.map((x) => h("option", { value: x.name, selected: x.name === this.active }, `${x.name} (${x.kind})`))),
        c ? (c.labels || []).map((lab, i) => h("button.label-chip", {
          type: "button",
          class: "label-chip" + (this.labelOf(c.name) === lab ? " on" : ""),
          style: { borderColor: colorFor(lab) },
          dataset: { label: lab },
          onclick: () => this.dispatchEvent(new CustomEvent("pick", { detail: i })),
        }, i < 9 ? h("kbd", null, String(i + 1)) : null, " ", lab)) : null);
    };
    this.addEventListener("change", render);
    render();
    return el;
  }
}

// The editing keys every labelling view shares (the labelling, review and correction screens):
// 1-9 pick a label, Delete removes the selected region, Tab cycles tools, Escape deselects,
// L starts a relation, K links, Q/E rotate. Returns whether the key was one of them.
export function editingKey(ev, { doc, tools, editors, pickLabel }) {
  const key = ev.key;
  const lower = key.length === 1 ? key.toLowerCase() : key;
  if (/^[1-9]$/.test(key)) { ev.preventDefault(); pickLabel(Number(key) - 1); }
  else if (key === "Delete" || key === "Backspace") { if (doc.selected) { ev.preventDefault(); doc.remove(doc.selected); } }
  else if (key === "Tab") { ev.preventDefault(); tools.cycle(ev.shiftKey ? -1 : 1); }
  else if (key === "Escape") doc.select(null);
  else if (lower === "l") editors.forEach((e) => e.startRelation && e.startRelation());
  else if (lower === "k") editors.forEach((e) => e.link && e.link());
  else if (lower === "q" || lower === "e") editors.forEach((e) => e.rotate && e.rotate(lower === "q" ? 5 : -5));
  else return false;
  return true;
}
