// Import and export panels of a project page: an upload or an export runs as a job whose
// progress is polled until it ends. All user text goes through dom.js (textContent).
import { api, ApiError, upload } from "../api.js";
import { h, replace, toast } from "../dom.js";

const POLL_MS = 400;
export const FINAL = new Set(["done", "failed", "cancelled", "interrupted"]);

let formatsCache = null;
/** Import and export formats with the exporters' options (GET /api/formats, once). */
export async function formats() {
  if (!formatsCache) formatsCache = await api("GET", "/api/formats");
  return formatsCache;
}

/** A human line for an API error, with the per-problem lines when the server sent them. */
export function errorLines(e) {
  if (e instanceof ApiError && e.body && e.body.error) {
    const lines = Array.isArray(e.body.errors) && e.body.errors.length ? e.body.errors : [e.body.error.message];
    return lines.map(String);
  }
  return [String(e && e.message ? e.message : e)];
}

/**
 * Poll a job until it ends, calling render(job) on every answer.
 * Stops when the job has ended or `owner` has left the page.
 */
export function watchJob(pid, jobId, owner, render) {
  let stopped = false;
  async function tick() {
    if (stopped || !owner.isConnected) return;
    let job;
    try { job = (await api("GET", `/api/projects/${pid}/jobs/${jobId}`)).job; } catch (e) {
      toast(e.message, "error");
      return;
    }
    render(job);
    if (!FINAL.has(job.status)) setTimeout(tick, POLL_MS);
  }
  tick();
  return () => { stopped = true; };
}

/** Tell the page a job was started (the jobs list of the project page listens). */
export function announceJob(job) {
  document.dispatchEvent(new CustomEvent("labelloop:job", { detail: job }));
}

/** A progress bar with a status line, updated from jobs. */
export function jobStatus(prefix, pid) {
  const bar = h("progress", { id: `${prefix}-progress`, max: 1, value: 0 });
  const state = h("span.jobstate", { id: `${prefix}-state` });
  const counts = h("span.note", { id: `${prefix}-counts` });
  let current = null;
  const cancel = h("button.link", { type: "button", id: `${prefix}-cancel`, hidden: true, onclick: async () => {
    if (!current) return;
    try { await api("POST", `/api/projects/${pid}/jobs/${current}/cancel`); } catch (e) { toast(e.message, "error"); }
  } }, "Cancel");
  const el = h("div.jobstatus", { id: `${prefix}-status`, hidden: true }, bar, " ", state, " ", counts, " ", cancel);
  return {
    el,
    uploading(sent, total) {
      el.hidden = false;
      bar.max = Math.max(total, 1);
      bar.value = sent;
      state.textContent = "uploading";
      counts.textContent = `${Math.round((100 * sent) / Math.max(total, 1))}%`;
    },
    show(job) {
      current = job.id;
      el.hidden = false;
      el.dataset.status = job.status;
      const p = job.progress || {};
      const total = p.total || 0;
      bar.max = Math.max(total, 1);
      bar.value = job.status === "done" ? bar.max : Math.min(p.done || 0, bar.max);
      state.textContent = job.status;
      counts.textContent = total ? `${p.done} / ${total}${p.message ? " · " + p.message : ""}` : (p.message || "");
      cancel.hidden = FINAL.has(job.status);
    },
  };
}

/** A panel that could not load the formats: it says so, and the rest of the page works. */
function unavailable(id, title, e) {
  return h("section.card.jobpanel", { id }, h("h2", null, title), h("p.error", null, errorLines(e).join("; ")));
}

