// The raw `node:http` request the demo and test clients share (flow.mjs, backchannel.mjs,
// dpop.mjs). Raw on purpose: Node's fetch adds `sec-fetch-mode`, which changes Better Auth's
// answers. Resolves to { status, headers, data (JSON when it parses, else the text), text }.
import http from "node:http";

export function request(method, url, { headers = {}, json, form } = {}) {
  let body;
  headers = { ...headers };
  if (json !== undefined) {
    body = JSON.stringify(json);
    headers["content-type"] = "application/json";
  } else if (form !== undefined) {
    body = new URLSearchParams(form).toString();
    headers["content-type"] = "application/x-www-form-urlencoded";
  }
  if (body !== undefined) headers["content-length"] = Buffer.byteLength(body);
  return new Promise((resolve, reject) => {
    const r = http.request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let data;
        try { data = JSON.parse(text); } catch { data = text; }
        resolve({ status: res.statusCode, headers: res.headers, data, text });
      });
    });
    r.on("error", reject);
    if (body !== undefined) r.write(body);
    r.end();
  });
}
