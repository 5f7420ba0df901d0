// Build the editors an item needs from the project's schema: one per medium plus forms.
import { h } from "../dom.js";
import { audioEditor } from "./audio.js";
import { classifyEditor, textFieldEditor } from "./classify.js";
import { imageEditor } from "./image.js";
import { linksEditor } from "./links.js";
import { pointcloudEditor } from "./pointcloud.js";
import { spansEditor } from "./spans.js";

/**
 * @param {Doc} doc
 * @param {object} schema  LabelSchema JSON
 * @param {object} item  {media: {name: {kind, sha256, meta, text?}}, text?}
 * @param {Tools} tools
 * @returns {{el: HTMLElement, editors: object[]}}
 */
export function buildEditors(doc, schema, item, tools) {
  const controls = schema.controls || [];
  const editors = [];
  const blocks = [];
  for (const m of schema.media || []) {
    const media = (item.media || item.data || {})[m.name] || {};
    const mine = controls.filter((c) => c.target === m.name);
    let ed = null;
    if (m.kind === "text") {
      const spans = mine.filter((c) => c.kind === "spans");
      const rels = controls.filter((c) => c.kind === "relations" && spans.some((s) => s.name === c.target));
      const text = media.text ?? item.text ?? "";
      ed = spans.length ? spansEditor(doc, text, m.name, spans, rels, tools) : { el: h("div.spantext.plain", { dataset: { field: m.name } }, text), controls: [] };
    } else if (m.kind === "image") {
      const geo = mine.filter((c) => ["boxes", "polygons", "keypoints"].includes(c.kind));
      ed = imageEditor(doc, media, m.name, geo, tools);
    } else if (m.kind === "audio") {
      ed = audioEditor(doc, media, m.name, mine.filter((c) => c.kind === "segments"), tools);
    } else if (m.kind === "pointcloud") {
      ed = pointcloudEditor(doc, media, m.name, mine.filter((c) => c.kind === "cuboids"), tools);
    }
    if (ed) {
      ed.medium = m.kind;
      editors.push(ed);
      blocks.push(h("section.medium", { dataset: { medium: m.kind, field: m.name } }, h("h3.field", null, m.name), ed.el));
    }
  }
  const forms = [];
  for (const c of controls) {
    if (c.kind === "classification") { const ed = classifyEditor(doc, c); ed.kind = "classification"; editors.push(ed); forms.push(ed.el); }
    if (c.kind === "text_field") { const ed = textFieldEditor(doc, c); editors.push(ed); forms.push(ed.el); }
  }
  const links = controls.filter((c) => c.kind === "links");
  if (links.length) { const ed = linksEditor(doc, links, tools); ed.kind = "links"; editors.push(ed); forms.push(ed.el); }
  return { el: h("div.editors", null, blocks, forms.length ? h("section.forms", null, forms) : null), editors };
}
