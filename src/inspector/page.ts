// The inspector's page (see inspector.ts): one self-contained HTML document with its script, so
// the package needs no static files. The script builds every element with textContent (never
// innerHTML), so scope data cannot inject markup, and polls the JSON endpoints every second.
export const INSPECTOR_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Jetstream inspector</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f6f7f9; }
  header { background: #1d2430; color: #fff; padding: 10px 16px; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 16px; margin: 0; }
  #updated { opacity: .7; font-size: 12px; }
  main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; padding: 16px; }
  section { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 10px 12px; overflow: auto; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 14px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th, td { text-align: left; padding: 3px 8px 3px 0; border-bottom: 1px solid #eef0f3; vertical-align: top; }
  tr.scope { cursor: pointer; } tr.scope:hover, tr.scope.selected { background: #eef4ff; }
  .num { text-align: right; font-variant-numeric: tabular-nums; }
  .error { color: #b42318; } .ok { color: #067647; }
  code, .tree { font-family: ui-monospace, monospace; font-size: 12px; }
  details { margin-left: 14px; } summary { cursor: pointer; }
  .prop { margin-left: 14px; white-space: pre-wrap; word-break: break-all; }
  @media (max-width: 800px) { main { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header><h1>Jetstream inspector</h1><span id="updated">loading…</span></header>
<main>
  <section><h2>Scopes</h2><table id="scopes"><thead><tr><th>Name</th><th class="num">Version</th><th class="num">Objects</th><th class="num">Sessions</th><th class="num">Unstored</th></tr></thead><tbody></tbody></table></section>
  <section><h2>Sessions</h2><table id="sessions"><thead><tr><th>#</th><th>Address</th><th>Scopes</th><th class="num">Unacked</th><th class="num">Pending KB</th><th class="num">Last ack s ago</th><th class="num">Age s</th></tr></thead><tbody></tbody></table></section>
  <section class="wide"><h2 id="tree-title">Objects (select a scope)</h2><div id="tree" class="tree"></div></section>
  <section class="wide"><h2>Latest changesets</h2><table id="changesets"><thead><tr><th>Time</th><th>Scope</th><th>Session</th><th>Fragments</th></tr></thead><tbody></tbody></table></section>
</main>
<script>
(() => {
  const token = new URLSearchParams(location.search).get('token') || '';
  // The token leaves the address bar (and the browser history) once read.
  history.replaceState(null, '', location.pathname);
  const headers = { Authorization: 'Bearer ' + token };
  let selected = null;
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  };
  const row = (cells) => {
    const tr = document.createElement('tr');
    for (const [text, cls] of cells) tr.appendChild(el('td', text, cls));
    return tr;
  };
  const fill = (id, rows) => document.querySelector('#' + id + ' tbody').replaceChildren(...rows);
  async function get(path) {
    const res = await fetch(path, { headers, cache: 'no-store' });
    if (!res.ok) throw new Error(path + ': ' + res.status);
    return res.json();
  }
  function renderTree(data) {
    document.getElementById('tree-title').textContent =
      'Objects of ' + data.name + ' (version ' + data.version + (data.truncated ? ', first objects only' : '') + ')';
    const byUUID = new Map(data.objects.map((o) => [o.uuid, o]));
    const shown = new Set();
    const open = new Set([...document.querySelectorAll('#tree details[open]')].map((d) => d.dataset.uuid));
    const node = (o) => {
      const d = document.createElement('details');
      d.dataset.uuid = o.uuid;
      if (open.has(o.uuid) || o.uuid === data.rootUUID) d.open = true;
      d.appendChild(el('summary', o.clsName + ' ' + o.uuid));
      shown.add(o.uuid);
      for (const [key, value] of Object.entries(o.properties)) {
        const refs = (Array.isArray(value) ? value : [value]).filter((v) => typeof v === 'string' && byUUID.has(v));
        if (refs.length > 0) {
          d.appendChild(el('div', key + ':', 'prop'));
          for (const r of refs) if (!shown.has(r)) d.appendChild(node(byUUID.get(r)));
        } else {
          d.appendChild(el('div', key + ': ' + JSON.stringify(value), 'prop'));
        }
      }
      return d;
    };
    const root = byUUID.get(data.rootUUID);
    document.getElementById('tree').replaceChildren(root ? node(root) : el('div', 'no root'));
  }
  async function refresh() {
    try {
      const o = await get('/inspect/api/overview');
      fill('scopes', o.scopes.map((s) => {
        const tr = row([[s.name], [s.version, 'num'], [s.objects, 'num'], [s.sessions, 'num'], [s.unstored, 'num']]);
        tr.className = 'scope' + (s.name === selected ? ' selected' : '');
        tr.dataset.scope = s.name;
        tr.addEventListener('click', () => { selected = s.name; refresh(); });
        return tr;
      }));
      fill('sessions', o.sessions.map((s) => row([
        [s.id], [(s.address || '') + (s.connected ? '' : ' (detached)')], [s.scopes.join(', ')],
        [s.unacknowledged, 'num'], [(s.pendingBytes / 1024).toFixed(1), 'num'],
        [s.lastAckSecondsAgo === null ? 'never' : s.lastAckSecondsAgo, 'num'], [s.ageSeconds, 'num'],
      ])));
      fill('changesets', o.changesets.map((c) => {
        const tr = row([[new Date(c.at).toLocaleTimeString()], [c.scope], [c.session]]);
        const td = document.createElement('td');
        if (c.procedure) td.appendChild(el('div', 'procedure ' + c.procedure));
        for (const f of c.fragments) {
          td.appendChild(el('div', f.type + ' ' + f.clsName + ' ' + f.uuid + (f.error ? ' — ' + f.error.type + ': ' + f.error.message : ' ✓'), f.error ? 'error' : 'ok'));
        }
        tr.appendChild(td);
        return tr;
      }));
      if (selected !== null) {
        try { renderTree(await get('/inspect/api/scope?name=' + encodeURIComponent(selected))); }
        catch { selected = null; }
      }
      document.getElementById('updated').textContent = 'updated ' + new Date(o.at).toLocaleTimeString();
      document.body.dataset.ready = 'true';
    } catch (err) {
      document.getElementById('updated').textContent = String(err.message || err);
    }
  }
  refresh();
  setInterval(refresh, 1000);
})();
</script>
</body>
</html>
`;
