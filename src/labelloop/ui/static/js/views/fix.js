// The correction-task screen: QC findings one at a time, each in its item's own editors, keyboard first.
//   Enter save the fix · F apply the suggested fix · D dismiss (with a reason) · N next task
//   1-9 class/label · Tab next control · Ctrl+Z undo · Del delete region · Esc deselect
// The editors start from the current version of the label the finding is about, with the
// finding's region selected (every editor draws its selection highlighted).
import { api, ApiError } from "../api.js";
import { showConflict as showConflictCard } from "../conflict.js";
import { Doc } from "../doc.js";
import { h, newId, perFrame, replace, toast } from "../dom.js";
import { pickClass } from "../editors/classify.js";
import { buildEditors } from "../editors/index.js";
import { editingKey, Tools } from "../tools.js";

const KEYS = [["Enter", "save the fix"], ["F", "apply the suggested fix"], ["D", "dismiss (type a reason, Enter)"], ["N", "next task (skip)"],
  ["1-9", "pick class"], ["Tab", "next control"], ["Ctrl+Z", "undo"], ["Del", "delete region"], ["Esc", "deselect"]];

function setPath(obj, path, value) {
  const parts = String(path).split(".");
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    if (typeof cur[p] !== "object" || cur[p] === null) cur[p] = {};
    cur = cur[p];
  }
  cur[parts.at(-1)] = structuredClone(value);
}

/** What a fix does, in words (null when there is nothing to apply). */
export function describeFix(fix) {
  if (!fix || !fix.action) return null;
  if (fix.action === "set" && fix.field === "regions") return `replace the ${fix.control} regions (${(fix.value || []).length})`;
  if (fix.action === "set" && !("value" in fix)) return fix.hint ? `look at it: ${fix.hint}` : null;
  if (fix.action === "set" && Array.isArray(fix.field)) return fix.field.map((k, i) => `set ${k} to ${JSON.stringify((fix.value || [])[i])}`).join(", ");
  if (fix.action === "set") return `set ${fix.field} to ${JSON.stringify(fix.value)}`;
  if (fix.action === "delete") return "delete the region";
  if (fix.action === "add") return `add a ${fix.region && fix.region.label ? fix.region.label + " " : ""}region to ${fix.region ? fix.region.control : "?"}`;
  if (fix.action === "review") return fix.hint ? `look at it: ${fix.hint}` : "look at it";
  return null;
}

/**
 * Apply a finding's suggested fix to the edited value. Returns a message, or null when the fix
 * cannot be applied automatically (a hint, or a region to draw: the tool is made ready instead).
 * @param {Doc} doc
 * @param {Tools} tools
 * @param {object} finding  {region_id, control, fix}
 */
export function applyFix(doc, tools, finding) {
  const fix = finding.fix;
  if (!fix) return null;
  const control = fix.control || finding.control;
  const target = finding.region_id ? doc.get(finding.region_id) : (control ? doc.ofControl(control)[0] : null);
  if (fix.action === "set" && fix.field === "regions") {
    doc.checkpoint();
    for (const r of doc.ofControl(control)) doc.remove(r.id, { record: false });
    for (const r of fix.value || []) doc.add({ ...structuredClone(r), id: r.id && !doc.get(r.id) ? r.id : newId("r") }, { record: false });
    return `replaced the ${control} regions`;
  }
  if (fix.action === "set" && target && "value" in fix) {
    // one field, or several: field ["start", "end", "text"] with value [s, e, t]
    const fields = Array.isArray(fix.field) ? fix.field : [fix.field];
    const values = Array.isArray(fix.field) ? fix.value || [] : [fix.value];
    const patch = structuredClone(target);
    fields.forEach((k, i) => setPath(patch, k, values[i]));
    doc.update(target.id, patch);
    doc.suggested.delete(target.id);
    doc.select(target.id);
    return `set ${fields.join(", ")}`;
  }
  if (fix.action === "delete" && target) { doc.remove(target.id); return "deleted the region"; }
  if (fix.action === "add" && fix.region) {
    const c = doc.control(fix.region.control);
    const drawn = Object.keys(fix.region).some((k) => !["id", "control", "label"].includes(k));
    if (c && drawn) { // a whole region (a model's box the label missed): add it
      doc.add({ ...structuredClone(fix.region), id: fix.region.id && !doc.get(fix.region.id) ? fix.region.id : newId("r") });
      return `added a ${fix.region.label || c.name} region`;
    }
    if (c && c.kind === "classification" && fix.region.label) { pickClass(doc, c, fix.region.label); return `set ${c.name} to ${fix.region.label}`; }
    if (c) { tools.setActive(c.name); if (fix.region.label) tools.setLabel(c.name, fix.region.label); }
    return null;
  }
  return null;
}

