// The labelling and review views: one task at a time, keyboard first.
//   label:  Enter submit · A accept suggestion · R reject suggestion · 1-9 class · Ctrl+Z undo · Del delete
//   review: A accept · R reject · C correct (submit the edited value) · Enter accept, or correct when edited
import { api, ApiError } from "../api.js";
import { showConflict as showConflictCard } from "../conflict.js";
import { Doc } from "../doc.js";
import { h, perFrame, replace, toast, uuid } from "../dom.js";
import { pickClass } from "../editors/classify.js";
import { mergeSuggestions } from "../suggest.js";
import { buildEditors } from "../editors/index.js";
import { editingKey, Tools } from "../tools.js";

const AUTOSAVE_MS = 3000;

/** Normalise the task payload shapes the API may send. */
export function unpackTask(task) {
  const payload = task.item || task;
  const item = payload.item || payload;
  return {
    item,
    suggestions: payload.suggestions || task.suggestions || [],
    annotation: task.annotation || payload.annotation || null,
    draft: payload.draft || task.draft || null,
    baseVersion: task.base_version !== undefined ? task.base_version : (payload.annotation ? payload.annotation.id : null),
    lockExpires: task.lock_expires_at || null,
    guidelines: task.guidelines ?? payload.guidelines ?? null, // an experiment arm's guidelines (null: the project's)
  };
}

function summary(regions) {
  return h("ul.summary", null, (regions || []).map((r) => h("li", null, h("b", null, r.control), ": ",
    r.labels ? r.labels.join(", ") : r.label || "", r.text ? ` “${r.text}”` : "", r.xyxy ? ` [${r.xyxy.map((v) => Math.round(v)).join(", ")}]` : "",
    r.transcript ? ` “${r.transcript}”` : "")));
}

const KEYS_LABEL = [["Enter", "submit"], ["A", "accept suggestion"], ["R", "reject suggestion"], ["1-9", "pick class"], ["Tab", "next control"], ["Ctrl+Z", "undo"], ["Del", "delete region"], ["L", "relate spans"], ["K", "link"], ["Q/E", "turn cuboid"], ["Esc", "deselect"]];
const KEYS_REVIEW = [["A", "accept"], ["R", "reject"], ["C", "correct"], ["Enter", "accept / correct if edited"], ["Ctrl+Z", "undo"], ["Del", "delete region"]];

