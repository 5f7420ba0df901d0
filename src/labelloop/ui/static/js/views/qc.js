// The QC part of the dashboard: /api/projects/ID/qc drawn as SVG (confusion matrices, annotator
// accuracy, agreement per control, error distribution) plus the open findings with their correction
// tasks. Every chart is built with DOM calls; all text from users goes in as text nodes.
import { api, ApiError } from "../api.js";
import { colorFor, h, replace, svg, toast } from "../dom.js";

const CAN_RUN = new Set(["manager", "admin"]);
const CAN_READ = new Set(["reviewer", "manager", "admin"]);

function short(s, n = 22) {
  s = String(s);
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

/**
 * Horizontal bars of [label, value, caption] with a fixed maximum (1 for rates).
 * Each bar group carries data-label so tests and styles can find it.
 */
export function rateBars(rows, { max = 1, width = 520, percent = true } = {}) {
  const rowH = 24;
  const labelW = 170;
  const chart = svg("svg", { width, height: rows.length * rowH + 8, class: "chart", role: "img" });
  rows.forEach(([label, value, caption], i) => {
    const y = i * rowH + 4;
    const w = value === null ? 0 : ((width - labelW - 80) * Math.max(0, value)) / (max || 1);
    const text = value === null ? "n/a" : percent ? `${Math.round(value * 100)}%` : String(value);
    const g = svg("g", { class: "bar", "data-label": String(label) },
      svg("title", null, `${label}: ${caption || text}`),
      svg("text", { x: 0, y: y + 15, class: "chart-label" }, short(label)),
      svg("rect", { x: labelW, y, width: Math.max(value === null ? 0 : 1, w), height: rowH - 6, fill: colorFor(label), rx: 2 }),
      svg("text", { x: labelW + w + 6, y: y + 15, class: "chart-value" }, text));
    chart.appendChild(g);
  });
  return chart;
}

/** A confusion matrix as a heat map: rows are the reference, columns the human labels. */
export function confusionChart(name, c) {
  const labels = c.labels || [];
  const cell = 34;
  const left = 110;
  const top = 92;
  const max = Math.max(1, ...c.matrix.flat());
  const chart = svg("svg", {
    width: left + cell * labels.length + 10, height: top + cell * labels.length + 10,
    class: "chart confusion", role: "img", "data-control": name,
  });
  chart.appendChild(svg("title", null, `${name}: ${c.reference} (rows) against human labels (columns)`));
  labels.forEach((lab, j) => {
    const x = left + j * cell + cell / 2;
    chart.appendChild(svg("text", { x, y: top - 6, class: "col-label", transform: `rotate(-45 ${x} ${top - 6})` }, short(lab, 12)));
  });
  labels.forEach((ref, i) => {
    const y = top + i * cell;
    chart.appendChild(svg("text", { x: left - 6, y: y + cell / 2 + 4, class: "row-label", "text-anchor": "end" }, short(ref, 14)));
    labels.forEach((got, j) => {
      const n = c.matrix[i][j];
      const shade = Math.round(255 - (200 * n) / max);
      // the diagonal (agreement with the reference) in green, the rest in red; an empty cell white
      const fill = n === 0 ? "#fff" : i === j ? `rgb(${shade}, 230, ${shade})` : `rgb(255, ${shade}, ${shade})`;
      chart.appendChild(svg("g", { class: "cell", "data-ref": ref, "data-label": got, "data-count": n },
        svg("title", null, `${ref} → ${got}: ${n}`),
        svg("rect", { x: left + j * cell, y, width: cell - 2, height: cell - 2, fill, stroke: "#ccc" }),
        svg("text", { x: left + j * cell + cell / 2 - 1, y: y + cell / 2 + 4, "text-anchor": "middle" }, String(n))));
    });
  });
  return chart;
}

function agreementRows(agreement) {
  const rows = [];
  for (const [name, a] of Object.entries(agreement || {})) {
    if (a.percent) {
      const alpha = a.krippendorff_alpha && a.krippendorff_alpha.value;
      rows.push([name, a.percent.value, `${a.percent.value === null ? "n/a" : Math.round(a.percent.value * 100) + "%"} agree` +
        (alpha === null || alpha === undefined ? "" : `, α ${alpha.toFixed(2)}`) + ` over ${a.percent.n_items} items`]);
    } else if ("mean_pair_f1" in a) {
      rows.push([name, a.mean_pair_f1, a.reason || "mean matched F1 of annotator pairs"]);
    }
  }
  return rows;
}

function annotatorRows(annotators) {
  return Object.values(annotators || {}).map((a) => {
    const gold = a.overall_gold;
    const value = gold ?? a.overall_consensus ?? null;
    const basis = gold !== null && gold !== undefined ? `against gold (${a.gold_items} items)` : "against consensus";
    return [a.annotator, value, `${value === null ? "n/a" : Math.round(value * 100) + "%"} ${basis}`];
  });
}

function countRows(obj, limit = 12) {
  return Object.entries(obj || {}).slice(0, limit).map(([k, v]) => [k, v, `${v} open findings`]);
}

function findingsTable(pid, groups) {
  if (!groups.length) return h("p.note", { id: "qc-no-findings" }, "No open findings.");
  return h("table.list", { id: "qc-findings" },
    h("thead", null, h("tr", null, ["rule", "severity", "open", "correction tasks"].map((t) => h("th", null, t)))),
    h("tbody", null, groups.map((g) => h("tr", { dataset: { rule: g.rule } },
      h("td", null, g.rule), h("td", null, h("span", { class: "severity " + g.severity }, g.severity)),
      h("td.num", null, String(g.count)),
      h("td", null, g.tasks.map((t) => [h("a.task-link", {
        href: `/api/projects/${pid}/items/${t.item_id}`, title: t.message, target: "_blank", rel: "noopener",
        dataset: { task: t.task_id, item: t.item_id },
      }, `task ${t.task_id} (item ${t.item_id})`), " ",
      h("a.fix-link", { href: `#/p/${pid}/fix/${t.task_id}`, dataset: { task: t.task_id }, title: "fix or dismiss it" }, "fix"), " "]),
      g.count > g.tasks.length ? h("span.note", null, `and ${g.count - g.tasks.length} more`) : null)))));
}

function card(id, title, body) {
  return h("div.card", { id }, h("h2", null, title), body);
}

function render(pid, role, report, box) {
  const s = report.summary || {};
  const run = report.last_run;
  const runButton = CAN_RUN.has(role) ? h("button", { type: "button", id: "qc-run", onclick: async (ev) => {
    ev.target.disabled = true;
    try {
      const r = await api("POST", `/api/projects/${pid}/qc/runs`, { full: false });
      toast(`QC checked ${r.run.items_checked} items: ${r.run.findings_new} new findings`);
      render(pid, role, r.report, box);
    } catch (e) { toast(e.message, "error"); ev.target.disabled = false; }
  } }, run ? "Run QC again" : "Run QC now") : null;
  const status = run
    ? h("p.note", { id: "qc-last-run" }, `Last QC run #${run.id} (${run.mode}, ${run.status}) by ${run.created_by}, ${run.items_checked} items checked.`)
    : h("p.note", { id: "qc-last-run" }, CAN_RUN.has(role) ? "QC has not run on this project yet." : "QC has not run on this project yet; a manager can run it.");
  const confusion = Object.entries(report.confusion || {}).filter(([, c]) => c.n > 0);
  const dist = report.error_distribution || {};
  const agree = agreementRows(report.agreement);
  const annotators = annotatorRows(report.annotators);
  replace(box,
    h("h2", null, "Quality control"),
    status, runButton,
    h("dl.counts", { id: "qc-counts" },
      h("dt", null, "open findings"), h("dd", { id: "qc-open" }, String(s.open_findings ?? 0)),
      h("dt", null, "resolved"), h("dd", null, String(s.resolved_findings ?? 0)),
      h("dt", null, "gold items"), h("dd", null, String(s.gold_items ?? 0))),
    s.reason ? h("p.note", null, s.reason) : null,
    h("div.cards", null,
      card("qc-confusion", "Confusion matrices", confusion.length
        ? confusion.map(([name, c]) => h("figure", null, h("figcaption", null, `${name}: ${c.reference} (rows) × human (columns), accuracy ${Math.round(c.accuracy * 100)}%`), confusionChart(name, c)))
        : h("p.note", null, "No classification with a reference yet.")),
      card("qc-annotators", "Annotator accuracy", annotators.length ? rateBars(annotators) : h("p.note", null, "No annotators yet.")),
      card("qc-agreement", "Agreement per control", agree.length ? rateBars(agree) : h("p.note", null, "No control has labels yet.")),
      card("qc-errors", "Error distribution", dist.total
        ? [h("h3", null, "by rule"), rateBars(countRows(dist.by_rule), { max: Math.max(...Object.values(dist.by_rule)), percent: false }),
          h("h3", null, "by annotator or model"), rateBars(countRows(dist.by_annotator), { max: Math.max(...Object.values(dist.by_annotator)), percent: false })]
        : h("p.note", null, "No open findings."))),
    h("h3", null, "Open findings and correction tasks"),
    (report.open_tasks || []).length ? h("p", null, h("a.button.primary", { href: `#/p/${pid}/fix`, id: "qc-fix" }, "Work through the correction tasks")) : null,
    findingsTable(pid, report.open_tasks || []));
}

/** The QC section of the dashboard, or null for roles that may not read QC. */
export async function qcSection(pid, role) {
  if (!CAN_READ.has(role)) return null;
  let report;
  try { report = await api("GET", `/api/projects/${pid}/qc`); } catch (e) {
    if (e instanceof ApiError && e.status === 403) return null;
    throw e;
  }
  const box = h("section.qc", { id: "qc" });
  render(pid, role, report, box);
  return box;
}
