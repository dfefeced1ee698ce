/** What the pairing page shows and streams: the instance's public face plus the pending QR, nothing more. */
export interface PairingState {
  instance: { id: string; name: string | null; status: string; status_reason: string | null; phone: string | null; push_name: string | null }
  qr: PairingQr | null
}

export interface PairingQr {
  /** The raw QR string (also on the page as `data-qr`, so tests and scripts can read it). */
  qr: string
  /** The QR rendered server-side as an SVG data URL: the page needs no QR library. */
  image: string
  attempt: number
  expires_at: string
}

/**
 * The pairing page: one self-contained HTML document (inline CSS and JS under a nonce-based CSP, no external
 * assets, no framework). Initial state is embedded as JSON; updates arrive over `./<id>/events` (SSE), authorised
 * by the same signed query string as the page itself.
 */
export function renderPairingPage(opts: { state: PairingState; linkExpiresAt: string; nonce: string }): string {
  const title = opts.state.instance.name ? `Link WhatsApp · ${opts.state.instance.name}` : 'Link WhatsApp'
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style nonce="${opts.nonce}">${CSS}</style>
</head>
<body>
<main class="card" id="app" data-status="${escapeHtml(opts.state.instance.status)}">
  <header>
    <div class="logo" aria-hidden="true">${LOGO}</div>
    <div>
      <h1>Link WhatsApp</h1>
      <p class="sub" id="instance-name">${escapeHtml(opts.state.instance.name ?? opts.state.instance.id)}</p>
    </div>
  </header>

  <section id="pairing">
    <nav class="tabs" role="tablist">
      <button role="tab" id="tab-qr" aria-selected="true">Scan QR code</button>
      <button role="tab" id="tab-code" aria-selected="false">Use phone number</button>
    </nav>

    <div id="panel-qr" class="panel">
      <div class="qr-frame"><div id="qr" class="qr"><div class="spinner" aria-label="Waiting for a QR code"></div></div></div>
      <ol class="steps">
        <li>Open <b>WhatsApp</b> on your phone</li>
        <li>Tap <b>Settings</b> (iPhone) or <b>⋮ Menu</b> (Android), then <b>Linked devices</b></li>
        <li>Tap <b>Link a device</b> and point your phone at this screen</li>
      </ol>
    </div>

    <div id="panel-code" class="panel" hidden>
      <form id="code-form" autocomplete="off">
        <label for="phone">Phone number of the WhatsApp account, with country code</label>
        <div class="row">
          <input id="phone" name="phone" inputmode="tel" placeholder="+55 11 99999 0001" required>
          <button type="submit" id="code-submit">Get code</button>
        </div>
      </form>
      <div id="code-result" hidden>
        <p class="code" id="pairing-code"></p>
        <p class="hint">On the phone: <b>Linked devices</b> → <b>Link a device</b> → <b>Link with phone number instead</b>, then type this code.</p>
      </div>
      <p class="error" id="code-error" hidden></p>
    </div>
  </section>

  <section id="connected" class="result ok" hidden>
    <div class="badge">${CHECK}</div>
    <h2 id="connected-as"></h2>
    <p class="hint">This device is linked. You can close this page.</p>
  </section>

  <section id="stopped" class="result warn" hidden>
    <h2>Pairing stopped</h2>
    <p class="hint" id="stopped-reason"></p>
    <button id="restart">Start again</button>
  </section>

  <section id="expired" class="result warn" hidden>
    <h2>This link has expired</h2>
    <p class="hint">Ask your administrator for a new pairing link.</p>
  </section>

  <footer><span class="dot" id="live-dot"></span><span id="live-text">Live</span><span class="sep">·</span><span id="link-expiry"></span></footer>
</main>
<script type="application/json" id="initial-state">${jsonForScript({ state: opts.state, linkExpiresAt: opts.linkExpiresAt })}</script>
<script nonce="${opts.nonce}">${SCRIPT}</script>
</body>
</html>`
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c)
}

/** JSON inside a <script> element: `<` escaped so no value can close the element. */
function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
}

const LOGO = `<svg viewBox="0 0 32 32" width="28" height="28"><path fill="#fff" d="M16 4.5A11.4 11.4 0 0 0 6.2 21.7L4.7 27.3l5.7-1.5A11.4 11.4 0 1 0 16 4.5Zm0 20.8c-1.8 0-3.5-.5-5-1.4l-.4-.2-3.4.9.9-3.3-.2-.4a9.4 9.4 0 1 1 8.1 4.4Zm5.2-7c-.3-.1-1.7-.8-1.9-.9-.3-.1-.5-.1-.7.1l-.9 1.1c-.2.2-.3.2-.6.1a7.7 7.7 0 0 1-3.8-3.3c-.3-.5.3-.5.8-1.5.1-.2 0-.3 0-.5l-.9-2.1c-.2-.6-.5-.5-.7-.5h-.6c-.2 0-.5.1-.8.4-.3.3-1 1-1 2.5s1.1 2.9 1.2 3.1c.1.2 2.1 3.3 5.2 4.6 1.9.8 2.7.9 3.6.7.6-.1 1.7-.7 2-1.4.2-.7.2-1.2.2-1.4-.1-.1-.3-.2-.6-.3Z"/></svg>`
const CHECK = `<svg viewBox="0 0 24 24" width="40" height="40"><path fill="none" stroke="#fff" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round" d="m5 12.5 4.5 4.5L19 7.5"/></svg>`

const CSS = `
:root{--green:#1fa855;--green-dark:#128c4b;--ink:#1d2430;--muted:#667085;--line:#e4e7ec;--bg:#f3f5f7;--warn:#b54708}
*{box-sizing:border-box}
html,body{margin:0;min-height:100%;background:var(--bg);color:var(--ink);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
body{display:flex;align-items:center;justify-content:center;min-height:100vh;padding:24px}
.card{width:100%;max-width:440px;background:#fff;border:1px solid var(--line);border-radius:16px;box-shadow:0 12px 32px rgba(16,24,40,.08);padding:28px 28px 18px}
header{display:flex;gap:14px;align-items:center;margin-bottom:20px}
.logo{width:44px;height:44px;border-radius:12px;background:var(--green);display:flex;align-items:center;justify-content:center;flex:none}
h1{font-size:19px;margin:0;font-weight:650;letter-spacing:-.01em}
h2{font-size:18px;margin:12px 0 4px;font-weight:650}
.sub{margin:0;color:var(--muted);font-size:13.5px;overflow-wrap:anywhere}
.tabs{display:flex;background:var(--bg);border-radius:10px;padding:4px;gap:4px;margin-bottom:18px}
.tabs button{flex:1;border:0;background:transparent;padding:8px 10px;border-radius:8px;font:inherit;font-size:14px;color:var(--muted);cursor:pointer}
.tabs button[aria-selected=true]{background:#fff;color:var(--ink);font-weight:600;box-shadow:0 1px 2px rgba(16,24,40,.08)}
.qr-frame{display:flex;justify-content:center}
.qr{width:264px;height:264px;border:1px solid var(--line);border-radius:12px;padding:4px;display:flex;align-items:center;justify-content:center;background:#fff}
.qr img{width:100%;height:100%;image-rendering:pixelated}
.spinner{width:36px;height:36px;border-radius:50%;border:3px solid var(--line);border-top-color:var(--green);animation:spin .9s linear infinite}
@keyframes spin{to{transform:rotate(360deg)}}
.steps{margin:18px 0 6px;padding-left:20px;color:var(--ink);font-size:14px}
.steps li{margin:4px 0}
label{display:block;font-size:13.5px;color:var(--muted);margin-bottom:6px}
.row{display:flex;gap:8px}
input{flex:1;min-width:0;font:inherit;padding:9px 12px;border:1px solid #d0d5dd;border-radius:8px}
input:focus{outline:2px solid rgba(31,168,85,.35);border-color:var(--green)}
button#code-submit,button#restart{border:0;background:var(--green);color:#fff;font:inherit;font-weight:600;padding:9px 16px;border-radius:8px;cursor:pointer}
button#code-submit:hover,button#restart:hover{background:var(--green-dark)}
button:disabled{opacity:.6;cursor:default}
.code{font:600 30px/1.2 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;letter-spacing:.12em;text-align:center;margin:20px 0 8px}
.hint{color:var(--muted);font-size:13.5px;margin:6px 0}
.error{color:#b42318;font-size:13.5px}
.result{text-align:center;padding:18px 0 10px}
.badge{width:72px;height:72px;margin:0 auto;border-radius:50%;background:var(--green);display:flex;align-items:center;justify-content:center;box-shadow:0 0 0 8px rgba(31,168,85,.12)}
.result.ok h2{color:var(--green-dark)}
.result.warn h2{color:var(--warn)}
footer{display:flex;align-items:center;gap:6px;margin-top:20px;padding-top:14px;border-top:1px solid var(--line);color:var(--muted);font-size:12.5px}
.dot{width:8px;height:8px;border-radius:50%;background:var(--green);box-shadow:0 0 0 3px rgba(31,168,85,.18)}
.dot.off{background:#98a2b3;box-shadow:none}
.sep{opacity:.5}
[hidden]{display:none!important}
`

// Plain browser JS: no build step, no dependency. Everything it needs comes from the initial JSON and the stream.
const SCRIPT = `
(function(){
  var boot = JSON.parse(document.getElementById('initial-state').textContent);
  var state = boot.state;
  var $ = function(id){ return document.getElementById(id); };
  var base = location.pathname.replace(/\\/$/, '');
  var query = location.search;
  var expired = false;

  $('link-expiry').textContent = 'Link valid until ' + new Date(boot.linkExpiresAt).toLocaleTimeString([], {hour:'2-digit', minute:'2-digit'});

  function show(id, on){ $(id).hidden = !on; }
  function render(){
    var inst = state.instance;
    $('app').dataset.status = inst.status;
    var connected = inst.status === 'connected';
    var stopped = inst.status === 'disconnected';
    show('pairing', !connected && !stopped && !expired);
    show('connected', connected);
    show('stopped', stopped && !expired);
    show('expired', expired && !connected);
    if (connected) {
      $('connected-as').textContent = 'Connected as ' + (inst.phone ? '+' + inst.phone : 'this number') + (inst.push_name ? ' (' + inst.push_name + ')' : '');
    }
    if (stopped) $('stopped-reason').textContent = reasonText(inst.status_reason);
    var box = $('qr');
    if (state.qr && box.dataset.qr !== state.qr.qr) {
      box.dataset.qr = state.qr.qr;
      box.dataset.attempt = String(state.qr.attempt);
      var img = document.createElement('img');
      img.alt = 'WhatsApp QR code';
      img.src = state.qr.image;
      box.replaceChildren(img);
    }
  }
  function reasonText(reason){
    var known = { qr_attempts_exhausted: 'The QR code was not scanned in time.', logout: 'The device was logged out.', replaced: 'Another client took over this session.', device_removed: 'The device was removed on the phone.', pairing_interrupted_by_restart: 'The gateway restarted while pairing.' };
    return known[reason] || (reason ? 'Reason: ' + reason.replace(/_/g, ' ') + '.' : '');
  }
  function live(on, text){ $('live-dot').className = on ? 'dot' : 'dot off'; $('live-text').textContent = text; }

  var es = new EventSource(base + '/events' + query);
  es.addEventListener('open', function(){ live(true, 'Live'); });
  es.addEventListener('state', function(e){ state = JSON.parse(e.data); render(); });
  es.addEventListener('qr', function(e){ state.qr = JSON.parse(e.data); render(); });
  es.addEventListener('instance', function(e){ state.instance = JSON.parse(e.data); if (state.instance.status !== 'pending_qr') state.qr = null; render(); });
  es.addEventListener('expired', function(){ expired = true; es.close(); live(false, 'Link expired'); render(); });
  es.addEventListener('error', function(){
    if (es.readyState === EventSource.CLOSED) { live(false, 'Disconnected'); if (Date.now() >= Date.parse(boot.linkExpiresAt)) { expired = true; render(); } }
    else live(false, 'Reconnecting…');
  });

  function selectTab(code){
    $('tab-qr').setAttribute('aria-selected', String(!code));
    $('tab-code').setAttribute('aria-selected', String(code));
    show('panel-qr', !code); show('panel-code', code);
    if (code) $('phone').focus();
  }
  $('tab-qr').addEventListener('click', function(){ selectTab(false); });
  $('tab-code').addEventListener('click', function(){ selectTab(true); });

  function post(path, body){
    return fetch(base + path + query, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body || {}) })
      .then(function(res){ return res.json().then(function(json){ if (!res.ok) throw new Error(json.errors && json.errors[0] ? json.errors[0].message : 'Request failed'); return json.data; }); });
  }
  $('code-form').addEventListener('submit', function(ev){
    ev.preventDefault();
    var phone = $('phone').value.replace(/[^0-9]/g, '');
    $('code-submit').disabled = true; show('code-error', false);
    post('/pairing-code', { phone: phone }).then(function(data){
      $('pairing-code').textContent = data.code.length === 8 ? data.code.slice(0,4) + '-' + data.code.slice(4) : data.code;
      show('code-result', true);
    }).catch(function(err){ $('code-error').textContent = err.message; show('code-error', true); })
      .finally(function(){ $('code-submit').disabled = false; });
  });
  $('restart').addEventListener('click', function(){
    $('restart').disabled = true;
    post('/restart').then(function(inst){ state.instance = inst; state.qr = null; $('qr').removeAttribute('data-qr'); $('qr').innerHTML = '<div class="spinner"></div>'; render(); })
      .catch(function(err){ $('stopped-reason').textContent = err.message; })
      .finally(function(){ $('restart').disabled = false; });
  });
  render();
})();
`
