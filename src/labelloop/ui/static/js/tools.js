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
