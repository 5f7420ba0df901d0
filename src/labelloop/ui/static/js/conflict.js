// The card shown when a save met a newer server version (409): load the server copy, or keep
// one's own and overwrite it on the next save. Shared by the labelling and correction screens.
import { h, replace, toast } from "./dom.js";

// current: the server's copy (or null); doc: the editing Doc; subject: "item" or "label";
// detail: a node (or text) summarising the server copy; setBase(id): the new base version;
// keepMessage: the toast after "Keep mine"; el: the card's container.
export function showConflict(el, { current, doc, subject, detail, setBase, keepMessage }) {
  const base = current ? current.id : null;
  replace(el, h("div.card.conflict", null,
    h("h3", null, `Someone saved a newer version of this ${subject}`),
    h("p", null, "Server copy", current && current.annotator ? ` by ${current.annotator}` : "", ":"),
    detail,
    h("button.primary", { type: "button", id: "load-server", onclick: () => {
      doc.reset(current ? current.value : []);
      setBase(base);
      replace(el);
      toast("loaded the server copy");
    } }, "Load the server copy"),
    h("button", { type: "button", id: "keep-mine", onclick: () => {
      setBase(base);
      replace(el);
      toast(keepMessage);
    } }, "Keep mine")));
}
