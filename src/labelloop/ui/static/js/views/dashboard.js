// Progress, tiers and per-annotator counts from /stats, drawn as SVG bar charts; then the QC section.
import { api } from "../api.js";
import { colorFor, h, svg } from "../dom.js";
import { qcSection } from "./qc.js";

/** Horizontal bar chart: rows of [label, value]. */
export function barChart(rows, { width = 520, unit = "" } = {}) {
  const max = Math.max(1, ...rows.map((r) => r[1]));
  const rowH = 24;
  const labelW = 150;
  const chart = svg("svg", { width, height: rows.length * rowH + 8, class: "chart", role: "img" });
  rows.forEach(([label, value], i) => {
    const y = i * rowH + 4;
    const w = ((width - labelW - 60) * value) / max;
    chart.appendChild(svg("text", { x: 0, y: y + 15, class: "chart-label" }, String(label)));
    chart.appendChild(svg("rect", { x: labelW, y, width: Math.max(1, w), height: rowH - 6, fill: colorFor(label), rx: 2 }));
    chart.appendChild(svg("text", { x: labelW + w + 6, y: y + 15, class: "chart-value" }, `${value}${unit}`));
  });
  return chart;
}

function numbers(obj) {
  return Object.entries(obj || {}).filter(([, v]) => typeof v === "number");
}

export async function dashboardView(pid) {
  const [project, stats] = await Promise.all([api("GET", `/api/projects/${pid}`), api("GET", `/api/projects/${pid}/stats`)]);
  const annotators = (stats.annotators || []).map((a) => [a.username ?? a.annotator ?? a.id, a.annotations ?? a.count ?? a.submitted ?? 0]);
  const skills = (stats.annotators || []).filter((a) => typeof a.skill === "number").map((a) => [a.username ?? a.id, Math.round(a.skill * 100)]);
  const tiers = numbers(stats.tiers);
  const p = stats.progress || {};
  const done = (x) => (p.items ? `${Math.round((100 * (x || 0)) / p.items)}%` : "—");
  const el = h("section.dashboard", null,
    h("p.crumbs", null, h("a", { href: "#/projects" }, "Projects"), " / ", h("a", { href: `#/p/${pid}` }, project.name), " / "),
    h("h1", null, "Dashboard"),
    h("div.actions", null, h("a.button", { href: `#/p/${pid}/routing`, id: "open-routing" }, "Routing & learning")),
    h("dl.counts", { id: "completion" },
      h("dt", null, "items"), h("dd", null, String(p.items ?? 0)),
      h("dt", null, "done"), h("dd", null, done(p.done ?? p.annotations)),
      h("dt", null, "reviewed"), h("dd", null, done(p.reviews)),
      h("dt", null, "locked now"), h("dd", null, String(p.locked ?? 0))),
    h("div.cards", null,
      h("div.card", { id: "chart-progress" }, h("h2", null, "Progress"), barChart(numbers(stats.progress))),
      h("div.card", { id: "chart-annotators" }, h("h2", null, "Annotations per annotator"),
        annotators.length ? barChart(annotators) : h("p.note", null, "No annotations yet.")),
      skills.length ? h("div.card", { id: "chart-skill" }, h("h2", null, "Estimated skill (gold and review)"), barChart(skills, { unit: "%" })) : null,
      tiers.length ? h("div.card", { id: "chart-tiers" }, h("h2", null, "Tiers"), barChart(tiers)) : null,
      stats.qc ? h("div.card", { id: "chart-qc" }, h("h2", null, "Quality"), barChart(numbers(stats.qc))) : null),
    await qcSection(pid, project.role || "viewer"));
  return { el, name: "dashboard" };
}
