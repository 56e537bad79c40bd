// Forms of class "api" post their fields as JSON to the clinic's JSON API
// (data-action, data-method) with the session's CSRF token, then follow
// data-then (a URL with {field} taken from the answer), reload
// (data-reload), download the answer (data-download: a file name;
// data-download-field: one string field of the answer) or show data-ok.
// Inputs may say how to encode them: data-kind="list" (split on commas and
// white space), "bool" (a checkbox), "int", "time" (datetime-local as RFC
// 3339 UTC); a name "a.b" nests. Errors are shown as sentences, never as
// the answer's JSON. A 401 asking for a recent sign-in opens the
// confirmation form and repeats the request.
(function () {
  "use strict";
  var body = document.body;
  var csrf = body.getAttribute("data-csrf") || "";
  var messages = {
    invalid_fields: "Check the fields: one is unknown, empty or too long.",
    invalid_mrn: "That MRN cannot be used.",
    mrn_exists: "A patient with that MRN exists already.",
    conflict: "Someone else changed this record at the same time. Reload the page and try again.",
    invalid_value: "Enter a value (at most 4096 characters).",
    invalid_cohort: "List between 1 and 1000 patient IDs.",
    legal_hold: "This patient is under a legal hold and cannot be disposed of.",
    reason_required: "Give a reason.",
    invalid_hold: "Check the hold: a reason is required, and the hold must exist.",
    invalid_disclosure: "Name the recipient and give a purpose code such as public_health.",
    text_looks_like_phi: "The text looks like it contains patient information. Describe the incident without names, dates of birth or record numbers.",
    invalid_input: "Check the fields: one is missing or not valid.",
    not_allowed_now: "That step is not possible in the incident's current status, or someone changed it at the same time.",
    no_such_incident: "There is no such incident.",
    audit_trail_unverified: "The audit trail did not verify. Scoping stopped; tell your security officer.",
    self_administration: "Administrators cannot change their own account here.",
    second_administrator_required: "Another administrator must approve this.",
    last_administrator: "This would leave the clinic without an active administrator.",
    no_role_request: "There is no role request waiting for this user.",
    password_rejected: "That password is not allowed: choose a longer one that is not common.",
    last_passkey: "Your role requires a passkey: register another one before removing this one.",
    passkey_refused: "The passkey was refused.",
    name_taken: "A user with that name exists already.",
    invalid_user: "Check the user name: letters, digits, dots, dashes and underscores.",
    unknown_role: "One of the roles does not exist or cannot be assigned.",
    no_backup_to_drill: "Create a backup first.",
    backup_failed: "The backup failed. The server log says why.",
    verify_failed: "The backup could not be verified.",
    forbidden: "Your role does not allow this.",
    not_found: "Not found.",
    patient_disposed: "This patient's data was disposed of and can no longer be read.",
    audit_unavailable: "The audit trail cannot record this right now, so nothing was done. Try again shortly.",
    csrf_failed: "This page has expired. Reload it and try again.",
    invalid_credentials: "That did not match. Check the password and code.",
    throttled: "Too many attempts. Wait a moment and try again.",
    bad_request: "The request was not understood.",
    malformed_request: "The request was not understood.",
    invalid_filter: "Check the search fields."
  };
  function message(status, data) {
    var code = data && data.error;
    if (code && messages[code]) { return messages[code]; }
    if (status === 403) { return messages.forbidden; }
    if (status === 404) { return messages.not_found; }
    return "The server could not do that (error " + status + "). Try again; if it keeps happening, tell your administrator.";
  }
  async function call(method, path, payload) {
    var h = { "X-CSRF-Token": csrf };
    if (payload !== undefined) { h["Content-Type"] = "application/json"; }
    var r = await fetch(path, { method: method, headers: h, credentials: "same-origin",
      body: payload === undefined ? undefined : JSON.stringify(payload) });
    if (window.hkActivity && r.status !== 401) { window.hkActivity(); }
    var blob = await r.blob();
    var data = null;
    try { data = JSON.parse(await blob.text()); } catch (e) { data = null; }
    return { status: r.status, ok: r.ok, data: data, blob: blob };
  }
  function encode(el) {
    var kind = el.getAttribute("data-kind");
    if (el.type === "checkbox" && kind !== "set") { return el.checked; }
    var v = el.hasAttribute("data-raw") ? el.value : el.value.trim();
    if (kind === "list") { return v === "" ? [] : v.split(/[\s,]+/).filter(Boolean); }
    if (kind === "int") { return v === "" ? undefined : Number(v); }
    if (kind === "time") { return v === "" ? undefined : new Date(v + "Z").toISOString(); }
    return v;
  }
  function collect(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "submit" || el.type === "button" || el.name === "csrf_token") { return; }
      if (el.type === "radio" && !el.checked) { return; }
      if (el.hasAttribute("data-path")) { return; } // part of the URL, not the body
      var keys = el.name.split("."), o = out;
      if (el.getAttribute("data-kind") === "set") { // checkboxes of one name: the checked values
        for (var j = 0; j < keys.length - 1; j++) { o = o[keys[j]] = o[keys[j]] || {}; }
        var arr = o[keys[keys.length - 1]] = o[keys[keys.length - 1]] || [];
        if (el.checked) { arr.push(el.value); }
        return;
      }
      var v = encode(el);
      if (v === undefined || (v === "" && el.hasAttribute("data-omit-empty"))) { return; }
      for (var i = 0; i < keys.length - 1; i++) { o = o[keys[i]] = o[keys[i]] || {}; }
      o[keys[keys.length - 1]] = v;
    });
    return out;
  }
  function fill(tpl, data, url) {
    return tpl.replace(/\{([\w.]+)\}/g, function (_, k) {
      var v = k.split(".").reduce(function (o, p) { return o == null ? o : o[p]; }, data);
      v = v == null ? "" : String(v);
      return url ? encodeURIComponent(v) : v;
    });
  }
  function save(name, blob) {
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }
  function show(status, text, isError) {
    if (!status) { return; }
    status.textContent = text;
    status.classList.toggle("error", !!isError);
    status.setAttribute("role", isError ? "alert" : "status");
  }
  // reauth shows the confirmation form; retry runs after it succeeded.
  function reauth(retry) {
    var box = document.getElementById("reauth");
    var form = document.getElementById("reauth-form");
    if (!box) { return; }
    box.hidden = false;
    document.getElementById("reauth-password").focus();
    form.onsubmit = async function (e) {
      e.preventDefault();
      var r = await call("POST", "/api/auth/reauth", collect(form));
      if (!r.ok) { show(form.querySelector(".form-status"), message(r.status, r.data), true); return; }
      form.reset();
      box.hidden = true;
      retry();
    };
    document.getElementById("reauth-cancel").onclick = function () { box.hidden = true; };
  }
  window.hk = { call: call, message: message, show: show, reauth: reauth };
  async function submit(form) {
    var status = form.querySelector(".form-status");
    show(status, "Working…", false);
    var method = form.getAttribute("data-method") || "POST";
    var path = {};
    Array.prototype.forEach.call(form.querySelectorAll("[data-path]"), function (el) { path[el.name] = el.value.trim(); });
    var r = await call(method, fill(form.getAttribute("data-action"), path, true), method === "GET" ? undefined : collect(form));
    if (r.status === 401 && r.data && r.data.error === "reauthentication_required") {
      show(status, "", false);
      reauth(function () { submit(form); });
      return;
    }
    if (r.status === 401) { window.location.assign("/login?expired=1"); return; }
    if (!r.ok) {
      var own = r.data && r.data.error && form.getAttribute("data-msg-" + r.data.error);
      show(status, own || message(r.status, r.data), true);
      return;
    }
    var dl = form.getAttribute("data-download");
    if (dl) {
      var field = form.getAttribute("data-download-field");
      save(dl, field ? new Blob([r.data[field]], { type: "application/octet-stream" }) : r.blob);
    }
    var target = form.getAttribute("data-fill");
    if (target && r.data) { document.getElementById(target).value = r.data[form.getAttribute("data-download-field")] || ""; }
    if (form.hasAttribute("data-then")) { window.location.assign(fill(form.getAttribute("data-then"), r.data, true)); return; }
    if (form.hasAttribute("data-reload")) { window.location.reload(); return; }
    show(status, fill(form.getAttribute("data-ok") || "Done.", r.data, false), false);
    if (r.status === 202) { show(status, "Requested: another administrator must approve it.", false); }
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.classList || !form.classList.contains("api")) { return; }
    e.preventDefault();
    submit(form);
  });

  // Passkeys: sign in on the login page, register on the account page.
  var login = document.getElementById("passkey-login");
  if (login && window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
    login.hidden = false;
    login.addEventListener("click", async function () {
      var status = document.getElementById("passkey-status");
      try {
        var b = await call("POST", "/api/auth/login/passkey/begin", {});
        if (!b.ok) { show(status, "Passkeys are not available on this server.", true); return; }
        var cred = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(b.data.options.publicKey) });
        var f = await call("POST", "/api/auth/login/passkey/finish", { credential: cred.toJSON() });
        if (!f.ok) { show(status, "The passkey was not accepted.", true); return; }
        window.location.assign("/home");
      } catch (err) { show(status, "The passkey sign-in was cancelled.", true); }
    });
  }
  var reg = document.getElementById("passkey-register");
  if (reg) {
    reg.addEventListener("submit", async function (e) {
      e.preventDefault();
      var status = reg.querySelector(".form-status");
      var run = async function () {
        try {
          var b = await call("POST", "/api/auth/passkeys/register/begin", {});
          if (b.status === 401 && b.data && b.data.error === "reauthentication_required") { reauth(run); return; }
          if (!b.ok) { show(status, message(b.status, b.data), true); return; }
          var cred = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(b.data.options.publicKey) });
          var f = await call("POST", "/api/auth/passkeys/register/finish", { name: reg.elements.name.value, credential: cred.toJSON() });
          if (!f.ok) { show(status, message(f.status, f.data), true); return; }
          window.location.reload();
        } catch (err) { show(status, "The passkey registration was cancelled.", true); }
      };
      run();
    });
  }
})();
