// Classification (single / multi label) and free-text controls.
import { h, newId, replace } from "../dom.js";

/** Set / toggle a class on the control's single classification region. */
export function pickClass(doc, control, label) {
  const existing = doc.ofControl(control.name)[0];
  if (!existing) {
    doc.add({ id: newId("c"), control: control.name, labels: [label] });
    return;
  }
  let labels;
  if (control.multi) labels = existing.labels.includes(label) ? existing.labels.filter((l) => l !== label) : [...existing.labels, label];
  else labels = [label];
  if (!labels.length) doc.remove(existing.id);
  else {
    doc.update(existing.id, { labels });
    doc.suggested.delete(existing.id);
  }
}

export function classifyEditor(doc, control) {
  const el = h("fieldset.classify", { dataset: { control: control.name } });
  const render = () => {
    const r = doc.ofControl(control.name)[0];
    const on = new Set(r ? r.labels : []);
    const suggested = r && doc.suggested.has(r.id);
    replace(el, h("legend", null, control.name, control.multi ? " (any)" : " (one)", suggested ? h("span.badge.sugg", null, "suggested") : null),
      (control.labels || []).map((lab, i) => h("label.choice", null,
        h("input", { type: control.multi ? "checkbox" : "radio", name: "cls-" + control.name, value: lab, checked: on.has(lab),
          dataset: { label: lab }, onchange: () => pickClass(doc, control, lab) }),
        i < 9 ? h("kbd", null, String(i + 1)) : null, " ", lab)));
  };
  doc.addEventListener("change", render);
  render();
  return { el, control };
}

export function textFieldEditor(doc, control) {
  const area = h("textarea", { rows: 3, dataset: { control: control.name }, "aria-label": control.name });
  let region = null;
  const sync = () => {
    region = doc.ofControl(control.name)[0] || null;
    if (document.activeElement !== area) area.value = region ? region.text : "";
  };
  area.addEventListener("input", () => {
    if (!region) region = doc.add({ id: newId("t"), control: control.name, text: area.value });
    else doc.update(region.id, { text: area.value }, { record: false });
  });
  area.addEventListener("focus", () => doc.checkpoint());
  doc.addEventListener("change", sync);
  sync();
  return { el: h("label.textfield", null, control.name, area), control };
}
