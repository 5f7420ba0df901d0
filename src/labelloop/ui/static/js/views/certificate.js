// The quality certificate of a project (GET /api/projects/ID/certificate) as tables: tiers,
// thresholds, audited accuracy with its Clopper-Pearson interval, models, evidence, caveats.
// Read-only: every role that may read it sees the same card. All text goes through dom.js.
import { h } from "../dom.js";

const TIERS = [
  ["auto", "accepted without a person (certified threshold)"],
  ["review", "a person reviews the pre-filled suggestion"],
  ["manual", "a person labels from scratch (no suggestion shown)"],
  ["audit", "a person labels blind: clean evidence for the next run"],
];
const EVIDENCE = {
  clean: "labelled without seeing the suggestion, not trained on",
  prefilled: "reviews of a pre-filled suggestion",
  in_sample: "labels the model was trained on (never evidence)",
  used: "evidence the certificate used",
};

/** A share as a percentage ("—" when unknown). */
export function pct(x, digits = 1) {
  return typeof x === "number" && Number.isFinite(x) ? `${(100 * x).toFixed(digits)}%` : "—";
}

/** A two-sided interval [lo, hi] as "lo – hi". */
function interval(ci) {
  return Array.isArray(ci) && ci.length === 2 ? `${pct(ci[0])} – ${pct(ci[1])}` : "—";
}

function threshold(t) {
  return typeof t === "number" ? t.toFixed(4) : "not certified";
}

function className(k) {
  return k === "*" ? "all classes" : k === "-" ? "(no single class)" : k;
}

/** A time as the reader's local time, the ISO form on hover. */
export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return h("time", { datetime: iso, title: iso }, Number.isNaN(d.getTime()) ? iso : d.toLocaleString());
}

/** A small table: column headers, then rows of cells (text or nodes). */
export function table(id, headers, rows, caption) {
  return h("table.list.compact", { id },
    caption ? h("caption", null, caption) : null,
    h("thead", null, h("tr", null, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", null, rows.map((cells) => h("tr", null, cells.map((c, i) =>
      i === 0 ? h("th", { scope: "row" }, c) : h(typeof c === "number" ? "td.num" : "td", null, c))))));
}

/** A definition list of [term, value] pairs (pairs with an undefined value are left out). */
export function facts(id, pairs) {
  return h("dl.facts", { id }, pairs.filter(([, v]) => v !== undefined).map(([k, v]) => [h("dt", null, k), h("dd", null, v)]));
}

/**
 * Items per tier: the project now and the latest run's model version, or (project null) one run's.
 */
export function tierTable(id, project, run) {
  if (project === null) {
    return table(id, ["Tier", "Items (this run)", "Meaning"], TIERS.map(([t, meaning]) => [t, (run || {})[t] ?? 0, h("span.note", null, meaning)]));
  }
  return table(id, ["Tier", "Items (project)", "Latest run", "Meaning"],
    TIERS.map(([t, meaning]) => [t, (project || {})[t] ?? 0, run ? run[t] ?? 0 : "—", h("span.note", null, meaning)]));
}

function unlockLine(run) {
  const goal = `${pct(run.target, 0)} accuracy at ${pct(run.confidence, 0)} confidence`;
  if (run.certified) {
    return h("p.ok", { id: "cert-unlock" }, `Auto-accept is certified at ${goal}.`);
  }
  return h("p.unlock", { id: "cert-unlock" }, h("b", null, `${run.needed} more`),
    ` clean audited items would unlock auto-accept at ${goal}`,
    ` (at least ${run.unlock_minimum} clean items, none wrong; audit items are labelled blind to supply them).`);
}

function accuracyLine(run) {
  const n = run.audited ?? 0;
  const head = n
    ? `${run.audited_correct} of ${n} audited items correct: ${pct(run.accuracy)}, `
      + `${pct(run.confidence, 0)} Clopper–Pearson interval ${interval(run.ci)}; `
      + `one-sided lower bound ${pct(run.lower)} against the target ${pct(run.target, 0)}.`
    : "No audited evidence yet: the accuracy is unknown (interval 0% – 100%).";
  return h("p", { id: "cert-accuracy" }, h("b", null, "Audited accuracy "), `(${run.basis || "evidence"}): `, head,
    " ", run.holds ? h("span.ok", null, "The claim holds.") : h("span.warn", null, "No claim holds yet."));
}

