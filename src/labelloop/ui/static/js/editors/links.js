// Links between regions of two controls (a caption span and an image box, say): select one
// region of each, then press K.
import { h, newId, replace, toast } from "../dom.js";

function describe(doc, r) {
  if (!r) return "?";
  if (r.text) return `“${r.text}”`;
  if (r.xyxy) return `${r.label} box [${r.xyxy.map((v) => Math.round(v)).join(", ")}]`;
  if (r.start_s !== undefined) return `${r.label} ${r.start_s.toFixed(2)}–${r.end_s.toFixed(2)} s`;
  return `${r.label || r.control} ${r.id}`;
}

export function linksEditor(doc, controls, tools) {
  const list = h("ul.links");
  const render = () => {
    const names = new Set(controls.map((c) => c.name));
    replace(list, doc.regions.filter((r) => names.has(r.control)).map((r) => h("li", { dataset: { id: r.id } },
      describe(doc, doc.get(r.from_id)), " ⟷ ", describe(doc, doc.get(r.to_id)), r.label ? ` (${r.label})` : "",
      doc.suggested.has(r.id) ? h("span.badge.sugg", null, "suggested") : null,
      h("button.link", { type: "button", onclick: () => doc.remove(r.id) }, "×"))));
  };
  function link() {
    for (const c of controls) {
      const a = doc.lastByControl.get(c.source);
      const b = doc.lastByControl.get(c.target);
      if (a && b && doc.get(a) && doc.get(b)) {
        if (doc.regions.some((r) => r.control === c.name && r.from_id === a && r.to_id === b)) { toast("already linked"); return; }
        const region = { id: newId("l"), control: c.name, from_id: a, to_id: b };
        const label = tools.labelOf(c.name);
        if (label) region.label = label;
        doc.add(region);
        toast("linked");
        return;
      }
    }
    toast(`select a ${controls.map((c) => c.source).join("/")} region and a ${controls.map((c) => c.target).join("/")} region first`, "error");
  }
  doc.addEventListener("change", render);
  render();
  return {
    el: h("div.links-box", null, h("h3", null, "Links ", h("button", { type: "button", id: "link-selected", onclick: link }, h("kbd", null, "K"), " link selected")), list),
    controls,
    link,
  };
}
