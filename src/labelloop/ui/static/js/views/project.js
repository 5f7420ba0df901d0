import { api, ApiError } from "../api.js";
import { h, replace, toast } from "../dom.js";
import { exportPanel, importPanel } from "./jobs.js";
import { jobsPanel } from "./joblist.js";

const CAN_LABEL = new Set(["annotator", "reviewer", "manager", "admin"]);
const CAN_REVIEW = new Set(["reviewer", "manager", "admin"]);

/** A short, safe preview of an item's media. */
export function mediaPreview(item) {
  const parts = [];
  for (const [name, m] of Object.entries(item.media || {})) {
    let body;
    if (m.kind === "text") body = h("span.text", null, String(m.text ?? item.preview ?? item.text ?? "").slice(0, 160));
    else if (m.kind === "image") body = h("img.thumb", { src: `/api/media/${m.sha256}`, alt: name, loading: "lazy" });
    else if (m.kind === "audio") body = h("span", null, `audio ${m.meta && m.meta.duration_s ? m.meta.duration_s.toFixed(1) + " s" : ""}`);
    else body = h("span", null, `point cloud, ${m.meta && m.meta.points ? m.meta.points : "?"} points`);
    parts.push(h("span.media", null, h("span.field", null, name), " ", body));
  }
  return parts;
}

export async function projectView(pid) {
  const project = await api("GET", `/api/projects/${pid}`);
  let stats = null;
  try { stats = await api("GET", `/api/projects/${pid}/stats`); } catch { /* viewers may not see stats */ }
  const role = project.role || "viewer";
  const isManager = role === "manager" || role === "admin";

  const tbody = h("tbody");
  const more = h("button", { type: "button", id: "more-items" }, "Load more");
  let after = null;
  async function loadPage() {
    const q = after === null ? "limit=50" : `after=${after}&limit=50`;
    const page = await api("GET", `/api/projects/${pid}/items?${q}`);
    for (const it of page.items || []) {
      tbody.appendChild(h("tr", { dataset: { item: it.id } }, h("td.num", null, it.id), h("td", null, it.key || ""),
        h("td", null, h("span", { class: "status " + (it.status || "") }, it.status || "")), h("td", null, mediaPreview(it))));
    }
    after = page.next ?? page.next_after ?? null;
    more.hidden = after === null;
  }
  more.addEventListener("click", () => loadPage().catch((e) => toast(e.message, "error")));
  // after an import: list the items again from the start
  const refresh = h("button.link", { type: "button", id: "refresh-items", hidden: true, onclick: async () => {
    tbody.replaceChildren();
    after = null;
    refresh.hidden = true;
    await loadPage().catch((e) => toast(e.message, "error"));
  } }, "show new items");
  await loadPage();

  const actions = h("div.actions", null,
    CAN_LABEL.has(role) ? h("a.button.primary", { href: `#/p/${pid}/label`, id: "start-label" }, "Start labelling") : null,
    CAN_REVIEW.has(role) ? h("a.button", { href: `#/p/${pid}/review`, id: "start-review" }, "Start review") : null,
    CAN_REVIEW.has(role) ? h("a.button", { href: `#/p/${pid}/fix`, id: "start-fix" }, "Correction tasks") : null,
    h("a.button", { href: `#/p/${pid}/dashboard`, id: "open-dashboard" }, "Dashboard"),
    role !== "annotator" ? h("a.button", { href: `#/p/${pid}/releases`, id: "open-releases" }, "Releases") : null,
    role !== "annotator" ? h("a.button", { href: `#/p/${pid}/routing`, id: "open-routing" }, "Routing & learning") : null,
    role !== "annotator" ? h("a.button", { href: `#/p/${pid}/experiments`, id: "open-experiments" }, "Experiments") : null);

  const progress = stats && stats.progress ? h("dl.counts", { id: "progress" },
    Object.entries(stats.progress).filter(([, v]) => typeof v === "number").map(([k, v]) => [h("dt", null, k.replace(/_/g, " ")), h("dd", null, String(v))])) : null;

  const controls = h("ul.controls", null, (project.schema?.controls || []).map((c) =>
    h("li", null, h("b", null, c.name), ` (${c.kind}${c.target ? " → " + c.target : ""}): `, (c.labels || []).join(", "))));

  const el = h("section.project", null,
    h("p.crumbs", null, h("a", { href: "#/projects" }, "Projects"), " / "),
    h("h1", { id: "project-name" }, project.name),
    h("p.note", null, "Your role: ", h("b", null, role)),
    actions, progress,
    project.guidelines ? h("details.guidelines", null, h("summary", null, "Guidelines"), h("p", null, project.guidelines)) : null,
    h("h2", null, "Schema"), controls,
    isManager ? h("div.cards", { id: "data-panels" },
      await importPanel(pid, () => { refresh.hidden = false; }), await exportPanel(pid)) : null,
    isManager ? await jobsPanel(pid) : null,
    isManager ? await membersPanel(pid) : null,
    isManager ? await settingsPanel(pid) : null,
    h("h2", null, "Items ", refresh),
    h("table.list", { id: "items" }, h("thead", null, h("tr", null, ["id", "key", "status", "media"].map((t) => h("th", null, t)))), tbody),
    more);
  return { el, name: "project" };
}

async function membersPanel(pid) {
  const list = h("tbody");
  async function reload() {
    let data;
    try { data = await api("GET", `/api/projects/${pid}/members`); } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return;
      throw e;
    }
    replace(list, (data.members || []).map((m) => h("tr", null,
      h("td", null, m.username), h("td", null, m.role),
      h("td", null, h("button.link", { type: "button", onclick: async () => {
        try { await api("DELETE", `/api/projects/${pid}/members/${m.user_id ?? m.id}`); await reload(); } catch (e) { toast(e.message, "error"); }
      } }, "remove")))));
  }
  const name = h("input", { id: "member-name", placeholder: "user name" });
  const role = h("select", { id: "member-role" }, ["annotator", "reviewer", "manager", "viewer"].map((r) => h("option", { value: r }, r)));
  const form = h("form.inline", { onsubmit: async (ev) => {
    ev.preventDefault();
    try { await api("POST", `/api/projects/${pid}/members`, { username: name.value, role: role.value }); name.value = ""; await reload(); }
    catch (e) { toast(e.message, "error"); }
  } }, name, role, h("button", { type: "submit" }, "Add member"));
  await reload();
  return h("section.members", { id: "members" }, h("h2", null, "Members"), h("table.list", null, list), form);
}

async function settingsPanel(pid) {
  let current;
  try { current = await api("GET", `/api/projects/${pid}/settings`); } catch { return null; }
  const field = (name, label, attrs) => h("label", null, label, " ", h("input", { id: `setting-${name}`, name, type: "number", value: String(current[name] ?? ""), ...attrs }));
  const form = h("form.inline.settings", { id: "settings", onsubmit: async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const name of ["overlap", "gold_rate", "lock_seconds"]) {
      const v = form.querySelector(`[name=${name}]`).value;
      if (v !== "") body[name] = Number(v);
    }
    try { await api("PUT", `/api/projects/${pid}/settings`, body); toast("settings saved"); } catch (e) { toast(e.message, "error"); }
  } },
  field("overlap", "Annotators per item", { min: 1, max: 20, step: 1 }),
  field("gold_rate", "Gold rate", { min: 0, max: 1, step: 0.01 }),
  field("lock_seconds", "Task lock (s)", { min: 30, max: 86400, step: 1 }),
  h("button", { type: "submit" }, "Save settings"));
  return h("section", null, h("h2", null, "Assignment settings"), form);
}
