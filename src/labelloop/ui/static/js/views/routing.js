// #/p/ID/routing: the quality certificate for every role that may read it; for managers, forms
// that start a routing run and an active-learning round as jobs, their progress, then the result.
import { api, ApiError } from "../api.js";
import { h, replace, toast } from "../dom.js";
import { certificateCard, facts, tierTable } from "./certificate.js";
import { announceJob, errorLines, FINAL, jobStatus, watchJob } from "./jobs.js";

const CAN_RUN = new Set(["manager", "admin"]);
let samplersCache = null;

/** The samplers a learning round accepts, with what each picks (GET /api/samplers, once). */
async function samplers() {
  if (!samplersCache) samplersCache = (await api("GET", "/api/samplers")).samplers;
  return samplersCache;
}

function crumbs(pid, project) {
  return h("p.crumbs", null, h("a", { href: "#/projects" }, "Projects"), " / ",
    h("a", { href: `#/p/${pid}` }, project.name), " / ", h("a", { href: `#/p/${pid}/dashboard` }, "Dashboard"), " / ");
}

/** A labelled number input whose name is the API field. */
function numberField(prefix, name, label, value, attrs = {}) {
  const input = h("input", { id: `${prefix}-${name}`, name, type: "number", step: "any", value: String(value), ...attrs });
  return h("label.option", null, label, " ", input);
}

/** The policy fields both forms share (target, confidence, audit rate, manual cut, evidence). */
function policyFields(prefix) {
  return h("fieldset.policy", null, h("legend", null, "Policy"),
    numberField(prefix, "target", "Target accuracy", 0.98, { min: 0, max: 1 }),
    numberField(prefix, "confidence", "Confidence", 0.95, { min: 0, max: 1 }),
    numberField(prefix, "audit_rate", "Audit rate", 0.05, { min: 0, max: 1 }),
    numberField(prefix, "manual_below", "Manual below score", 0, { min: 0, max: 1 }),
    h("label.option", null, "Evidence ", h("select", { id: `${prefix}-evidence`, name: "evidence" },
      h("option", { value: "clean" }, "clean only"), h("option", { value: "all" }, "all (with pre-filled reviews)"))));
}

/** The body a form sends: its named fields, numbers as numbers, empty ones left to the server. */
function formBody(form) {
  const body = {};
  for (const el of form.querySelectorAll("input[name], select[name]")) {
    if (el.value === "") continue;
    body[el.name] = el.type === "number" ? Number(el.value) : el.value;
  }
  return body;
}

/** Show an API error under the form; mark and focus the fields its lines name. */
function showError(form, out, e) {
  const lines = errorLines(e);
  const prefix = e instanceof ApiError && e.status === 422 ? "Refused: " : "";
  replace(out, lines.map((l) => h("div", null, prefix + l)));
  out.hidden = false;
  let first = null;
  for (const line of lines) {
    const m = /^(?:body\.)?([a-z_]+)\b/.exec(line);
    const el = m && form.querySelector(`[name="${m[1]}"]`);
    if (el) { el.setAttribute("aria-invalid", "true"); first = first || el; }
  }
  if (first) first.focus();
}

function routeResult(r, id) {
  return h("div.result", { id },
    h("p", { class: "message" }, r.message || ""),
    tierTable(`${id}-tiers`, null, r.tiers),
    facts(`${id}-changes`, [["Run", `#${r.run_id}`], ["Backend", r.backend], ["Model version", h("code", null, r.model_version)],
      ["Newly auto-accepted", String(r.auto_new)], ["Kept", String(r.auto_kept)], ["Re-routed to people", String(r.rerouted)],
      ["New blind audits", String(r.audit_new)], ["Left with the person holding them", String(r.held)]]));
}

function learnResult(r) {
  return h("div.result", { id: "learn-round" },
    h("p", { class: "message" }, r.reason || ""),
    r.nothing_new ? h("p.note", null, "No label arrived since the last round: the model was not refitted.") : null,
    facts("learn-facts", [["Round", r.round_id === null ? "not recorded" : `#${r.round_id}`], ["Backend", r.backend],
      ["Model version", h("code", null, r.model_version)], ["Trained on", `${r.trained_on} labels`],
      ["Held out (audits)", String(r.held_out)], ["Predicted", String(r.predicted)], ["Failed", String(r.failed)],
      ["Batch size", `${(r.batch || []).length} items`], ["Queue slots promoted", String(r.promoted_slots)],
      ["Kappa with the previous round", typeof r.kappa === "number" ? r.kappa.toFixed(3) : "— (no previous round)"],
      ["Stop", r.stop ? "yes: learning looks done, no batch promoted" : "no"]]),
    r.route ? [h("h4", null, "Re-routing"), routeResult(r.route, "learn-route")] : null);
}

