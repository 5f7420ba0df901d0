import { api } from "../api.js";
import { h } from "../dom.js";

export async function projectsView() {
  const data = await api("GET", "/api/projects");
  const rows = (data.projects || []).map((p) => h("tr", null,
    h("td", null, h("a", { href: `#/p/${p.id}`, class: "project-link" }, p.name)),
    h("td", null, (p.media || []).join(", ")),
    h("td", null, p.role || ""),
    h("td.num", null, p.counts ? p.counts.items : ""),
    h("td.num", null, p.counts ? p.counts.annotated : ""),
    h("td.num", null, p.counts ? p.counts.reviewed : ""),
    h("td", null, progressBar(p.counts))));
  const el = h("section", null, h("h1", null, "Projects"),
    rows.length ? h("table.list", { id: "projects" },
      h("thead", null, h("tr", null, ["Name", "Media", "Role", "Items", "Annotated", "Reviewed", "Progress"].map((t) => h("th", null, t)))),
      h("tbody", null, rows)) : h("p.note", null, "No projects yet. Create one with `labelloop project create`."));
  return { el, name: "projects" };
}

export function progressBar(counts) {
  if (!counts || !counts.items) return h("span.note", null, "—");
  const a = Math.round((100 * counts.annotated) / counts.items);
  const r = Math.round((100 * counts.reviewed) / counts.items);
  return h("span.bar", { title: `${a}% annotated, ${r}% reviewed` },
    h("span.bar-a", { style: { width: a + "%" } }), h("span.bar-r", { style: { width: r + "%" } }));
}
