// #/p/ID/experiments: the project's A/B experiments (viewers, reviewers, managers); managers start
// one (two arms of one kind, a seeded random split). #/p/ID/experiments/EID: the readout — per arm
// accuracy against its stated reference, seconds per task and agreement with their intervals, the
// tests between the arms, the auto-accept side of threshold arms — and, for managers, Stop.
// Figures the server cannot estimate arrive as null beside a reason: the reason is shown.
import { api, ApiError } from "../api.js";
import { h, replace, toast } from "../dom.js";
import { facts, pct, table, when } from "./certificate.js";
import { errorLines } from "./jobs.js";

const CAN_MANAGE = new Set(["manager", "admin"]);
// the arm settings the server takes (api/routes/experiments.py): one kind per experiment here
const KINDS = [
  ["prefill", "Pre-fill suggestions (on / off)"],
  ["backend", "Backend (name or name@version)"],
  ["guideline", "Guideline text"],
  ["accept_threshold", "Auto-accept threshold floor (0–1]"],
];

function crumbs(pid, project, tail) {
  return h("p.crumbs", null, h("a", { href: "#/projects" }, "Projects"), " / ",
    h("a", { href: `#/p/${pid}` }, project.name), " / ",
    tail ? [h("a", { href: `#/p/${pid}/experiments` }, "Experiments"), " / "] : null);
}

/** An arm's value input for a kind (a select for pre-fill, a number for thresholds, else text). */
function armInput(kind, arm) {
  const id = `exp-${arm}`;
  if (kind === "prefill") {
    return h("select", { id, name: arm }, h("option", { value: arm === "a" ? "on" : "off" }, arm === "a" ? "on" : "off"),
      h("option", { value: arm === "a" ? "off" : "on" }, arm === "a" ? "off" : "on"));
  }
  if (kind === "accept_threshold") {
    return h("input", { id, name: arm, type: "number", step: "any", min: 0, max: 1, required: true, value: arm === "a" ? "0.9" : "0.95" });
  }
  return h("input", { id, name: arm, type: "text", required: true, autocomplete: "off", maxlength: 10000 });
}

function armValue(kind, el) {
  if (kind === "accept_threshold") return el.value === "" ? el.value : Number(el.value);
  return el.value;
}

function createForm(pid) {
  const error = h("div.error", { id: "exp-error", role: "alert", hidden: true });
  const kind = h("select", { id: "exp-kind", name: "kind" }, KINDS.map(([v, t]) => h("option", { value: v }, t)));
  const arms = h("div.arms", { id: "exp-arms" });
  function drawArms() {
    replace(arms, h("label.option", null, "Arm A ", armInput(kind.value, "a")), " ",
      h("label.option", null, "Arm B ", armInput(kind.value, "b")));
  }
  kind.addEventListener("change", drawArms);
  drawArms();
  const submit = h("button.primary", { type: "submit", id: "exp-submit" }, "Start experiment");
  const form = h("form.jobform", { id: "exp-form", novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    const k = kind.value;
    const body = {
      name: form.querySelector("#exp-name").value.trim(),
      a: { [k]: armValue(k, form.querySelector("#exp-a")) },
      b: { [k]: armValue(k, form.querySelector("#exp-b")) },
      scope: form.querySelector("#exp-scope").value,
    };
    const seed = form.querySelector("#exp-seed").value;
    if (seed !== "") body.seed = Number(seed);
    submit.disabled = true;
    try {
      const res = await api("POST", `/api/projects/${pid}/experiments`, body);
      toast(`Experiment ${res.experiment.name} started`);
      location.hash = `#/p/${pid}/experiments/${res.experiment.id}`;
    } catch (e) {
      const prefix = e instanceof ApiError && (e.status === 422 || e.status === 409) ? "Refused: " : "";
      replace(error, errorLines(e).map((l) => h("div", null, prefix + l)));
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  } },
  h("label.option", null, "Name ", h("input", { id: "exp-name", name: "name", required: true, maxlength: 100, autocomplete: "off" })),
  h("label.option", null, "What differs ", kind), arms,
  h("label.option", null, "Items ", h("select", { id: "exp-scope", name: "scope" },
    h("option", { value: "all" }, "all items"), h("option", { value: "unlabelled" }, "items with no label yet"))),
  h("label.option", null, "Seed ", h("input", { id: "exp-seed", name: "seed", type: "number", min: 0, step: 1, placeholder: "random" })),
  submit);
  return h("section.card", { id: "exp-create" }, h("h2", null, "Start an experiment"),
    h("p.note", null, "The items are split at random into two arms; each person's next task applies its item's arm."),
    form, error);
}

export async function experimentsView(pid) {
  const [project, list] = await Promise.all([api("GET", `/api/projects/${pid}`), api("GET", `/api/projects/${pid}/experiments`)]);
  const role = project.role || "viewer";
  const rows = (list.experiments || []).map((e) => [
    h("a", { href: `#/p/${pid}/experiments/${e.id}`, class: "exp-link" }, e.name),
    e.status, e.described.a, e.described.b, `${e.items.a} / ${e.items.b}`, when(e.created_at)]);
  const listing = rows.length
    ? table("exp-list", ["Experiment", "Status", "Arm A", "Arm B", "Items (A / B)", "Started"], rows)
    : h("p.note", { id: "exp-none" }, "No experiment yet.");
  const el = h("section.experiments", null, crumbs(pid, project, false), h("h1", null, "Experiments"),
    h("p.note", null, "Compare two labelling strategies on randomly split items: accuracy, time and agreement per arm."),
    listing, CAN_MANAGE.has(role) ? createForm(pid) : h("p.note", { id: "exp-readonly" }, `Your role (${role}) can read experiments; managers start and stop them.`));
  return { el, name: "experiments" };
}