/** One form that starts a job, shows its progress, then its result (or why it failed). */
function jobForm(pid, { prefix, title, path, fields, submitLabel, render, onDone }) {
  const status = jobStatus(prefix, pid);
  const error = h("div.error", { id: `${prefix}-error`, role: "alert", hidden: true });
  const result = h("div", { id: `${prefix}-result`, "aria-live": "polite" });
  const submit = h("button.primary", { type: "submit", id: `${prefix}-submit` }, submitLabel);
  const panel = h("section.card.jobpanel", { id: `${prefix}-panel` });
  function show(job) {
    status.show(job);
    if (!FINAL.has(job.status)) return;
    submit.disabled = false;
    if (job.status === "done") { replace(result, render(job.result || {})); onDone().catch((e) => toast(e.message, "error")); }
    else { replace(error, h("div", null, `The ${job.kind} job ${job.status}: ${job.error || "no reason given"}`)); error.hidden = false; }
  }
  const form = h("form.jobform", { id: `${prefix}-form`, novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    error.hidden = true;
    replace(result);
    submit.disabled = true;
    try {
      const res = await api("POST", `/api/projects/${pid}/${path}`, formBody(form));
      show(res.job);
      announceJob(res.job);
      watchJob(pid, res.job.id, panel, show);
    } catch (e) {
      submit.disabled = false;
      showError(form, error, e);
    }
  } }, fields, policyFields(prefix), submit);
  replace(panel, h("h2", null, title), form, status.el, error, result);
  return panel;
}

export async function routingView(pid) {
  const [project, cert] = await Promise.all([api("GET", `/api/projects/${pid}`), api("GET", `/api/projects/${pid}/certificate`)]);
  const role = project.role || "viewer";
  const holder = h("div", { id: "certificate-holder" }, certificateCard(cert));
  const backends = h("datalist", { id: "backend-list" });
  const known = new Set();
  // the backends the certificate names are offered in both forms; the learning form starts on the latest
  function remember(c) {
    const names = [c.run && c.run.backend, ...((c.project && c.project.models) || []).map((m) => m.backend)].filter(Boolean);
    for (const b of names) if (!known.has(b)) { known.add(b); backends.append(h("option", { value: b })); }
    const learn = document.getElementById("learn-backend");
    if (learn && !learn.value && c.run && c.run.backend) learn.value = c.run.backend;
  }
  remember(cert);
  const reload = async () => {
    const c = await api("GET", `/api/projects/${pid}/certificate`);
    replace(holder, certificateCard(c));
    remember(c);
  };
  let forms = h("p.note", { id: "routing-readonly" }, `Your role (${role}) can read the certificate; managers start routing runs and learning rounds.`);
  if (CAN_RUN.has(role)) {
    const last = (cert.run && cert.run.backend) || "";
    const choices = await samplers();
    forms = h("div.cards", { id: "routing-forms" },
      jobForm(pid, { prefix: "route", title: "Routing run", path: "routing/runs", submitLabel: "Start routing run",
        fields: [h("p.note", null, "Routes every unlabelled item with a scored suggestion into auto / review / manual / audit."),
          h("label.option", null, "Backend ", h("input", { id: "route-backend", name: "backend", list: "backend-list", placeholder: "newest scored", autocomplete: "off" }))],
        render: (r) => routeResult(r, "route-run"), onDone: reload }),
      jobForm(pid, { prefix: "learn", title: "Active-learning round", path: "learning/rounds", submitLabel: "Start learning round",
        fields: [h("p.note", null, "Fits the backend on people's labels, predicts again, re-routes, and puts a batch first in the queue."),
          h("label.option", null, "Backend ", h("input", { id: "learn-backend", name: "backend", list: "backend-list", value: last, required: true, autocomplete: "off" })),
          numberField("learn", "batch", "Batch", 50, { min: 1, step: 1 }),
          h("label.option", null, "Sampler ", h("select", { id: "learn-sampler", name: "sampler" }, choices.map((c) => h("option", { value: c.name }, c.description))))],
        render: learnResult, onDone: reload }));
  }
  const el = h("section.routing", null, crumbs(pid, project), h("h1", null, "Routing & learning"),
    h("p.note", null, "Labels are auto-accepted only above a threshold certified on audited evidence (items people label blind)."),
    backends, forms, holder);
  return { el, name: "routing" };
}
