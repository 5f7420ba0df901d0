// The session ended while someone was working (it expired, or a password change revoked it): a
// dialog logs the same user in again over the page, so what they were doing is saved, not lost.
import { login } from "../api.js";
import { h } from "../dom.js";
import { loginError } from "./login.js";

/**
 * Ask for the password of ``who`` and log them in again.
 * @param {{username: string}} who  the user whose session ended
 * @returns {Promise<boolean>} true once logged in, false if they cancel
 */
export function reloginDialog(who) {
  return new Promise((resolve) => {
    const err = h("p.error", { id: "relogin-error", role: "alert" });
    const pass = h("input", { id: "relogin-password", name: "password", type: "password", autocomplete: "current-password", required: true });
    const done = (ok) => { dialog.close(); dialog.remove(); resolve(ok); };
    const form = h("form", {
      onsubmit: async (ev) => {
        ev.preventDefault();
        err.textContent = "";
        try {
          await login(who.username, pass.value);
          done(true);
        } catch (e) {
          err.textContent = loginError(e, "Wrong password.");
        }
      },
    },
    h("h2", { id: "relogin-title" }, "Your session ended"),
    h("p", null, "Log in again as ", h("b", null, who.username), " to save your work; it stays on this page."),
    h("label", null, "Password ", pass),
    h("div.actions", null,
      h("button.primary", { type: "submit", id: "relogin-submit" }, "Log in and continue"),
      h("button", { type: "button", id: "relogin-cancel", onclick: () => done(false) }, "Cancel")),
    err);
    const dialog = h("dialog", { id: "relogin", "aria-labelledby": "relogin-title" }, form);
    dialog.addEventListener("cancel", (ev) => { ev.preventDefault(); done(false); }); // Escape
    document.body.append(dialog);
    dialog.showModal();
    pass.focus();
  });
}