/** "value [lo – hi] (n)" of an estimate, or its reason when the server could not estimate it. */
function estimate(e, fmt = pct) {
  if (!e) return "—";
  if (e.value === null) return h("span.reason", null, `— (${e.reason || "no data"})`);
  const ci = Array.isArray(e.ci) && e.ci[0] !== null ? ` [${fmt(e.ci[0])} – ${fmt(e.ci[1])}]` : "";
  return `${fmt(e.value)}${ci} (n=${e.n})`;
}

const seconds = (x) => (typeof x === "number" ? `${x.toFixed(1)} s` : "—");
const pvalue = (p) => (typeof p === "number" ? (p < 0.001 ? p.toExponential(1) : p.toFixed(3)) : "—");

function references(ref) {
  return Object.entries(ref || {}).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
}

function testRow(label, t, fmt) {
  const verdict = t.significant === null ? h("span.reason", null, t.reason || "not testable") : t.significant ? "yes" : "no";
  const diff = typeof t.diff === "number" ? fmt(t.diff) : "—";
  return [label, diff, pvalue(t.fisher_p ?? t.welch_p), verdict];
}

export async function experimentView(pid, eid) {
  const [project, r] = await Promise.all([api("GET", `/api/projects/${pid}`), api("GET", `/api/projects/${pid}/experiments/${eid}`)]);
  const role = project.role || "viewer";
  const e = r.experiment;
  const arms = ["a", "b"].map((name) => {
    const a = r.arms[name];
    return [`Arm ${name.toUpperCase()}`, a.strategy, `${a.items_done} of ${a.items}`, String(a.tasks),
      estimate(a.accuracy), references(a.accuracy.reference), estimate(a.seconds, seconds), estimate(a.agreement)];
  });
  const tests = [
    testRow("Accuracy (B − A)", r.tests.accuracy, pct),
    testRow("Seconds per task (B − A)", r.tests.seconds, seconds),
    testRow("Agreement (B − A)", r.tests.agreement, pct),
  ];
  let auto = null;
  if (r.auto_accept) {
    tests.push(testRow("Auto-accepted share (B − A)", r.tests.auto_share, pct), testRow("Audited accuracy of auto labels (B − A)", r.tests.auto_accuracy, pct));
    const rows = ["a", "b"].map((name) => {
      const x = r.arms[name].auto_accept || {};
      return [`Arm ${name.toUpperCase()}`, estimate(x.share), estimate(x.audited_accuracy)];
    });
    const models = Object.entries(r.auto_accept.by_model || {});
    auto = h("section.card", { id: "exp-auto" }, h("h2", null, "Auto-accept"), h("p.note", null, r.auto_accept.rule),
      table("exp-auto-table", ["Arm", "Auto-accepted share", "Audited accuracy"], rows),
      models.length > 1 ? table("exp-auto-models", ["Model (latest run)", "Run", "Share A", "Share B", "p-value"],
        models.map(([m, x]) => [m, `#${x.run_id}`, estimate(x.a), estimate(x.b), pvalue(x.test.fisher_p)])) : null,
      (r.auto_accept.notes || []).map((n) => h("p.note", null, n)));
  }
  const stopOut = h("div.error", { id: "exp-stop-error", role: "alert", hidden: true });
  const stop = CAN_MANAGE.has(role) && e.status === "running" ? h("button", { type: "button", id: "exp-stop", onclick: async () => {
    if (!confirm(`Stop ${e.name}? Its arms no longer apply to new tasks; the readout stays.`)) return;
    try {
      await api("POST", `/api/projects/${pid}/experiments/${eid}/stop`);
      toast(`Experiment ${e.name} stopped`);
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (err) {
      replace(stopOut, errorLines(err).map((l) => h("div", null, l)));
      stopOut.hidden = false;
    }
  } }, "Stop experiment") : null;
  const el = h("section.experiment", null, crumbs(pid, project, true), h("h1", { id: "exp-title" }, e.name),
    facts("exp-facts", [["Status", h("span", { id: "exp-status" }, e.status)], ["Seed", String(e.seed)], ["Items", e.scope],
      ["Started", when(e.created_at)], ["Stopped", e.stopped_at ? when(e.stopped_at) : undefined],
      ["Confidence", pct(r.confidence, 0)]]),
    stop, stopOut,
    table("exp-arms", ["Arm", "Strategy", "Items done", "Tasks", "Accuracy [interval]", "Judged against", "Seconds per task", "Agreement"], arms),
    h("p.note", { id: "exp-reference" }, "Accuracy: ", r.reference_rule, "."),
    h("p.note", null, "Unit: ", r.unit, "."),
    table("exp-tests", ["Difference", "B − A", "p-value", "Significant"], tests),
    auto);
  return { el, name: "experiment" };
}
