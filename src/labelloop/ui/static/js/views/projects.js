import { api, user } from "../api.js";
import { h, replace } from "../dom.js";
import { errorLines } from "./jobs.js";

const EXAMPLE = `media:
  - {name: image, kind: image}
controls:
  - {name: objects, kind: boxes, target: image, labels: [car, person]}`;

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
      h("tbody", null, rows)) : h("p.note", { id: "projects" }, "No projects yet. ",
        user() && user().is_admin ? "Create one below (or with `labelloop project create`)." : "An admin creates them."),
    user() && user().is_admin ? newProjectForm() : null);
  return { el, name: "projects" };
}

/** New project (instance admins): a name and a label config in YAML or JSON, errors line by line. */
function newProjectForm() {
  const name = h("input", { id: "new-project-name", required: true, maxlength: 200, placeholder: "street scenes" });
  const config = h("textarea", { id: "new-project-config", rows: 8, cols: 70, required: true, spellcheck: "false", placeholder: EXAMPLE });
  const errors = h("ul.errors", { id: "new-project-errors" });
  const submit = h("button.primary", { type: "submit", id: "new-project-submit" }, "Create project");
  const form = h("form.newproject", { id: "new-project", onsubmit: async (ev) => {
    ev.preventDefault();
    replace(errors);
    submit.disabled = true;
    try {
      const p = await api("POST", "/api/projects", { name: name.value, label_config: config.value });
      location.hash = `#/p/${p.id}`;
    } catch (e) {
      replace(errors, errorLines(e).map((line) => h("li", null, line)));
    } finally {
      submit.disabled = false;
    }
  } },
  h("label", null, "Name ", name),
  h("label", null, "Label config (YAML or JSON)", config),
  h("p.hint", null, "Media fields (text, image, audio, pointcloud) and controls (classification, spans, boxes, polygons, …) on them."),
  errors, submit);
  return h("details.card", { id: "new-project-panel" }, h("summary", null, "New project"), form);
}

export function progressBar(counts) {
  if (!counts || !counts.items) return h("span.note", null, "—");
  const a = Math.round((100 * counts.annotated) / counts.items);
  const r = Math.round((100 * counts.reviewed) / counts.items);
  return h("span.bar", { title: `${a}% annotated, ${r}% reviewed` },
    h("span.bar-a", { style: { width: a + "%" } }), h("span.bar-r", { style: { width: r + "%" } }));
}
