// Hash router: #/login, #/projects, #/p/ID, #/p/ID/dashboard, #/p/ID/label, #/p/ID/review, #/p/ID/releases,
// #/p/ID/fix (the next correction task), #/p/ID/fix/TASK, #/p/ID/routing (certificate, routing and
// learning), #/p/ID/experiments (A/B experiments), #/p/ID/experiments/EID (a readout), #/account
// (password, API tokens).
import { ApiError, loadSession, logout, onSessionLost, user } from "./api.js";
import { h, replace, toast } from "./dom.js";
import { loginView } from "./views/login.js";
import { projectsView } from "./views/projects.js";
import { projectView } from "./views/project.js";
import { dashboardView } from "./views/dashboard.js";
import { taskView } from "./views/task.js";
import { releasesView } from "./views/releases.js";
import { fixView } from "./views/fix.js";
import { routingView } from "./views/routing.js";
import { experimentsView, experimentView } from "./views/experiments.js";
import { accountView } from "./views/account.js";
import { reloginDialog } from "./views/relogin.js";

const routes = [
  [/^#\/login$/, () => loginView()],
  [/^#\/(projects)?$/, () => projectsView()],
  [/^#\/p\/(\d+)$/, (m) => projectView(+m[1])],
  [/^#\/p\/(\d+)\/dashboard$/, (m) => dashboardView(+m[1])],
  [/^#\/p\/(\d+)\/label$/, (m) => taskView(+m[1], "label")],
  [/^#\/p\/(\d+)\/review$/, (m) => taskView(+m[1], "review")],
  [/^#\/p\/(\d+)\/releases$/, (m) => releasesView(+m[1])],
  [/^#\/p\/(\d+)\/fix(?:\/(\d+))?$/, (m) => fixView(+m[1], m[2] ? +m[2] : null)],
  [/^#\/p\/(\d+)\/routing$/, (m) => routingView(+m[1])],
  [/^#\/p\/(\d+)\/experiments$/, (m) => experimentsView(+m[1])],
  [/^#\/p\/(\d+)\/experiments\/(\d+)$/, (m) => experimentView(+m[1], +m[2])],
  [/^#\/account$/, () => accountView()],
];

let cleanup = null;

function renderHeader() {
  const who = document.getElementById("who");
  const u = user();
  if (!who) return;
  if (!u) { replace(who); return; }
  replace(who, h("span.user", null, u.username), " ", h("a", { href: "#/account", id: "account-link" }, "Account"), " ",
    h("button.link", { type: "button", id: "logout", onclick: async () => { await logout(); location.hash = "#/login"; } }, "Log out"));
}

let generation = 0;

async function route() {
  const mine = ++generation;
  if (cleanup) { try { await cleanup(); } catch { /* leaving the view anyway */ } cleanup = null; }
  const hash = location.hash || "#/projects";
  const main = document.getElementById("main");
  if (hash !== "#/login" && !user()) {
    const u = await loadSession();
    if (!u) { sessionStorage.setItem("labelloop.returnTo", hash); location.hash = "#/login"; return; }
  }
  renderHeader();
  for (const [re, view] of routes) {
    const m = hash.match(re);
    if (!m) continue;
    try {
      const out = await view(m);
      if (mine !== generation) { if (out.cleanup) out.cleanup(); return; } // a newer navigation won
      replace(main, out.el);
      cleanup = out.cleanup || null;
      if (out.ready) out.ready();
      document.body.dataset.view = out.name || "";
      document.title = `${out.name || "labelloop"} · labelloop`;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) { location.hash = "#/login"; return; }
      replace(main, h("p.error", null, String(e.message || e)));
      toast(String(e.message || e), "error");
    }
    return;
  }
  replace(main, h("p.error", null, "Unknown page ", hash));
}

onSessionLost(reloginDialog);
window.addEventListener("hashchange", route);
// module scripts run after parsing, so the document is ready here
route();
