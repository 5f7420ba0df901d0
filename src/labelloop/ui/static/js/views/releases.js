// Dataset releases of a project: the list, a release's details, creating one (managers),
// the diff between two, and downloads of a signed export in any format.
import { api, ApiError } from "../api.js";
import { h, replace, toast } from "../dom.js";

const CAN_CREATE = new Set(["manager", "admin"]);
const CAN_LINEAGE = new Set(["reviewer", "manager", "admin"]);
const NAME_PATTERN = "[A-Za-z0-9][A-Za-z0-9._+\\-]{0,199}";

/** The URL of a release (or of one of its sub-resources). */
function releaseUrl(pid, name, rest = "") {
  return `/api/projects/${pid}/releases/${encodeURIComponent(name)}${rest}`;
}

/** A file-name part as the server writes them: anything but letters, digits and ._+- becomes "_". */
function fileSafe(part) {
  return String(part).replace(/[^A-Za-z0-9._+-]+/g, "_").replace(/^_+|_+$/g, "") || "_";
}

function when(iso) {
  const d = new Date(iso);
  return h("time", { datetime: iso, title: iso }, Number.isNaN(d.getTime()) ? iso : d.toLocaleString());
}

function shortHash(hex) {
  return h("code", { title: hex || "" }, hex ? hex.slice(0, 16) + "…" : "—");
}

function options(names, selected) {
  return names.map((n) => h("option", { value: n, selected: n === selected }, n));
}

