// stampede web ui: polls the JSON API every second, renders the header,
// tables and charts (charts.js), and drives runs through the same API that
// scripts use (POST api/swarm, api/users, api/stop, api/reset).
'use strict';

const POLL_MS = 1000;
const MAX_POINTS = 7200;
const ui = { stats: null, scenario: null, runId: null, points: [], lastT: 0, tab: 'stats', opened: false, busy: false };
const $ = (id) => document.getElementById(id);

async function api(path, opts) {
  const r = await fetch(path, Object.assign({ credentials: 'same-origin', cache: 'no-store' }, opts));
  const text = await r.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (_) { body = null; }
  if (!r.ok) throw new Error((body && body.error) || `${r.status} ${r.statusText}`);
  return body;
}

const post = (path, data) => api(path, {
  method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(data || {}),
});

const esc = (s) => String(s == null ? '' : s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const nf = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const int = (n) => nf.format(n || 0);
function ms(v) {
  if (v == null || Number.isNaN(v)) return '–';
  if (v >= 100) return nf.format(v);
  return v >= 10 ? v.toFixed(1) : String(Number(v.toFixed(2)));
}
const rate = (v) => (v >= 100 ? nf.format(v) : (v || 0).toFixed(1));
const pct = (r) => `${((r || 0) * 100).toFixed(r >= 0.1 ? 1 : 2)}%`;
function dur(s) {
  s = Math.max(0, Math.round(s || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, '0');
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}
const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '');

function table(bodyId, emptyId, rows) {
  $(bodyId).innerHTML = rows.join('');
  $(emptyId).hidden = rows.length > 0;
}

function count(id, n, bad) {
  const el = $(id);
  el.textContent = n ? String(n) : '';
  el.classList.toggle('bad', !!bad && n > 0);
}

// === header and controls ===

function renderHeader(s) {
  const st = $('state');
  st.textContent = s.state;
  st.className = `badge state-${s.state}`;
  const run = s.run;
  const live = ['spawning', 'running', 'stopping'].includes(s.state);
  const d = ui.scenario && ui.scenario.defaults;
  $('m-host').textContent = (run && run.host) || (d && d.host) || '—';
  $('m-host').title = $('m-host').textContent;
  $('m-users').textContent = live && run ? `${int(s.user_count)} / ${int(run.users)}` : int(s.user_count);
  $('m-workers').textContent = int(s.worker_count);
  $('m-rps').textContent = rate(s.total ? s.total.current_rps : 0);
  $('m-fail').textContent = pct(s.total ? s.total.fail_ratio : 0);
  let t = '—';
  if (run) {
    t = dur(run.elapsed_s);
    if (live && run.remaining_s != null) t += ` · ${dur(run.remaining_s)} left`;
  }
  $('m-time').textContent = t;
  const running = s.state === 'spawning' || s.state === 'running';
  $('new-btn').hidden = live;
  $('edit-btn').hidden = !running;
  $('stop-btn').hidden = !live;
  $('reset-btn').hidden = !running;
  $('stop-btn').disabled = s.state === 'stopping' || ui.busy;
  if (!running) $('edit-panel').hidden = true;
}

function renderStats(s) {
  const row = (r) => {
    const p = r.percentiles_ms || {};
    return `<td class="method">${esc(r.method)}</td><td class="name">${esc(r.name)}</td>`
      + `<td>${int(r.requests)}</td><td class="${r.failures ? 'fails' : ''}">${int(r.failures)}</td>`
      + `<td>${ms(r.median_ms)}</td><td>${ms(p.p95)}</td><td>${ms(p.p99)}</td><td>${ms(r.avg_ms)}</td>`
      + `<td>${ms(r.min_ms)}</td><td>${ms(r.max_ms)}</td><td>${int(r.avg_content_bytes)}</td>`
      + `<td>${rate(r.current_rps)}</td><td>${rate(r.failures_per_s)}</td>`;
  };
  $('stats-body').innerHTML = s.stats.map((r) => `<tr>${row(r)}</tr>`).join('');
  $('stats-total').innerHTML = s.total && s.stats.length ? `<tr>${row(s.total)}</tr>` : '';
  $('stats-empty').hidden = s.stats.length > 0;

  table('failures-body', 'failures-empty', s.failures.map((f) => `<tr><td class="fails">${int(f.occurrences)}</td>`
    + `<td class="method">${esc(f.method)}</td><td class="name">${esc(f.name)}</td>`
    + `<td class="name wrap">${esc(f.error)}</td><td>${esc(time(f.last_seen))}</td></tr>`));
  count('n-failures', s.failures.length, true);

  table('exceptions-body', 'exceptions-empty', s.exceptions.map((e) => `<tr><td class="fails">${int(e.count)}</td><td class="name wrap">${esc(e.message)}</td></tr>`));
  count('n-exceptions', s.exceptions.length, true);

  table('workers-body', 'workers-empty', s.workers.map((w) => `<tr><td class="name">${esc(w.id)}</td>`
    + `<td class="name">${esc(w.hostname)}</td><td><span class="badge state-${esc(w.state)}">${esc(w.state)}</span></td>`
    + `<td>${int(w.users)}</td><td>${int(w.cores)}</td><td>${w.cpu_percent.toFixed(0)}%</td><td>${w.last_heard_s.toFixed(1)} s ago</td></tr>`));
  count('n-workers', s.worker_count);

  const fmtV = (v, unit) => (v == null ? 'no requests' : `${Number(v.toFixed(2))}${unit === '%' ? '%' : unit ? ` ${unit}` : ''}`);
  table('thresholds-body', 'thresholds-empty', s.thresholds.map((v) => `<tr><td class="${v.passed ? 'pass' : 'fail'}">${v.passed ? 'pass' : 'fail'}</td>`
    + `<td class="name"><code>${esc(v.threshold)}</code></td><td>${esc(fmtV(v.actual, v.unit))}</td><td>${esc(fmtV(v.limit, v.unit))}</td></tr>`));
  count('n-thresholds', s.thresholds.filter((v) => !v.passed).length, true);
}

// === charts ===

const CHARTS = [
  ['chart-rps', 'legend-rps', [{ key: 'rps', name: 'Requests/s', color: '#16a34a' }, { key: 'failures_per_s', name: 'Failures/s', color: '#dc2626' }], rate],
  ['chart-rt', 'legend-rt', [{ key: 'p50_ms', name: 'p50', color: '#2563eb' }, { key: 'p95_ms', name: 'p95', color: '#f59e0b' }, { key: 'p99_ms', name: 'p99', color: '#9333ea' }], ms],
  ['chart-users', 'legend-users', [{ key: 'users', name: 'Users', color: '#0ea5e9' }, { key: 'target_users', name: 'Target users', color: '#94a3b8' }], int],
  // The open model only: the target rate next to what was achieved.
  ['chart-its', 'legend-its', [{ key: 'iterations_per_s', name: 'Iterations/s', color: '#16a34a' }, { key: 'dropped_per_s', name: 'Dropped/s', color: '#dc2626' }, { key: 'target_rate', name: 'Target rate', color: '#94a3b8' }], rate],
];

function renderCharts() {
  if (ui.tab !== 'charts') return;
  $('card-its').hidden = !ui.points.some((p) => p.target_rate != null);
  for (const [id, legendId, series, fmt] of CHARTS) drawChart($(id), ui.points, series, { fmt, legend: $(legendId) });
}

async function pullHistory(runId) {
  if (runId !== ui.runId) {
    ui.runId = runId;
    ui.points = [];
    ui.lastT = 0;
  }
  if (runId == null) return;
  const h = await api(`api/history?since=${ui.lastT}`);
  if (h.run_id !== ui.runId) return;
  for (const p of h.points) if (p.t > ui.lastT) ui.points.push(p);
  if (ui.points.length > MAX_POINTS) ui.points.splice(0, ui.points.length - MAX_POINTS);
  if (ui.points.length) ui.lastT = ui.points[ui.points.length - 1].t;
}

// === polling ===

async function refresh() {
  try {
    const s = await api('api/stats');
    ui.stats = s;
    renderHeader(s);
    renderStats(s);
    await pullHistory(s.run ? s.run.id : null);
    renderCharts();
    $('banner').hidden = true;
    if (!ui.opened && s.state === 'ready') openForm();
    ui.opened = true;
  } catch (e) {
    $('banner').textContent = `lost contact with the master: ${e.message}`;
    $('banner').hidden = false;
  }
}

async function loop() {
  await refresh();
  setTimeout(loop, POLL_MS);
}

// === start form ===

async function loadScenario() {
  const sc = await api('api/scenario');
  ui.scenario = sc;
  $('scenario-name').textContent = `${sc.name} · v${sc.version}`;
  $('scenario-desc').textContent = sc.description || `Scenario ${sc.name}`;
  const d = sc.defaults;
  $('users').value = d.users;
  $('spawn-rate').value = d.spawn_rate;
  $('host').value = d.host || '';
  $('run-time').value = d.run_time || '';
  const chosen = new Set(d.classes.length ? d.classes : sc.classes.map((c) => c.name));
  $('classes').innerHTML = sc.classes.map((c) => `<label><input type="checkbox" value="${esc(c.name)}"${chosen.has(c.name) ? ' checked' : ''}> ${esc(c.name)}`
    + ` <span class="weight">${c.fixed_count != null ? `fixed ${c.fixed_count}` : `weight ${c.weight}`}</span></label>`).join('');
}

function openForm() {
  $('form-error').textContent = '';
  $('start-modal').hidden = false;
  $('users').focus();
}

async function submitStart(ev) {
  ev.preventDefault();
  const boxes = [...document.querySelectorAll('#classes input[type=checkbox]')];
  const classes = boxes.filter((b) => b.checked).map((b) => b.value);
  if (boxes.length && !classes.length) {
    $('form-error').textContent = 'pick at least one user class';
    return;
  }
  const body = {
    users: Number($('users').value),
    spawn_rate: Number($('spawn-rate').value),
    host: $('host').value.trim(),
    classes: classes.length === boxes.length ? [] : classes,
  };
  const rt = $('run-time').value.trim();
  if (rt) body.run_time = rt;
  $('start-btn').disabled = true;
  try {
    await post('api/swarm', body);
    $('start-modal').hidden = true;
    ui.runId = undefined;
    await refresh();
  } catch (e) {
    $('form-error').textContent = e.message;
  } finally {
    $('start-btn').disabled = false;
  }
}

// === run controls ===

async function action(fn) {
  ui.busy = true;
  try {
    await fn();
  } catch (e) {
    $('banner').textContent = e.message;
    $('banner').hidden = false;
  } finally {
    ui.busy = false;
    await refresh();
  }
}

function openEdit() {
  const run = ui.stats && ui.stats.run;
  if (!run) return;
  $('edit-users').value = run.users;
  $('edit-rate').value = run.spawn_rate;
  $('edit-error').textContent = '';
  $('edit-panel').hidden = false;
  $('edit-users').focus();
}

async function submitEdit(ev) {
  ev.preventDefault();
  try {
    await post('api/users', { users: Number($('edit-users').value), spawn_rate: Number($('edit-rate').value) });
    $('edit-panel').hidden = true;
    await refresh();
  } catch (e) {
    $('edit-error').textContent = e.message;
  }
}

function showTab(name) {
  if (!$(`tab-${name}`)) return;
  ui.tab = name;
  history.replaceState(null, '', `#${name}`);
  for (const t of document.querySelectorAll('.tab')) t.classList.toggle('active', t.dataset.tab === name);
  for (const p of document.querySelectorAll('.panel')) p.hidden = p.id !== `tab-${name}`;
  renderCharts();
}

function wire() {
  for (const t of document.querySelectorAll('.tab')) t.addEventListener('click', () => showTab(t.dataset.tab));
  $('start-form').addEventListener('submit', submitStart);
  $('start-cancel').addEventListener('click', () => { $('start-modal').hidden = true; });
  $('new-btn').addEventListener('click', openForm);
  $('edit-btn').addEventListener('click', openEdit);
  $('edit-cancel').addEventListener('click', () => { $('edit-panel').hidden = true; });
  $('edit-form').addEventListener('submit', submitEdit);
  $('stop-btn').addEventListener('click', () => action(() => post('api/stop')));
  $('reset-btn').addEventListener('click', () => action(() => post('api/reset')));
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') $('start-modal').hidden = true; });
  let resize = null;
  window.addEventListener('resize', () => { clearTimeout(resize); resize = setTimeout(renderCharts, 150); });
}

wire();
if (location.hash.length > 1) showTab(location.hash.slice(1));
loadScenario()
  .catch((e) => { $('form-error').textContent = e.message; })
  .finally(loop);
