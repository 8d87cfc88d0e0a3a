// The browser pages a person needs on the SSO: sign-in (the oauth-provider's
// `loginPage`) and sign-up. Loaded by server.mjs only when BA_PAGES is set, so
// the interop suite's HTTP-only server is unchanged.
//
// Each page is a plain HTML form whose submit posts JSON to Better Auth's own
// endpoint (same origin, so its Origin check passes) together with the signed
// authorize query (`oauth_query`). Better Auth then finishes the authorization
// and answers `{redirect: true, url}` with the client's callback URL, which the
// page follows. No password ever reaches anything but Better Auth.
//
// With BA_POST_LOGOUT_REDIRECT_URI set, the seeded client is also allowed to
// use the `end_session_endpoint` (RP-initiated logout) and to come back to
// that URI afterwards.

const escapeHtml = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; background: #f4f5f7; color: #1b1f24; margin: 0; }
  main { max-width: 24rem; margin: 4rem auto; background: #fff; padding: 2rem; border-radius: 8px;
         box-shadow: 0 1px 3px rgba(0,0,0,.15); }
  h1 { margin-top: 0; font-size: 1.5rem; }
  label { display: block; margin: 1rem 0 .25rem; font-weight: 600; }
  input { width: 100%; box-sizing: border-box; padding: .5rem; font: inherit; border: 1px solid #8a929b; border-radius: 4px; }
  button { margin-top: 1.5rem; width: 100%; padding: .6rem; font: inherit; font-weight: 600; color: #fff;
           background: #1f5fbf; border: 0; border-radius: 4px; cursor: pointer; }
  :focus-visible { outline: 3px solid #f0a500; outline-offset: 2px; }
  [role=alert] { color: #a4161a; min-height: 1.5em; }
  .small { font-size: .9rem; margin-top: 1.5rem; }
`;

// What each page posts, and to where. `fields` are [name, label, type, autocomplete].
const PAGES = {
  "/login": {
    title: "Sign in",
    endpoint: "/api/auth/sign-in/email",
    fields: [
      ["email", "Email", "email", "username"],
      ["password", "Password", "password", "current-password"],
    ],
    other: ["/sign-up", "No account yet?", "Create an account"],
  },
  "/sign-up": {
    title: "Create an account",
    endpoint: "/api/auth/sign-up/email",
    fields: [
      ["name", "Name", "text", "name"],
      ["email", "Email", "email", "username"],
      ["password", "Password", "password", "new-password"],
    ],
    other: ["/login", "Already have an account?", "Sign in"],
  },
};

function page(path, search) {
  const p = PAGES[path];
  const inputs = p.fields
    .map(
      ([name, label, type, ac]) =>
        `<label for="${name}">${label}</label><input id="${name}" name="${name}" type="${type}" autocomplete="${ac}" required${type === "password" ? ' minlength="8"' : ""}>`,
    )
    .join("\n");
  const [otherPath, otherText, otherLink] = p.other;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${p.title} · SSO</title><style>${STYLE}</style></head>
<body><main>
<h1>${p.title}</h1>
<form id="form" novalidate>
${inputs}
<p id="error" role="alert"></p>
<button type="submit">${p.title}</button>
</form>
<p class="small">${otherText} <a href="${otherPath}${escapeHtml(search)}">${otherLink}</a></p>
</main>
<script>
const form = document.getElementById("form");
const error = document.getElementById("error");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!form.reportValidity()) return;
  error.textContent = "";
  const body = Object.fromEntries(new FormData(form));
  // The signed authorize query this page was opened with (empty on a direct visit).
  const query = location.search.slice(1);
  if (query) body.oauth_query = query;
  try {
    const res = await fetch(${JSON.stringify(p.endpoint)}, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) { error.textContent = data.message || data.error_description || "Something went wrong (" + res.status + ")"; return; }
    if (data.redirect && data.url) { location.assign(data.url); return; }
    form.replaceWith(Object.assign(document.createElement("p"), { textContent: "You are signed in." }));
  } catch {
    error.textContent = "The sign-in service cannot be reached. Try again.";
  }
});
</script>
</body></html>`;
}

/**
 * Wraps Better Auth's node handler with the pages above.
 * @param {import("better-auth").Auth} auth
 * @param {(req, res) => unknown} handler Better Auth's `toNodeHandler(auth)`
 * @param {{ origin: string, clientId: string }} options
 */
export async function withPages(auth, handler, { origin, clientId }) {
  const postLogout = process.env.BA_POST_LOGOUT_REDIRECT_URI;
  if (postLogout) {
    const ctx = await auth.$context;
    await ctx.adapter.update({
      model: "oauthClient",
      where: [{ field: "clientId", value: clientId }],
      update: { enableEndSession: true, postLogoutRedirectUris: [postLogout] },
    });
  }
  return (req, res) => {
    const url = new URL(req.url, origin);
    if (req.method === "GET" && Object.hasOwn(PAGES, url.pathname)) {
      res.writeHead(200, {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
      });
      res.end(page(url.pathname, url.search));
      return;
    }
    return handler(req, res);
  };
}
