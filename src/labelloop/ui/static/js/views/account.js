// #/account: change one's own password; list, create and revoke API tokens (a new token's
// secret is shown once). All text goes through dom.js.
import { api, ApiError, user } from "../api.js";
import { h, replace, toast } from "../dom.js";
import { errorLines } from "./jobs.js";
import { when } from "./certificate.js";

/** What a refused password change means, in words. */
export function passwordProblem(e) {
  if (!(e instanceof ApiError)) return String(e && e.message ? e.message : e);
  if (e.status === 403) return "The current password is wrong.";
  if (e.status === 429) {
    const wait = e.retryAfter ? ` Try again in ${e.retryAfter} s.` : " Wait a minute.";
    return `Too many wrong attempts.${wait}`;
  }
  if (e.status === 422) return `The new password was refused: ${errorLines(e).join("; ")}`;
  return errorLines(e).join("; ");
}

function passwordPanel(onChanged) {
  const field = (id, label, autocomplete) => {
    const input = h("input", { id, name: id, type: "password", autocomplete, required: true, "aria-describedby": "password-message" });
    return [input, h("label", { for: id }, label)];
  };
  const [current, currentLabel] = field("current-password", "Current password", "current-password");
  const [fresh, freshLabel] = field("new-password", "New password", "new-password");
  const [again, againLabel] = field("confirm-password", "New password again", "new-password");
  const message = h("p", { id: "password-message", role: "status" });
  let answers = 0;
  const say = (text, kind) => { message.textContent = text; message.className = kind; };
  // an answer (or a refusal before asking) counts, so the same message twice is still news
  const answer = (text, kind) => { say(text, kind); message.dataset.answers = String(++answers); };
  const submit = h("button.primary", { type: "submit", id: "password-submit" }, "Change password");
  const form = h("form.stack", { id: "password-form", onsubmit: async (ev) => {
    ev.preventDefault();
    for (const el of [current, fresh, again]) el.removeAttribute("aria-invalid");
    if (fresh.value !== again.value) {
      answer("The two new passwords differ.", "error");
      again.setAttribute("aria-invalid", "true");
      again.focus();
      return;
    }
    submit.disabled = true;
    say("Changing…", "note");
    try {
      await api("POST", "/api/auth/password", { current_password: current.value, new_password: fresh.value });
      form.reset();
      answer("Password changed. Your other sessions were logged out and your API tokens revoked.", "ok");
      onChanged();
    } catch (e) {
      answer(passwordProblem(e), "error");
      const bad = e instanceof ApiError && e.status === 422 ? fresh : current;
      if (e instanceof ApiError && (e.status === 403 || e.status === 422)) { bad.setAttribute("aria-invalid", "true"); bad.focus(); }
    } finally {
      submit.disabled = false;
    }
  } },
  currentLabel, current, freshLabel, fresh, againLabel, again,
  h("p.hint", null, "At least 10 characters. Changing it logs out your other sessions and revokes all your API tokens."),
  submit, message);
  return h("section.card", { id: "password-panel" }, h("h2", null, "Password"), form);
}

function tokensPanel() {
  const tbody = h("tbody");
  const empty = h("p.note", { id: "tokens-empty", hidden: true }, "No API tokens.");
  const secretBox = h("div.secret", { id: "token-secret-box", hidden: true, role: "status" });
  const name = h("input", { id: "token-name", name: "name", maxlength: 200, placeholder: "what it is for", autocomplete: "off" });

  async function revoke(token, button) {
    // two steps: the first press asks, a second within a few seconds revokes
    if (button.dataset.armed !== "1") {
      button.dataset.armed = "1";
      button.textContent = "Press again to revoke";
      setTimeout(() => { if (button.isConnected) { button.dataset.armed = ""; button.textContent = "Revoke"; } }, 5000);
      return;
    }
    button.disabled = true;
    try { await api("DELETE", `/api/tokens/${token.id}`); toast(`token ${token.name} revoked`); }
    catch (e) { toast(errorLines(e).join("; "), "error"); }
    await reload();
  }

  async function reload() {
    const { tokens } = await api("GET", "/api/tokens");
    replace(tbody, tokens.map((t) => {
      let action = h("span.note", null, "—");
      if (!t.revoked) {
        action = h("button.link.token-revoke", { type: "button", "aria-label": `revoke token ${t.name}` }, "Revoke");
        action.addEventListener("click", () => revoke(t, action));
      }
      return h("tr", { dataset: { token: t.id, revoked: t.revoked ? "1" : "0" } },
        h("td", null, t.name), h("td", null, when(t.created_at)),
        h("td", null, t.revoked ? h("span.note", null, "revoked") : h("span.ok", null, "active")), h("td", null, action));
    }));
    empty.hidden = tokens.length > 0;
  }

  function showSecret(token) {
    const field = h("input.secret-value", { id: "token-secret", type: "text", readonly: true, value: token, "aria-label": "the new token", spellcheck: "false" });
    field.addEventListener("focus", () => field.select());
    const hint = h("span.note", { id: "token-copy-hint" });
    const copy = h("button", { type: "button", id: "token-copy" }, "Copy");
    copy.addEventListener("click", async () => {
      field.focus();
      try { await navigator.clipboard.writeText(token); hint.textContent = "Copied."; }
      catch { hint.textContent = "Selected: press Ctrl+C (⌘C) to copy."; }
    });
    const done = h("button.link", { type: "button", id: "token-secret-done" }, "I have saved it");
    done.addEventListener("click", () => { replace(secretBox); secretBox.hidden = true; name.focus(); });
    replace(secretBox, h("p", null, h("b", null, "Copy this token now: it is shown only this once."),
      " Send it as ", h("code", null, "Authorization: Bearer <token>"), "."), field, " ", copy, " ", hint, " ", done);
    secretBox.hidden = false;
    field.focus();
  }

  const form = h("form.inline", { id: "token-form", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const created = await api("POST", "/api/tokens", name.value ? { name: name.value } : {});
      name.value = "";
      await reload();
      showSecret(created.token);
    } catch (e) { toast(errorLines(e).join("; "), "error"); }
  } }, h("label", { for: "token-name" }, "Name"), name, h("button", { type: "submit", id: "token-create" }, "Create token"));

  const panel = h("section.card", { id: "tokens-panel" }, h("h2", null, "API tokens"),
    h("p.note", null, "For scripts and the command line. Secrets are never shown again after creation."),
    form, secretBox,
    h("table.list.compact", { id: "tokens" },
      h("thead", null, h("tr", null, ["Name", "Created", "State", ""].map((t) => h("th", { scope: "col" }, t)))), tbody),
    empty);
  return { panel, reload };
}

export async function accountView() {
  const u = user();
  const tokens = tokensPanel();
  await tokens.reload();
  const el = h("section.account", null,
    h("p.crumbs", null, h("a", { href: "#/projects" }, "Projects"), " / "),
    h("h1", null, "Your account"),
    h("p.note", null, "Logged in as ", h("b", { id: "account-name" }, u ? u.username : "?")),
    h("div.cards", null, passwordPanel(() => tokens.reload().catch((e) => toast(e.message, "error"))), tokens.panel));
  return { el, name: "account", ready: () => document.getElementById("current-password")?.focus() };
}