export async function taskView(pid, mode) {
  const project = await api("GET", `/api/projects/${pid}`);
  const schema = project.schema;
  const root = h("section.task", { dataset: { mode } });
  const statusLine = h("span.savestate", { id: "savestate" });
  let state = null; // {doc, tools, editors, task, started, savedVersion, key}
  let timer = 0;

  async function saveDraft(keepalive = false) {
    if (!state || mode !== "label" || state.doc.version === state.savedVersion || state.done) return;
    const v = state.doc.version;
    try {
      await api("PUT", `/api/projects/${pid}/items/${state.task.item.id}/draft`, { value: state.doc.value() }, {}, { keepalive });
      state.savedVersion = v;
      statusLine.textContent = "draft saved " + new Date().toLocaleTimeString();
      statusLine.dataset.saved = String(v);
    } catch (e) {
      statusLine.textContent = "draft not saved: " + e.message;
    }
  }
  const onHide = () => { if (document.visibilityState === "hidden") saveDraft(true); };
  document.addEventListener("visibilitychange", onHide);

  async function next() {
    if (state) state.editors.forEach((e) => e.destroy && e.destroy());
    state = null;
    replace(root, h("p.note", null, "Fetching the next task…"));
    const data = await api("POST", mode === "label" ? `/api/projects/${pid}/next` : `/api/projects/${pid}/review/next`);
    if (!data || !data.task) {
      replace(root, h("div.card.empty", { id: "no-task" }, h("h2", null, mode === "label" ? "Nothing left to label" : "Nothing left to review"),
        h("p", null, h("a", { href: `#/p/${pid}` }, "Back to the project"))));
      return;
    }
    show(unpackTask(data.task));
  }

  function show(task) {
    const merged = mergeSuggestions(task.suggestions);
    const best = merged.used[0] || null;
    const pct = (x) => `${Math.round((x ?? 0) * 100)}%`;
    let regions = [];
    let suggested = [];
    let source = "empty";
    if (mode === "review" && task.annotation) { regions = task.annotation.value; source = "annotation"; }
    else if (task.draft) { regions = task.draft.value; source = "draft"; }
    else if (task.annotation) { regions = task.annotation.value; source = "annotation"; }
    else if (best) { regions = merged.regions; suggested = merged.regions.map((r) => r.id); source = "suggestion"; }
    const doc = new Doc(schema, regions, suggested);
    const tools = new Tools(schema);
    const { el: editorsEl, editors } = buildEditors(doc, schema, task.item, tools);
    state = { doc, tools, editors, task, best, used: merged.used, started: performance.now(), savedVersion: doc.version, key: null, initialVersion: doc.version, done: false };
    window.__labelloop = { doc, tools, editors, task, mode };
    doc.addEventListener("change", () => { if (state) state.key = null; });

    tools.addEventListener("pick", (ev) => pickLabel(ev.detail));
    const regionsList = h("ol.regions", { id: "regions" });
    let shown = null;
    let shownSel = null;
    const renderRegions = () => {
      // rebuild only when what the list shows changed (not on every move of a dragged box);
      // a new selection only moves the highlight
      const sig = [...doc.suggested].join(",") + "\u0001" +
        doc.regions.map((r) => r.id + ":" + (r.labels ? r.labels.join(",") : r.label || "")).join("\u0002");
      if (sig === shown) {
        if (shownSel !== doc.selected) {
          for (const li of regionsList.querySelectorAll("li.sel")) li.classList.remove("sel");
          const li = doc.selected ? regionsList.querySelector(`li[data-id="${CSS.escape(doc.selected)}"]`) : null;
          if (li) li.classList.add("sel"); // (no scrollIntoView: the page must not move under a drag)
          shownSel = doc.selected;
        }
        return;
      }
      shown = sig;
      shownSel = doc.selected;
      regionsList.dataset.renders = String((+regionsList.dataset.renders || 0) + 1);
      replace(regionsList, doc.regions.map((r) => h("li", {
      dataset: { id: r.id, control: r.control }, class: (r.id === doc.selected ? "sel " : "") + (doc.suggested.has(r.id) ? "sugg" : ""),
      onclick: () => { doc.select(r.id); tools.setActive(r.control); },
    }, h("b", null, r.control), " ", r.labels ? r.labels.join(", ") : r.label || (r.from_id ? "link" : ""),
    doc.suggested.has(r.id) ? h("span.badge.sugg", null, `suggested ${pct(merged.scoreOf.get(r.id))}`) : null)));
    };
    const renderRegionsSoon = perFrame(renderRegions);
    doc.addEventListener("change", renderRegionsSoon);
    doc.addEventListener("select", renderRegionsSoon);
    renderRegions();

    const sugBox = best ? h("div.card.suggestion", { id: "suggestion" }, h("h3", null, merged.used.length > 1 ? "Suggestions" : "Suggestion"),
      merged.used.map((sg, i) => h("div.sugg-row", { dataset: { suggestion: sg.id } },
        h("p", null, h("b", null, sg.backend), sg.model_version ? ` ${sg.model_version}` : "",
          ` (${[...new Set(sg.value.map((r) => r.control))].join(", ")})`),
        h("p", null, "confidence ", h("span.conf", i === 0 ? { id: "confidence" } : null, pct(sg.score))),
        h("meter", { min: 0, max: 1, value: sg.score ?? 0 }))),
      h("p.note", null, source === "suggestion" ? "pre-filled: A accepts, R rejects" : `showing the ${source}`)) : null;

    const comment = mode === "review" ? h("input", { id: "review-comment", placeholder: "comment (optional)" }) : null;
    const buttons = mode === "label"
      ? h("div.actions", null,
        h("button.primary", { type: "button", id: "submit", onclick: submit }, h("kbd", null, "Enter"), " Submit"),
        best ? h("button", { type: "button", id: "accept", onclick: accept }, h("kbd", null, "A"), " Accept suggestion") : null,
        best ? h("button", { type: "button", id: "reject", onclick: reject }, h("kbd", null, "R"), " Reject suggestion") : null,
        h("button", { type: "button", onclick: () => doc.undo() }, h("kbd", null, "Ctrl+Z"), " Undo"))
      : h("div.actions", null,
        h("button.primary", { type: "button", id: "review-accept", onclick: () => review("accept") }, h("kbd", null, "A"), " Accept"),
        h("button", { type: "button", id: "review-reject", onclick: () => review("reject") }, h("kbd", null, "R"), " Reject"),
        h("button", { type: "button", id: "review-correct", onclick: () => review("correct") }, h("kbd", null, "C"), " Correct"),
        comment);
    const conflict = h("div", { id: "conflict" });
    const errors = h("ul.errors", { id: "errors" });
    // only the keys that do something for this item's editors
    const kinds = new Set((schema.controls || []).map((c) => c.kind));
    const applies = { L: kinds.has("relations"), K: kinds.has("links"), "Q/E": kinds.has("cuboids"), A: mode === "review" || !!best, R: mode === "review" || !!best };
    const help = h("dl.keys", null, (mode === "label" ? KEYS_LABEL : KEYS_REVIEW).filter(([k]) => applies[k] !== false)
      .map(([k, v]) => [h("dt", null, h("kbd", null, k)), h("dd", null, v)]));

    replace(root,
      h("div.taskhead", null,
        h("a", { href: `#/p/${pid}` }, project.name), " · ", mode === "label" ? "Labelling" : "Review", " · item ",
        h("b", { id: "item-id" }, String(task.item.id)),
        task.annotation && mode === "review" ? [" · by ", h("b", null, String(task.annotation.annotator ?? ""))] : null,
        task.lockExpires ? h("span.note", null, ` · locked until ${new Date(task.lockExpires).toLocaleTimeString()}`) : null,
        " ", statusLine),
      tools.bar(),
      conflict, errors,
      h("div.taskgrid", null, h("div.work", null, editorsEl), h("aside", null,
        task.guidelines ? h("details.card.guidelines", { id: "task-guidelines", open: true },
          h("summary", null, "Guidelines for this task"), h("p", null, task.guidelines)) : null,
        sugBox, h("div.card", null, h("h3", null, "Regions"), regionsList), h("div.card", null, h("h3", null, "Keys"), help))),
      buttons);
    state.comment = comment;
    state.conflictEl = conflict;
    state.errorsEl = errors;
    for (const e of editors) if (e.mount) e.mount();
    document.body.dataset.item = String(task.item.id);
    document.title = `${mode === "label" ? "Label" : "Review"} item ${task.item.id} · ${project.name} · labelloop`;
  }

  function pickLabel(i) {
    const { doc, tools } = state;
    const c = tools.control();
    if (!c || i >= (c.labels || []).length) return;
    const label = c.labels[i];
    if (c.kind === "classification") { pickClass(doc, c, label); return; }
    tools.setLabel(c.name, label);
    const sel = doc.selected ? doc.get(doc.selected) : null;
    if (sel && sel.control === c.name && "label" in sel) { doc.update(sel.id, { label }); doc.suggested.delete(sel.id); }
  }

  async function submit() {
    if (!state || state.busy) return;
    const { doc, task } = state;
    state.busy = true;
    state.key = state.key || uuid(); // a retry of the same value reuses the key
    replace(state.errorsEl);
    try {
      const body = { value: doc.value(), base_version: task.baseVersion ?? null, lead_time_s: (performance.now() - state.started) / 1000 };
      await api("POST", `/api/projects/${pid}/items/${task.item.id}/annotations`, body, { "Idempotency-Key": state.key });
      state.done = true;
      toast("submitted");
      state.busy = false;
      await next();
    } catch (e) {
      state.busy = false;
      if (e instanceof ApiError && e.status === 409) { state.key = null; showConflict(e.body && e.body.current); }
      else if (e instanceof ApiError && e.status === 422) { state.key = null; replace(state.errorsEl, ((e.body && e.body.errors) || [e.message]).map((m) => h("li", null, m))); toast("the annotation is not valid", "error"); }
      else if (e instanceof ApiError) { state.key = null; toast(e.message, "error"); }
      else toast("network error: press Enter to retry (the same submit is not duplicated)", "error");
    }
  }

  function showConflict(current) {
    const { doc, task } = state;
    showConflictCard(state.conflictEl, {
      current, doc, subject: "item", detail: summary(current ? current.value : []),
      setBase: (id) => { task.baseVersion = id; }, keepMessage: "your version will replace it on the next submit",
    });
  }

  async function accept() {
    const { doc, best, used } = state;
    if (!best) return;
    const sel = doc.selected && doc.suggested.has(doc.selected) ? doc.selected : null;
    if (sel) { doc.acceptSuggestion(sel); toast("region accepted"); return; }
    const untouched = doc.version === state.initialVersion && doc.suggested.size > 0;
    if (untouched && used.length > 1) {
      // several backends pre-filled this item: accept them all as one annotation
      doc.acceptSuggestion();
      await submit();
      return;
    }
    if (untouched) {
      try {
        await api("POST", `/api/projects/${pid}/suggestions/${best.id}/accept`);
        state.done = true;
        toast("suggestion accepted");
        await next();
      } catch (e) { toast(e.message, "error"); }
      return;
    }
    if (doc.acceptSuggestion()) toast("suggested regions accepted; Enter submits");
  }

  function reject() {
    const { doc } = state;
    const sel = doc.selected && doc.suggested.has(doc.selected) ? doc.selected : null;
    const n = doc.rejectSuggestion(sel);
    if (n) toast(sel ? "region rejected" : "suggestion rejected");
  }

  async function review(verdict) {
    if (!state || state.busy) return;
    const { doc, task } = state;
    if (!task.annotation) return;
    state.busy = true;
    const body = { annotation_id: task.annotation.id, verdict, comment: state.comment ? state.comment.value : "" };
    if (verdict === "correct") body.value = doc.value();
    try {
      await api("POST", `/api/projects/${pid}/items/${task.item.id}/reviews`, body);
      toast(`review: ${verdict}`);
      state.busy = false;
      await next();
    } catch (e) {
      state.busy = false;
      if (e instanceof ApiError && e.status === 422) replace(state.errorsEl, ((e.body && e.body.errors) || [e.message]).map((m) => h("li", null, m)));
      toast(e.message, "error");
    }
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
    if (key === "Enter") {
      ev.preventDefault();
      if (mode === "label") submit(); else review(doc.version === state.initialVersion ? "accept" : "correct");
    } else if (lower === "a") { ev.preventDefault(); mode === "label" ? accept() : review("accept"); }
    else if (lower === "r") { ev.preventDefault(); mode === "label" ? reject() : review("reject"); }
    else if (lower === "c" && mode === "review") { ev.preventDefault(); review("correct"); }
    else editingKey(ev, { doc, tools, editors, pickLabel });
  }

  window.addEventListener("keydown", onKey);
  return {
    el: root,
    name: mode,
    ready: () => { timer = setInterval(() => saveDraft(), AUTOSAVE_MS); next().catch((e) => { replace(root, h("p.error", null, e.message)); toast(e.message, "error"); }); },
    cleanup: async () => {
      clearInterval(timer);
      window.removeEventListener("keydown", onKey);
      document.removeEventListener("visibilitychange", onHide);
      await saveDraft();
      if (state) state.editors.forEach((e) => e.destroy && e.destroy());
    },
  };
}