function classTable(run) {
  const per = Object.entries(run.per_class || {});
  if (!per.length) return h("p.note", { id: "cert-classes" }, "No per-class evidence yet.");
  return table("cert-classes", ["Class", "Threshold", "Auto-accepted", "Audited", "Correct", "Accuracy", "Interval", "Lower bound"],
    per.map(([k, c]) => [className(k), c.threshold === null && run.mode !== "per-class" ? "(overall)" : threshold(c.threshold),
      c.auto, c.audited, c.correct, pct(c.accuracy), interval(c.ci), pct(c.lower)]), "Evidence per predicted class");
}

function modelTable(models) {
  if (!models.length) return h("p.note", { id: "cert-models" }, "No model has auto-accepted labels.");
  return table("cert-models", ["Backend", "Model version", "Auto labels", "Thresholds", "Audited", "Accuracy", "Interval", "Lower bound", "Holds"],
    models.map((m) => [m.backend, h("code", null, m.model_version), m.auto,
      Object.entries(m.thresholds || {}).map(([k, t]) => `${className(k)}: ${threshold(t)}`).join(", ") || "—",
      m.audited ?? 0, pct(m.accuracy), interval(m.ci), pct(m.lower), m.holds ? "yes" : "no"]),
    "Models with auto-accepted labels");
}

/**
 * The certificate card.
 * @param {{project: object|null, run: object|null, message: string}} cert  the API's answer
 * @returns {HTMLElement}
 */
export function certificateCard(cert) {
  const card = h("section.card.certificate", { id: "certificate", "aria-live": "polite" }, h("h2", null, "Quality certificate"));
  const run = cert.run;
  const project = cert.project;
  if (!run || !project) {
    card.append(h("p.note", { id: "cert-none" }, cert.message || "This project was never routed."));
    return card;
  }
  const holds = project.holds === null || project.holds === undefined
    ? h("span.note", null, "no auto-accepted labels to certify")
    : project.holds ? h("span.ok", null, "every auto-accepting model's claim holds") : h("span.warn", null, "a model's claim does not hold");
  const policy = run.policy || {};
  card.append(
    h("p", { id: "cert-message" }, run.message || cert.message || ""),
    unlockLine(run),
    h("h3", null, "Tiers"), tierTable("cert-tiers", project.tiers, run.tiers),
    h("p", { id: "cert-summary" }, `${project.auto_labels ?? 0} auto-accepted labels in the project: `, holds, "."),
    h("h3", null, "Latest run"),
    facts("cert-run", [
      ["Run", `#${run.run_id}`], ["When", when(run.created_at)], ["Backend", run.backend],
      ["Model version", h("code", null, run.model_version)],
      ["Target", `${pct(policy.target ?? run.target, 1)} at ${pct(policy.confidence ?? run.confidence, 0)} confidence`],
      ["Audit rate", pct(policy.audit_rate)], ["Manual below", String(policy.manual_below ?? 0)],
      ["Evidence", policy.evidence === "all" ? "all (clean and pre-filled reviews)" : "clean only"],
      ["Thresholds", run.mode_reason || run.mode],
    ]),
    table("cert-thresholds", ["Class", "Threshold on the raw score"],
      Object.entries(run.thresholds || {}).map(([k, t]) => [className(k), threshold(t)]), "Certified thresholds"),
    accuracyLine(run),
    classTable(run),
    h("h3", null, "Models"), modelTable(project.models || []),
    h("h3", null, "Evidence"),
    facts("cert-evidence", Object.entries(run.evidence || {}).map(([k, v]) => [EVIDENCE[k] ? `${k.replace(/_/g, " ")} — ${EVIDENCE[k]}` : k, String(v)])),
    h("h3", null, "Caveats"),
    h("ul.caveats", { id: "cert-caveats" }, (run.caveats || []).map((c) => h("li", null, c))),
    h("p.note.method", null, run.method || ""));
  return card;
}
