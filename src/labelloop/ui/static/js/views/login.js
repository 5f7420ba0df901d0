import { ApiError, login } from "../api.js";
import { h } from "../dom.js";

/** What a failed log-in says: ``wrong`` for a 401, a wait for a 429, else the error's message. */
export function loginError(e, wrong) {
  if (e instanceof ApiError && e.status === 401) return wrong;
  if (e instanceof ApiError && e.status === 429) return "Too many attempts; wait a minute.";
  return String(e.message);
}

export function loginView() {
  const err = h("p.error", { id: "login-error" });
  const user = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const pass = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form.card.login", {
    onsubmit: async (ev) => {
      ev.preventDefault();
      err.textContent = "";
      try {
        await login(user.value, pass.value);
        // back to the page that asked for the login (a link to a labelling view, say)
        const back = sessionStorage.getItem("labelloop.returnTo");
        sessionStorage.removeItem("labelloop.returnTo");
        location.hash = back && back.startsWith("#/") && back !== "#/login" ? back : "#/projects";
      } catch (e) {
        err.textContent = loginError(e, "Wrong user name or password.");
      }
    },
  },
  h("h1", null, "Log in"),
  h("label", null, "User name", user),
  h("label", null, "Password", pass),
  h("button.primary", { type: "submit", id: "login-submit" }, "Log in"),
  err);
  return { el: form, name: "login", ready: () => user.focus() };
}