export async function releasesView(pid) {
  const project = await api("GET", `/api/projects/${pid}`);
  const role = project.role || "viewer";
  const canCreate = CAN_CREATE.has(role);
  let listing;
  try {
    listing = await api("GET", `/api/projects/${pid}/releases`);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 403)) throw e;
    const el = h("section.releases", null, crumbs(pid, project), h("h1", null, "Releases"),
      h("p.note", { id: "releases-denied" }, `Your role (${role}) cannot see this project's releases.`));
    return { el, name: "releases" };
  }
  const formats = listing.formats || ["native"];

  const tbody = h("tbody");
  const details = h("div.card", { id: "release-details", hidden: true, tabindex: "-1" });
  const empty = h("p.note", { id: "no-releases" }, "No releases yet.");
  const table = h("table.list", { id: "releases" },
    h("thead", null, h("tr", null, ["Name", "As of", "Items", "Labelled", "Regions", "Parent", "Merkle root", "By"]
      .map((t) => h("th", { scope: "col" }, t)))), tbody);

  // compare two releases
  const diffFrom = h("select", { id: "diff-a", "aria-label": "older release" });
  const diffTo = h("select", { id: "diff-b", "aria-label": "newer release" });
  const diffOut = h("div", { id: "diff-result", "aria-live": "polite" });
  const diffForm = h("form.inline", { id: "diff-form", onsubmit: (ev) => { ev.preventDefault(); showDiff().catch(fail); } },
    h("label", null, "From ", diffFrom), h("label", null, "to ", diffTo), h("button", { type: "submit", id: "diff-submit" }, "Compare"));

  // export
  const exportRelease = h("select", { id: "export-release", "aria-label": "release to export" });
  const exportFormat = h("select", { id: "export-format", "aria-label": "export format" }, options(formats, "native"));
  const exportLink = h("a.button.primary", { id: "export-link", download: "" }, "Download zip");
  const lineageLink = CAN_LINEAGE.has(role) ? h("a.button", { id: "lineage-link", download: "" }, "Lineage (JSON lines)") : null;
  function updateLinks() {
    const name = exportRelease.value;
    exportLink.href = name ? releaseUrl(pid, name, `/export?format=${encodeURIComponent(exportFormat.value)}`) : "#";
    exportLink.setAttribute("aria-disabled", name ? "false" : "true");
    if (lineageLink) {
      lineageLink.href = name ? releaseUrl(pid, name, "/lineage") : "#";
      lineageLink.setAttribute("download", `${fileSafe(project.name)}-${fileSafe(name)}-lineage.jsonl`);
    }
  }
  exportRelease.addEventListener("change", updateLinks);
  exportFormat.addEventListener("change", updateLinks);
  const exportPanel = h("section", { id: "export" }, h("h2", null, "Download"),
    h("div.actions", null, h("label", null, "Release ", exportRelease), h("label", null, "Format ", exportFormat), exportLink, lineageLink),
    h("p.hint", null, "A signed folder as a zip: release.json (manifest and signature), the frozen labels and their hashes, lineage.jsonl and data/ in the chosen format."));

  function fail(e) { toast(String(e.message || e), "error"); }

  async function reload(select) {
    const data = await api("GET", `/api/projects/${pid}/releases`);
    const releases = data.releases || [];
    replace(tbody, releases.map((r) => h("tr", { dataset: { release: r.name } },
      h("td", null, h("button.link.release-name", { type: "button", onclick: () => showDetails(r.name).catch(fail) }, r.name)),
      h("td", null, when(r.as_of)),
      h("td.num", null, String(r.counts.items)),
      h("td.num", null, String(r.counts.labelled)),
      h("td.num", null, String(r.counts.regions)),
      h("td", null, r.parent || "—"),
      h("td", null, shortHash(r.merkle_root)),
      h("td", null, r.created_by))));
    table.hidden = releases.length === 0;
    empty.hidden = releases.length > 0;
    const names = releases.map((r) => r.name);
    const newest = select || names[names.length - 1];
    replace(exportRelease, options(names, newest));
    replace(diffFrom, options(names, names.length > 1 ? names[names.length - 2] : names[0]));
    replace(diffTo, options(names, newest));
    diffForm.hidden = names.length === 0;
    exportPanel.hidden = names.length === 0;
    if (parentSelect) {
      const keep = parentSelect.value;
      replace(parentSelect, h("option", { value: "" }, "newest release (default)"),
        h("option", { value: "-" }, "none: start a new lineage"), options(names, keep));
    }
    updateLinks();
  }

  async function showDetails(name) {
    const r = await api("GET", releaseUrl(pid, name));
    const sig = r.signature || {};
    const valid = sig.valid === true ? "valid" : sig.valid === false ? "INVALID" : "not checked (no key here)";
    replace(details,
      h("h2", null, "Release ", h("span", { id: "details-name" }, r.name)),
      h("dl.keys", null,
        h("dt", null, "as of"), h("dd", null, when(r.as_of)),
        h("dt", null, "created"), h("dd", null, when(r.created_at), " by ", r.created_by),
        h("dt", null, "items / labelled / regions"), h("dd", null, `${r.counts.items} / ${r.counts.labelled} / ${r.counts.regions}`),
        h("dt", null, "parent"), h("dd", null, r.parent ? [r.parent, " ", shortHash(r.parent_merkle_root)] : "—"),
        h("dt", null, "Merkle root"), h("dd", null, h("code", { id: "details-root" }, r.merkle_root || "—")),
        h("dt", null, "signature"), h("dd", { id: "details-signature", class: sig.valid === false ? "error" : "" }, `Ed25519, ${valid}`,
          sig.key_id ? [", key ", shortHash(sig.key_id)] : ""),
        h("dt", null, "quality certificate"), h("dd", null, r.quality ? h("code", null, JSON.stringify(r.quality)) : "—")),
      h("h3", null, "Regions per class"),
      Object.keys(r.classes || {}).length
        ? h("table.list", { id: "details-classes" }, h("tbody", null, Object.entries(r.classes).map(([c, n]) => h("tr", null, h("td", null, c), h("td.num", null, String(n))))))
        : h("p.note", null, "No regions."));
    details.hidden = false;
    details.focus();
  }

  async function showDiff() {
    const a = diffFrom.value;
    const b = diffTo.value;
    if (!a || !b) return;
    const d = await api("GET", releaseUrl(pid, a, `/diff/${encodeURIComponent(b)}?rows=100`));
    const classes = Object.entries(d.classes || {});
    replace(diffOut,
      h("h3", null, `${d.a} → ${d.b}`),
      h("dl.counts", { id: "diff-counts" }, ["added", "removed", "changed", "unchanged"].map((k) =>
        [h("dt", null, `items ${k}`), h("dd", { dataset: { change: k } }, String(d.items[k] ?? 0))])),
      classes.length ? h("table.list", { id: "diff-classes" },
        h("thead", null, h("tr", null, ["Class", "Added", "Removed", "Changed"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", null, classes.map(([c, n]) => h("tr", { dataset: { class: c } }, h("td", null, c),
          h("td.num", null, String(n.added)), h("td.num", null, String(n.removed)), h("td.num", null, String(n.changed))))))
        : h("p.note", null, "No label differs."),
      d.rows && d.rows.length ? h("details", null, h("summary", null, `Differing items (${d.rows.length}${d.truncated ? ", first ones" : ""})`),
        h("ul", { id: "diff-rows" }, d.rows.map((row) => h("li", null, `${row.change}: item ${row.item_id}`, row.key ? ` (${row.key})` : "")))) : null);
  }

  // create (managers)
  let parentSelect = null;
  let createPanel = null;
  if (canCreate) {
    const name = h("input", { id: "release-name", name: "name", required: true, pattern: NAME_PATTERN, maxlength: 200, placeholder: "v1", autocomplete: "off" });
    const asOf = h("input", { id: "release-as-of", name: "as_of", type: "datetime-local", step: 1 });
    parentSelect = h("select", { id: "release-parent", name: "parent" });
    const quality = h("textarea", { id: "release-quality", name: "quality", rows: 3, cols: 60, placeholder: '{"kappa": 0.8}' });
    const submit = h("button.primary", { type: "submit", id: "release-create" }, "Create release");
    const form = h("form", { id: "release-form", onsubmit: async (ev) => {
      ev.preventDefault();
      const body = { name: name.value.trim() };
      if (asOf.value) body.as_of = new Date(asOf.value).toISOString();
      if (parentSelect.value === "-") body.no_parent = true;
      else if (parentSelect.value) body.parent = parentSelect.value;
      if (quality.value.trim()) {
        try { body.quality = JSON.parse(quality.value); } catch { toast("quality certificate: expected a JSON object", "error"); quality.focus(); return; }
        if (!body.quality || typeof body.quality !== "object" || Array.isArray(body.quality)) { toast("quality certificate: expected a JSON object", "error"); quality.focus(); return; }
      }
      submit.disabled = true;
      try {
        const r = await api("POST", `/api/projects/${pid}/releases`, body);
        toast(`release ${r.name} created: ${r.counts.items} items, ${r.counts.labelled} labelled`);
        form.reset();
        await reload(r.name);
        await showDetails(r.name);
      } catch (e) { fail(e); } finally { submit.disabled = false; }
    } },
    h("div.actions", null,
      h("label", null, "Name ", name),
      h("label", null, "As of ", asOf),
      h("label", null, "Parent ", parentSelect),
      submit),
    h("details", null, h("summary", null, "Quality certificate (optional JSON, signed with the release)"), quality),
    h("p.hint", null, "Letters, digits and . _ + - ; the release freezes every item's current label and is signed."));
    createPanel = h("section", { id: "create-release" }, h("h2", null, "New release"), form);
  }

  await reload();
  const el = h("section.releases", null,
    crumbs(pid, project),
    h("h1", null, "Releases"),
    h("p.note", null, "Your role: ", h("b", null, role), canCreate ? "" : " (only managers create releases and download exports)"),
    createPanel,
    h("h2", null, "All releases"), empty, table, details,
    h("section", { id: "compare" }, h("h2", null, "Compare two releases"), diffForm, diffOut),
    canCreate ? exportPanel : (lineageLink ? h("section", { id: "lineage" }, h("h2", null, "Lineage"),
      h("div.actions", null, h("label", null, "Release ", exportRelease), lineageLink)) : null));
  return { el, name: "releases" };
}

function crumbs(pid, project) {
  return h("p.crumbs", null, h("a", { href: "#/projects" }, "Projects"), " / ", h("a", { href: `#/p/${pid}` }, project.name), " / ");
}
