// NER spans by mouse selection (exact code-point offsets) and relations between spans.
import { colorFor, h, newId, replace, toast } from "../dom.js";
import { TextIndex } from "./offsets.js";

/** UTF-16 offset of (node, offset) inside container; only text lives in the container. */
function domOffset(container, node, offset) {
  const r = document.createRange();
  r.setStart(container, 0);
  r.setEnd(node, offset);
  return r.toString().length;
}

/**
 * @param {Doc} doc
 * @param {string} text  the medium's text
 * @param {object[]} spanControls  spans controls targeting this text
 * @param {object[]} relControls  relations controls targeting those spans controls
 * @param {Tools} tools
 */
export function spansEditor(doc, text, fieldName, spanControls, relControls, tools) {
  const index = new TextIndex(text);
  const names = new Set(spanControls.map((c) => c.name));
  const box = h("div.spantext", { dataset: { field: fieldName }, lang: "und" });
  const rels = h("ul.relations");
  let pendingFrom = null;

  const spanControl = () => spanControls.find((c) => c.name === tools.active) || spanControls[0];

  function render() {
    const spans = doc.regions.filter((r) => names.has(r.control));
    const cuts = new Set([0, index.length]);
    for (const s of spans) { cuts.add(Math.max(0, Math.min(s.start, index.length))); cuts.add(Math.max(0, Math.min(s.end, index.length))); }
    const points = [...cuts].sort((a, b) => a - b);
    const parts = [];
    for (let i = 0; i + 1 < points.length; i++) {
      const a = points[i];
      const b = points[i + 1];
      const covering = spans.filter((s) => s.start <= a && s.end >= b).sort((x, y) => (x.end - x.start) - (y.end - y.start));
      const chunk = index.slice(a, b);
      if (!covering.length) { parts.push(document.createTextNode(chunk)); continue; }
      const top = covering[0];
      const mark = h("mark", {
        dataset: { ids: covering.map((s) => s.id).join(" "), id: top.id },
        style: { backgroundColor: colorFor(top.label).replace("45%)", "88%)"), borderBottomColor: colorFor(top.label) },
      }, chunk);
      if (covering.some((s) => s.id === doc.selected)) mark.classList.add("sel");
      if (covering.some((s) => doc.suggested.has(s.id))) mark.classList.add("sugg");
      const ending = covering.filter((s) => s.end === b);
      if (ending.length) { mark.classList.add("end"); mark.dataset.label = ending.map((s) => s.label).join(" · "); }
      parts.push(mark);
    }
    replace(box, parts);
    const relNames = new Set(relControls.map((c) => c.name));
    replace(rels, doc.regions.filter((r) => relNames.has(r.control)).map((r) => {
      const a = doc.get(r.from_id);
      const b = doc.get(r.to_id);
      return h("li", { dataset: { id: r.id }, class: r.id === doc.selected ? "sel" : "" },
        h("span.chip", null, a ? index.slice(a.start, a.end) : "?"), ` —${r.label}→ `, h("span.chip", null, b ? index.slice(b.start, b.end) : "?"),
        doc.suggested.has(r.id) ? h("span.badge.sugg", null, "suggested") : null,
        h("button.link", { type: "button", onclick: () => doc.remove(r.id) }, "×"));
    }));
  }

  let swallowUp = false;
  box.addEventListener("mousedown", (ev) => {
    // shift+click on a span relates the selected span to it (and must not extend the selection)
    const mark = ev.shiftKey && ev.target.closest ? ev.target.closest("mark") : null;
    const from = doc.selected ? doc.get(doc.selected) : null;
    if (!mark || !from || !names.has(from.control) || !relControls.length || mark.dataset.id === from.id) return;
    ev.preventDefault();
    swallowUp = true;
    relate(from.id, mark.dataset.id);
  });

  box.addEventListener("mouseup", (ev) => {
    if (swallowUp) { swallowUp = false; return; }
    const sel = window.getSelection();
    if (!sel || sel.rangeCount === 0) return;
    const range = sel.getRangeAt(0);
    if (!box.contains(range.startContainer) || !box.contains(range.endContainer)) return;
    let a = domOffset(box, range.startContainer, range.startOffset);
    let b = domOffset(box, range.endContainer, range.endOffset);
    if (a === b) {
      // a click: select the innermost span under the pointer; shift+click relates two spans
      const mark = ev.target.closest && ev.target.closest("mark");
      if (!mark) { doc.select(null); return; }
      const id = mark.dataset.id;
      if (pendingFrom && pendingFrom !== id) {
        relate(pendingFrom, id);
        pendingFrom = null;
      } else {
        doc.select(id);
        tools.setActive(doc.get(id).control);
      }
      return;
    }
    if (a > b) [a, b] = [b, a];
    let start = index.toCodePoint(a);
    let end = index.toCodePoint(b);
    // trim white space at the edges, as annotators rarely mean to include it
    while (start < end && /\s/u.test(index.slice(start, start + 1))) start++;
    while (end > start && /\s/u.test(index.slice(end - 1, end))) end--;
    if (start >= end) return;
    const control = spanControl();
    const label = tools.labelOf(control.name) ?? control.labels[0];
    sel.removeAllRanges();
    doc.add({ id: newId("s"), control: control.name, label, start, end, text: index.slice(start, end) });
  });

  function relate(fromId, toId) {
    const rc = relControls.find((c) => c.name === tools.active) || relControls[0];
    if (!rc) return;
    const label = tools.labelOf(rc.name) ?? rc.labels[0];
    doc.add({ id: newId("rel"), control: rc.name, label, from_id: fromId, to_id: toId });
    toast(`relation ${label} added`);
  }

  doc.addEventListener("change", render);
  doc.addEventListener("select", render);
  render();
  return {
    el: h("div.spans-editor", null, box, relControls.length ? h("div.relations-box", null, h("h3", null, "Relations ", h("span.note", null, "(select a span, then shift+click another, or press L)")), rels) : null),
    controls: [...spanControls, ...relControls],
    /** L: start a relation from the selected span; the next clicked span ends it. */
    startRelation() {
      if (doc.selected && names.has(doc.get(doc.selected)?.control)) { pendingFrom = doc.selected; toast("click the target span"); }
    },
    index,
  };
}
