// The jobs of a project (managers): kind, status, progress, who, when; cancel for live ones and
// the download of a finished export. Polls while a job is live; refreshes when a panel starts one.
import { api } from "../api.js";
import { h, replace, toast } from "../dom.js";
import { errorLines, FINAL } from "./jobs.js";
import { when } from "./certificate.js";

const POLL_MS = 1000;
const PAGE = 20;

function who(actor) {
  return String(actor || "").replace(/^user:/, "");
}

function progressCell(job) {
  const p = job.progress || {};
  const total = p.total || 0;
  const done = job.status === "done" ? Math.max(total, 1) : Math.min(p.done || 0, Math.max(total, 1));
  return [h("progress", { max: Math.max(total, 1), value: done, "aria-label": `job ${job.id} progress` }), " ",
    h("span.note", null, total ? `${p.done} / ${total}` : "", p.message ? `${total ? " · " : ""}${p.message}` : "")];
}

/**
 * The jobs panel.
 * @param {number} pid
 * @returns {Promise<HTMLElement>}
 */
export async function jobsPanel(pid) {
  const tbody = h("tbody");
  const empty = h("p.note", { id: "jobs-empty", hidden: true }, "No jobs yet.");
  const more = h("button", { type: "button", id: "jobs-more", hidden: true }, "Older jobs");
  const panel = h("section.card", { id: "jobs-panel" });
  const born = Date.now();
  let seen = false;
  let pages = 1;
  let timer = 0;

  // the panel is built before the page shows it: live until it has been shown and then left
  function alive() {
    if (panel.isConnected) { seen = true; return true; }
    return !seen && Date.now() - born < 30_000;
  }

  async function cancel(job, button) {
    button.disabled = true;
    try { await api("POST", `/api/projects/${pid}/jobs/${job.id}/cancel`); toast(`job ${job.id}: cancel requested`); }
    catch (e) { toast(errorLines(e).join("; "), "error"); }
    await reload();
  }

  function row(job) {
    const live = !FINAL.has(job.status);
    let action = null;
    if (live && job.cancel_requested) action = h("span.note", null, "cancelling…");
    else if (live) {
      const b = h("button.link.job-cancel", { type: "button", "aria-label": `cancel job ${job.id}` }, "Cancel");
      b.addEventListener("click", () => cancel(job, b));
      action = b;
    } else if (job.download) action = h("a.job-download", { href: job.download, download: "" }, "Download");
    else if (job.error) action = h("span.error", null, job.error);
    else if (job.kind === "route" || job.kind === "learn") action = h("a", { href: `#/p/${pid}/routing` }, "Certificate");
    return h("tr", { dataset: { job: job.id, status: job.status } },
      h("td.num", null, job.id), h("td", null, job.kind), h("td", null, h("span.jobstate", null, job.status)),
      h("td", null, progressCell(job)), h("td", null, who(job.actor)),
      h("td", null, when(job.created_at)), h("td", null, when(job.finished_at)), h("td", null, action));
  }

  async function reload() {
    clearTimeout(timer);
    let jobs = [];
    let next = null;
    let before = null;
    for (let i = 0; i < pages; i++) {
      const q = new URLSearchParams({ limit: String(PAGE) });
      if (before !== null) q.set("before", String(before));
      const page = await api("GET", `/api/projects/${pid}/jobs?${q}`);
      jobs = jobs.concat(page.jobs || []);
      next = before = page.next;
      if (next === null) break;
    }
    replace(tbody, jobs.map(row));
    empty.hidden = jobs.length > 0;
    more.hidden = next === null;
    if (jobs.some((j) => !FINAL.has(j.status))) timer = setTimeout(tick, POLL_MS);
  }

  function tick() {
    if (!alive()) return;
    reload().catch((e) => toast(errorLines(e).join("; "), "error"));
  }

  function onJob() {
    if (!alive()) { document.removeEventListener("labelloop:job", onJob); return; }
    tick();
  }
  document.addEventListener("labelloop:job", onJob);
  more.addEventListener("click", () => { pages += 1; tick(); });
  const refresh = h("button.link", { type: "button", id: "jobs-refresh" }, "Refresh");
  refresh.addEventListener("click", tick);
  let failure = null;
  try { await reload(); } catch (e) { failure = h("p.error", null, errorLines(e).join("; ")); }
  replace(panel, h("h2", null, "Jobs ", refresh), failure,
    h("table.list.compact", { id: "jobs" },
      h("thead", null, h("tr", null, ["ID", "Kind", "Status", "Progress", "By", "Created", "Finished", ""].map((t) => h("th", { scope: "col" }, t)))),
      tbody),
    empty, more);
  return panel;
}