export async function fixView(pid, taskId = null) {
  const project = await api("GET", `/api/projects/${pid}`);
  const schema = project.schema;
  const root = h("section.fix");
  const filterBox = h("span.filter");
  let state = null; // {doc, tools, editors, data, readOnly, busy, reasonEl, conflictEl, errorsEl}
  let rule = "";

  async function loadRules() {
    try {
      const page = await api("GET", `/api/projects/${pid}/corrections?limit=1`);
      const sel = h("select", { id: "fix-rule", "aria-label": "rule", onchange: (ev) => { rule = ev.target.value; next(null); } },
        h("option", { value: "" }, "every rule"),
        (page.rules || []).map((r) => h("option", { value: r.rule, selected: r.rule === rule }, `${r.rule} (${r.severity}, ${r.open} open)`)));
      replace(filterBox, " · ", sel);
    } catch { replace(filterBox); }
  }

  function destroy() {
    if (state) state.editors.forEach((e) => e.destroy && e.destroy());
    state = null;
  }

  function empty() {
    replace(root, h("div.card.empty", { id: "no-task" }, h("h2", null, rule ? `No open correction task for ${rule}` : "No open correction task"),
      h("p", null, h("a", { href: `#/p/${pid}/dashboard` }, "QC dashboard"), " · ", h("a", { href: `#/p/${pid}` }, "Back to the project"))));
  }

  async function next(after) {
    destroy();
    replace(root, h("p.note", null, "Fetching the next correction task…"));
    const body = { after: after ?? null };
    if (rule) body.rule = rule;
    const data = await api("POST", `/api/projects/${pid}/corrections/next`, body);
    loadRules();
    if (!data) { empty(); return; }
    history.replaceState(null, "", `#/p/${pid}/fix/${data.task.id}`);
    show(data, false);
  }

  async function open(tid) {
    destroy();
    try {
      show(await api("POST", `/api/projects/${pid}/corrections/${tid}/lock`), false);
    } catch (e) {
      // 409: resolved, or someone else holds it; 403: not the caller's to resolve (a finding on
      // their own annotation). Either way: show it read-only with the server's reason; N moves on
      if (!(e instanceof ApiError) || (e.status !== 409 && e.status !== 403)) throw e;
      show(await api("GET", `/api/projects/${pid}/corrections/${tid}`), true, e.body && e.body.error ? e.body.error.message : e.message);
    }
    loadRules();
  }

  function show(data, readOnly, why = "") {
    const f = data.task.finding;
    const doc = new Doc(schema, data.prefill.value || []);
    const tools = new Tools(schema);
    const { el: editorsEl, editors } = buildEditors(doc, schema, data.item, tools);
    state = { doc, tools, editors, data, readOnly, busy: false, initialVersion: doc.version };
    window.__labelloop = { doc, tools, editors, task: data, mode: "fix" };
    tools.addEventListener("pick", (ev) => pickLabel(ev.detail));

    const regionsList = h("ol.regions", { id: "regions" });
    const renderRegions = () => replace(regionsList, doc.regions.map((r) => h("li", {
      dataset: { id: r.id, control: r.control },
      class: [r.id === doc.selected ? "sel" : "", r.id === f.region_id ? "finding" : ""].join(" ").trim(),
      onclick: () => { doc.select(r.id); tools.setActive(r.control); },
    }, h("b", null, r.control), " ", r.labels ? r.labels.join(", ") : r.label || (r.from_id ? "link" : ""),
    r.id === f.region_id ? h("span.badge.finding", null, "finding") : null)));
    const soon = perFrame(renderRegions);
    doc.addEventListener("change", soon);
    doc.addEventListener("select", soon);
    renderRegions();

    const fixText = describeFix(f.fix);
    const canApply = !!f.fix && (["delete", "add"].includes(f.fix.action) || (f.fix.action === "set" && "value" in f.fix));
    const who = f.annotator ? `${f.label_source} label by ${f.annotator}` : `${f.label_source} label`;
    const findingCard = h("div.card.finding", { id: "finding", dataset: { rule: f.rule_id, severity: f.severity } },
      h("h3", null, h("span", { class: "severity " + f.severity }, f.severity), " ", h("code", { id: "finding-rule" }, f.rule_id)),
      h("p", { id: "finding-message" }, f.message),
      h("p.note", null, who, f.control ? ` · control ${f.control}` : "", f.region_id ? ` · region ${f.region_id}` : "", f.label ? ` · label ${f.label}` : ""),
      fixText ? h("p", { id: "finding-fix" }, "Suggested: ", fixText) : null,
      h("p.note", { id: "version-line" }, data.version ? `Editing version ${data.version.id} by ${data.version.annotator}` : `No annotation yet: starting from the ${data.prefill.source === "suggestion" ? "suggestion" : "empty value"}`));

    const reason = h("input", { id: "dismiss-reason", placeholder: "reason to dismiss", maxlength: 2000 });
    reason.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); ev.stopPropagation(); dismiss(); } });
    const buttons = h("div.actions", null,
      h("button.primary", { type: "button", id: "fix-save", disabled: readOnly, onclick: save }, h("kbd", null, "Enter"), " Save fix"),
      canApply ? h("button", { type: "button", id: "fix-apply", disabled: readOnly, onclick: apply }, h("kbd", null, "F"), " Apply suggested fix") : null,
      reason,
      h("button", { type: "button", id: "fix-dismiss", disabled: readOnly, onclick: dismiss }, h("kbd", null, "D"), " Dismiss"),
      h("button", { type: "button", id: "fix-next", onclick: () => next(data.task.id).catch(fail) }, h("kbd", null, "N"), " Next"),
      h("button", { type: "button", onclick: () => doc.undo() }, h("kbd", null, "Ctrl+Z"), " Undo"));
    const conflict = h("div", { id: "conflict" });
    const errors = h("ul.errors", { id: "errors" });
    const lock = data.task.lock;
    const help = h("dl.keys", null, KEYS.map(([k, v]) => [h("dt", null, h("kbd", null, k)), h("dd", null, v)]));
    replace(root,
      h("div.taskhead", null,
        h("a", { href: `#/p/${pid}` }, project.name), " · ", h("a", { href: `#/p/${pid}/dashboard` }, "QC"), " · Correction task ",
        h("b", { id: "task-id" }, String(data.task.id)), " · item ", h("b", { id: "item-id" }, String(data.item.id)),
        lock ? h("span.note", { id: "lock-line" }, ` · locked to ${lock.user} until ${new Date(lock.expires_at).toLocaleTimeString()}`) : null,
        filterBox),
      readOnly ? h("p.card.conflict", { id: "read-only" }, why || "This task cannot be worked on now.", " Press N for the next one.") : null,
      tools.bar(), conflict, errors,
      h("div.taskgrid", null, h("div.work", null, editorsEl),
        h("aside", null, findingCard, h("div.card", null, h("h3", null, "Regions"), regionsList), h("div.card", null, h("h3", null, "Keys"), help))),
      buttons);
    state.reasonEl = reason;
    state.conflictEl = conflict;
    state.errorsEl = errors;
    for (const e of editors) if (e.mount) e.mount();
    // highlight what the finding is about: its region selected, its control active and outlined
    if (f.control) {
      tools.setActive(f.control);
      for (const el of editorsEl.querySelectorAll("[data-control]")) if (el.dataset.control === f.control) el.classList.add("finding-target");
    }
    if (data.region) { doc.select(data.region.id); tools.setActive(data.region.control); }
    document.body.dataset.item = String(data.item.id);
    document.body.dataset.task = String(data.task.id);
    document.title = `Fix task ${data.task.id} · ${project.name} · labelloop`;
  }

  function fail(e) { toast(e.message || String(e), "error"); }

  function pickLabel(i) {
    const { doc, tools } = state;
    const c = tools.control();
    if (!c || i >= (c.labels || []).length) return;
    const label = c.labels[i];
    if (c.kind === "classification") { pickClass(doc, c, label); return; }
    tools.setLabel(c.name, label);
    const sel = doc.selected ? doc.get(doc.selected) : null;
    if (sel && sel.control === c.name && "label" in sel) doc.update(sel.id, { label });
  }

  function apply() {
    if (!state || state.readOnly) return;
    const msg = applyFix(state.doc, state.tools, state.data.task.finding);
    toast(msg ? `${msg}: Enter saves` : "this fix needs you: draw or edit the region", msg ? "info" : "error");
  }

  function closedConflict(e) {
    // resolved or taken by someone else meanwhile: say so and move on
    toast(e.message, "error");
    return next(state ? state.data.task.id : null);
  }

  async function save() {
    if (!state || state.busy || state.readOnly) return;
    const { doc, data } = state;
    state.busy = true;
    replace(state.errorsEl);
    try {
      await api("POST", `/api/projects/${pid}/corrections/${data.task.id}/resolve`, { resolution: "fixed", value: doc.value(), base_version: data.base_version ?? null });
      toast(`task ${data.task.id} fixed`);
      state.busy = false;
      await next(data.task.id);
    } catch (e) {
      if (state) state.busy = false;
      if (e instanceof ApiError && e.status === 409 && e.body && "current" in e.body) showConflict(e.body.current);
      else if (e instanceof ApiError && e.status === 409) await closedConflict(e);
      else if (e instanceof ApiError && e.status === 422) { replace(state.errorsEl, ((e.body && e.body.errors) || [e.message]).map((m) => h("li", null, m))); toast("the corrected value is not valid", "error"); }
      else fail(e);
    }
  }

  async function dismiss() {
    if (!state || state.busy || state.readOnly) return;
    const { data, reasonEl } = state;
    if (!reasonEl.value.trim()) { reasonEl.focus(); toast("type why the finding is dismissed, then Enter"); return; }
    state.busy = true;
    try {
      await api("POST", `/api/projects/${pid}/corrections/${data.task.id}/resolve`, { resolution: "dismissed", reason: reasonEl.value });
      toast(`task ${data.task.id} dismissed`);
      state.busy = false;
      await next(data.task.id);
    } catch (e) {
      if (state) state.busy = false;
      if (e instanceof ApiError && e.status === 409) await closedConflict(e);
      else fail(e);
    }
  }

  function showConflict(current) {
    const { doc, data } = state;
    showConflictCard(state.conflictEl, {
      current, doc, subject: "label", detail: h("p", null, `${current ? current.value.length : 0} regions`),
      setBase: (id) => { data.base_version = id; }, keepMessage: "your fix will replace it on the next save",
    });
  }

  function onKey(ev) {
    if (!state) return;
    const t = ev.target;
    const typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
    if (typing) { if (ev.key === "Escape") t.blur(); return; }
    const { doc, tools, editors } = state;
    const key = ev.key;
    const lower = key.length === 1 ? key.toLowerCase() : key;
    if ((ev.ctrlKey || ev.metaKey) && lower === "z") { ev.preventDefault(); doc.undo(); return; }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (key === "Enter") { ev.preventDefault(); save(); }
    else if (lower === "f") { ev.preventDefault(); apply(); }
    else if (lower === "d") { ev.preventDefault(); dismiss(); }
    else if (lower === "n") { ev.preventDefault(); next(state.data.task.id).catch(fail); }
    else editingKey(ev, { doc, tools, editors, pickLabel });
  }

  window.addEventListener("keydown", onKey);
  return {
    el: root,
    name: "fix",
    ready: () => {
      (taskId ? open(taskId) : next(null)).catch((e) => { replace(root, h("p.error", null, e.message)); toast(e.message, "error"); });
    },
    cleanup: () => { window.removeEventListener("keydown", onKey); destroy(); },
  };
}