/** The import panel: a file, a format, the job's progress and the per-item errors. */
export async function importPanel(pid, onImported) {
  let f;
  try { f = await formats(); } catch (e) { return unavailable("import-panel", "Import", e); }
  const file = h("input", { type: "file", id: "import-file", required: true });
  const fmt = h("select", { id: "import-format" }, f.import.map((x) => h("option", { value: x.name, title: x.description }, x.name)));
  const status = jobStatus("import", pid);
  const summary = h("p", { id: "import-summary" });
  const errors = h("ul.errors", { id: "import-errors" });
  const submit = h("button.primary", { type: "submit", id: "import-submit" }, "Import");
  const panel = h("section.card.jobpanel", { id: "import-panel" });

  function showResult(job) {
    status.show(job);
    if (!FINAL.has(job.status)) return;
    submit.disabled = false;
    if (job.status !== "done") { replace(summary, h("span.error", null, job.error || job.status)); return; }
    const r = job.result || {};
    replace(summary, `${r.items} items imported, ${r.duplicates} duplicates skipped, ${r.annotations} annotations, `,
      `${r.suggestions} suggestions, ${r.refused} refused.`);
    replace(errors, (r.errors || []).map((e) => h("li", null, h("b", null, e.line ? `${e.source}:${e.line}` : e.source), " ", e.reason)),
      r.errors_truncated ? h("li.note", null, `… and ${r.refused - r.errors.length} more`) : null);
    if (onImported && r.items) onImported(r);
  }

  const form = h("form.inline.jobform", { id: "import-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const chosen = file.files && file.files[0];
    if (!chosen) return;
    submit.disabled = true;
    replace(summary);
    replace(errors);
    const q = new URLSearchParams({ filename: chosen.name, format: fmt.value });
    try {
      const res = await upload(`/api/projects/${pid}/imports?${q}`, chosen, (s, t) => status.uploading(s, t));
      showResult(res.job);
      announceJob(res.job);
      watchJob(pid, res.job.id, panel, showResult);
    } catch (e) {
      submit.disabled = false;
      replace(summary, h("span.error", null, errorLines(e).join("; ")));
    }
  } }, file, h("label", null, "Format ", fmt), submit);
  replace(panel, h("h2", null, "Import"),
    h("p.note", null, "A zip of media files or of a dataset, a JSONL/CSV manifest, or one file."), form, status.el, summary, errors);
  return panel;
}

function optionInput(opt) {
  const id = `export-opt-${opt.name}`;
  let input;
  if (opt.type === "boolean") input = h("input", { type: "checkbox", id, checked: !!opt.default });
  else if (opt.choices) input = h("select", { id }, h("option", { value: "" }, opt.default === null ? "(default)" : `(default: ${opt.default})`), opt.choices.map((c) => h("option", { value: c }, c)));
  else input = h("input", { id, type: opt.type === "string" ? "text" : "number", placeholder: opt.default === null ? "" : String(opt.default), step: opt.type === "integer" ? 1 : "any" });
  input.dataset.option = opt.name;
  input.dataset.type = opt.type;
  if (opt.type === "boolean") input.dataset.default = String(!!opt.default);
  return h("label.option", null, opt.name, " ", input);
}

/** The values the user set (only those differing from the defaults). */
function optionValues(box) {
  const out = {};
  for (const el of box.querySelectorAll("[data-option]")) {
    const name = el.dataset.option;
    if (el.dataset.type === "boolean") {
      if (String(el.checked) !== el.dataset.default) out[name] = el.checked;
    } else if (el.value !== "") {
      out[name] = el.dataset.type === "string" ? el.value : Number(el.value);
    }
  }
  return out;
}

/** The export panel: a format, its options, the job's progress and the download link. */
export async function exportPanel(pid) {
  let f;
  try { f = await formats(); } catch (e) { return unavailable("export-panel", "Export", e); }
  const names = Object.keys(f.export);
  const fmt = h("select", { id: "export-format" }, names.map((n) => h("option", { value: n }, n)));
  const options = h("div.options", { id: "export-options" });
  const showOptions = () => replace(options, (f.export[fmt.value].options || []).map(optionInput));
  fmt.addEventListener("change", showOptions);
  showOptions();
  const status = jobStatus("export", pid);
  const result = h("p", { id: "export-result" });
  const submit = h("button.primary", { type: "submit", id: "export-submit" }, "Export");
  const panel = h("section.card.jobpanel", { id: "export-panel" });

  function showJob(job) {
    status.show(job);
    if (!FINAL.has(job.status)) return;
    submit.disabled = false;
    if (job.status !== "done") { replace(result, h("span.error", null, job.error || job.status)); return; }
    const r = job.result || {};
    replace(result, h("a.button", { id: "export-download", href: job.download, download: "" }, `Download ${r.format} zip`),
      " ", `${r.items} items${r.regions !== undefined ? `, ${r.regions} regions` : ""}${r.skipped ? `, ${r.skipped} skipped` : ""}`);
  }

  const form = h("form.jobform", { id: "export-form", onsubmit: async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    replace(result);
    try {
      const res = await api("POST", `/api/projects/${pid}/exports`, { format: fmt.value, options: optionValues(options) });
      showJob(res.job);
      announceJob(res.job);
      watchJob(pid, res.job.id, panel, showJob);
    } catch (e) {
      submit.disabled = false;
      replace(result, h("span.error", null, errorLines(e).join("; ")));
    }
  } }, h("label", null, "Format ", fmt), options, submit);
  replace(panel, h("h2", null, "Export"), form, status.el, result);
  return panel;
}
