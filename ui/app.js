// crmsync dashboard: reads the admin API and /metrics every 2 s and draws the
// figures; one Replay button per dead letter. Plain browser JavaScript, no
// libraries. Data is written with textContent only, never as HTML.
'use strict';

const TOKEN_KEY = 'crmsync.adminToken';
const REFRESH_MS = 2000;
const RECENT_WINDOW_MS = 60000;

const state = {
  timer: null,
  samples: [],          // {at, ok, total} of sync attempts, for the recent rate
  replayed: new Map(),  // dead letter id -> replay job id, replayed from this page
};

function $(id) { return document.getElementById(id); }

function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }

// --- Prometheus text format ---------------------------------------------------

// Parses the text exposition format into [{name, labels, value}].
function parsePrometheus(text) {
  const samples = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let i = 0;
    while (i < line.length && /[A-Za-z0-9_:]/.test(line[i])) i++;
    const name = line.slice(0, i);
    const labels = {};
    if (line[i] === '{') {
      i++;
      while (i < line.length && line[i] !== '}') {
        const eq = line.indexOf('=', i);
        if (eq < 0) break;
        const key = line.slice(i, eq).replace(/^[\s,]+/, '').trim();
        i = eq + 1;
        if (line[i] !== '"') break;
        i++;
        let value = '';
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\' && i + 1 < line.length) {
            const next = line[i + 1];
            value += next === 'n' ? '\n' : next;
            i += 2;
          } else {
            value += line[i++];
          }
        }
        i++;  // closing quote
        labels[key] = value;
        while (i < line.length && (line[i] === ',' || line[i] === ' ')) i++;
      }
      i++;  // closing brace
    }
    const rest = line.slice(i).trim().split(/\s+/);
    const value = parseNumber(rest[0]);
    if (name !== '' && !Number.isNaN(value)) samples.push({ name, labels, value });
  }
  return samples;
}

function parseNumber(text) {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

// Successful and all CRM calls (crmsync_sync_attempts_total by outcome).
function syncAttempts(samples) {
  let ok = 0;
  let total = 0;
  for (const s of samples) {
    if (s.name !== 'crmsync_sync_attempts_total') continue;
    total += s.value;
    if (s.labels.outcome === 'ok') ok += s.value;
  }
  return { ok, total };
}

// The histogram `name` summed over its label sets: {buckets: [{le, count}] by
// le, count, sum}, or null when the metric is not exported.
function histogram(samples, name) {
  const byLe = new Map();
  let count = 0;
  let sum = 0;
  let seen = false;
  for (const s of samples) {
    if (s.name === name + '_bucket' && s.labels.le !== undefined) {
      const le = parseNumber(s.labels.le);
      byLe.set(le, (byLe.get(le) || 0) + s.value);
      seen = true;
    } else if (s.name === name + '_count') {
      count += s.value;
      seen = true;
    } else if (s.name === name + '_sum') {
      sum += s.value;
    }
  }
  if (!seen) return null;
  const buckets = [...byLe.entries()].map(([le, c]) => ({ le, count: c })).sort((a, b) => a.le - b.le);
  return { buckets, count, sum };
}

// Estimates quantile q (0..1) from cumulative buckets, as Prometheus's
// histogram_quantile does: linear inside the bucket holding the rank.
function quantile(q, buckets) {
  if (buckets.length === 0) return NaN;
  const total = buckets[buckets.length - 1].count;
  if (!(total > 0)) return NaN;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return lowerBound;  // beyond the last finite bound
      if (b.count === lowerCount) return b.le;
      return lowerBound + (b.le - lowerBound) * (rank - lowerCount) / (b.count - lowerCount);
    }
    lowerBound = b.le;
    lowerCount = b.count;
  }
  return lowerBound;
}

// --- formatting ------------------------------------------------------------------

function formatSeconds(s) {
  if (!Number.isFinite(s)) return 'n/a';
  if (s < 0.01) return (s * 1000).toFixed(1) + ' ms';
  if (s < 1) return Math.round(s * 1000) + ' ms';
  return s.toFixed(s < 10 ? 2 : 1) + ' s';
}

function formatAge(seconds) {
  if (!(seconds > 0)) return 'none';
  if (seconds < 120) return seconds + ' s';
  if (seconds < 7200) return Math.round(seconds / 60) + ' min';
  return (seconds / 3600).toFixed(1) + ' h';
}

function formatPercent(ok, total) {
  if (!(total > 0)) return 'n/a';
  return (100 * ok / total).toFixed(1) + ' %';
}

function plural(n, word) {
  return n + ' ' + word + (n === 1 ? '' : 's');
}

function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

function setText(id, text, className) {
  const el = $(id);
  el.textContent = text;
  if (className !== undefined) el.className = className;
}

// --- HTTP --------------------------------------------------------------------------

class Unauthorized extends Error {}

async function api(method, path) {
  const response = await fetch(path, {
    method,
    headers: { Authorization: 'Bearer ' + token() },
    cache: 'no-store',
  });
  if (response.status === 401) throw new Unauthorized('the admin token was refused');
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const why = body && body.error ? body.error : 'HTTP ' + response.status;
    throw new Error(method + ' ' + path + ': ' + why);
  }
  return body;
}

async function metricsText() {
  const response = await fetch('/metrics', { cache: 'no-store' });
  if (!response.ok) throw new Error('GET /metrics: HTTP ' + response.status);
  return response.text();
}

// --- drawing -----------------------------------------------------------------------

function drawStatus(status) {
  setText('service', 'v' + status.version + ' · plugin ' + status.plugin);
  const q = status.queue || {};
  setText('queue-ready', String(q.ready ?? '–'));
  setText('queue-queued', String(q.queued ?? '–'));
  setText('queue-delayed', String(q.delayed ?? '–'));
  setText('queue-leased', String(q.leased ?? '–'));
  setText('queue-dead', String(q.deadLetters ?? '–'), q.deadLetters > 0 ? 'bad' : '');
  setText('queue-done', String(q.done ?? '–'));
  setText('queue-oldest', formatAge(q.oldestPendingAgeSeconds));

  const runtime = status.runtime || {};
  const circuit = (runtime.circuit && runtime.circuit.state) || 'unknown';
  const circuitClass = circuit === 'closed' ? 'ok' : circuit === 'open' ? 'bad' : 'warn';
  let circuitText = circuit;
  if (runtime.circuit && runtime.circuit.probeAt) {
    circuitText += ' (probe ' + formatTime(runtime.circuit.probeAt) + ')';
  }
  setText('circuit-state', circuitText, circuitClass);

  const sync = status.sync || {};
  const enabled = runtime.syncEnabled !== undefined ? runtime.syncEnabled && sync.enabled : sync.enabled;
  setText('sync-enabled', enabled ? 'enabled' : 'disabled', enabled ? 'ok' : 'bad');
  setText('sync-reason', enabled ? '' : 'Why: ' + (sync.reason || 'unknown') +
          (sync.changedAt ? ' (since ' + formatTime(sync.changedAt) + ')' : ''));

  const rate = runtime.rateLimit || {};
  let rateText = rate.perSecond > 0 ? rate.perSecond + '/s' : 'none';
  const budget = rate.budget;
  if (rate.pausedUntil) {
    rateText += budget && budget.remaining === 0 ? ', paused (budget spent)' : ', paused (429)';
  } else if (budget && budget.pacing) {
    rateText += ', spreading ' + budget.remaining + ' left until ' + budget.resetAt;
  }
  setText('rate-limit', rateText, rate.pausedUntil ? 'warn' : '');

  drawReconcile(runtime.reconcile);
  drawShadow(runtime.shadow || {});

  const health = $('health');
  if (!enabled || circuit === 'open') {
    health.textContent = !enabled ? 'sync disabled' : 'CRM unreachable';
    health.className = 'pill pill-bad';
  } else if (q.deadLetters > 0 || circuit !== 'closed') {
    health.textContent = q.deadLetters > 0 ? 'dead letters' : 'circuit ' + circuit;
    health.className = 'pill pill-warn';
  } else {
    health.textContent = 'healthy';
    health.className = 'pill pill-ok';
  }
}

// Backfill: the latest run of runtime.backfill and the bulk queue behind it.
function drawBackfill(backfill) {
  const run = backfill && backfill.latest;
  $('backfill-none').hidden = !!run;
  $('backfill-run').hidden = !run;
  if (!run) {
    setText('backfill-state', '');
    return;
  }
  const queue = backfill.queue || {};
  const importing = run.state === 'running';
  const syncing = !importing && queue.synced === false;
  setText('backfill-state', '(' + run.run + ': ' + (importing ? 'importing' : syncing ? 'syncing' : run.state) + ')',
          run.state === 'stopped' ? 'bad' : 'muted');
  const progress = $('backfill-progress');
  if (run.totalLines > 0) {
    progress.max = run.totalLines;
    progress.value = Math.min(run.nextOffset, run.totalLines);
  } else {
    progress.removeAttribute('value');  // stdin: no total known
  }
  setText('backfill-lines', run.nextOffset.toLocaleString() +
          (run.totalLines > 0 ? ' of ' + run.totalLines.toLocaleString() : '') + ' lines');
  setText('backfill-figures', run.accepted.toLocaleString() + ' accepted, ' +
          run.duplicates.toLocaleString() + ' duplicates, ' + run.invalid.toLocaleString() + ' invalid',
          run.invalid > 0 ? 'warn' : '');
  const bad = (run.invalidLines || []).map((b) => b.line).join(', ');
  setText('backfill-detail', (queue.bulkReady > 0 ? queue.bulkReady.toLocaleString() + ' bulk jobs waiting. ' : '') +
          (bad ? 'Bad lines: ' + bad + (run.invalid > run.invalidLines.length ? ', …' : '') + '. ' : '') +
          (run.stoppedReason ? 'Stopped: ' + run.stoppedReason + '. ' : '') +
          'Started ' + formatTime(run.startedAt) + (run.finishedAt ? ', imported ' + formatTime(run.finishedAt) : ''));
}

// The last reconcile run (runtime.reconcile): when, repaired or not, and its
// counts per kind of finding.
function drawReconcile(run) {
  const counts = $('reconcile-counts');
  if (!run) {
    setText('reconcile-summary', 'none yet (crmsync reconcile)');
    counts.replaceChildren();
    return;
  }
  const when = run.finishedAt ? 'finished ' + formatTime(run.finishedAt)
                              : 'started ' + formatTime(run.startedAt);
  setText('reconcile-summary', run.state + ', ' + when + ' · ' +
          (run.repair ? 'repaired (' + (run.repairsQueued || 0) + ' jobs)' : 'not repaired') +
          (run.fieldsCompared === false ? ' · fields not compared' : ''),
          run.state === 'failed' ? 'bad' : 'muted');
  const kinds = ['missing', 'differs', 'crm_owned', 'unknown_to_mirror', 'broken_link',
                 'wrong_reference', 'unknown'];
  counts.replaceChildren(...kinds.map((kind) => {
    const div = document.createElement('div');
    const dt = document.createElement('dt');
    dt.textContent = kind.replace(/_/g, ' ');
    const dd = document.createElement('dd');
    dd.id = 'reconcile-' + kind;
    const n = (run.counts && run.counts[kind]) || 0;
    dd.textContent = String(n);
    if (n > 0 && kind !== 'crm_owned') dd.className = 'warn';
    div.append(dt, dd);
    return div;
  }));
}

function drawMetrics(text) {
  const samples = parsePrometheus(text);
  const now = Date.now();
  const attempts = syncAttempts(samples);
  setText('success-rate', formatPercent(attempts.ok, attempts.total),
          !(attempts.total > 0) ? 'big' : attempts.ok / attempts.total >= 0.95 ? 'big ok' : 'big bad');
  setText('success-detail', attempts.ok + ' of ' + plural(attempts.total, 'CRM call') + ' ok since start');

  state.samples.push({ at: now, ok: attempts.ok, total: attempts.total });
  while (state.samples.length > 1 && now - state.samples[0].at > RECENT_WINDOW_MS) state.samples.shift();
  const first = state.samples[0];
  const recentTotal = attempts.total - first.total;
  const span = Math.round((now - first.at) / 1000);
  if (state.samples.length < 2) {
    setText('success-recent', 'measuring…');
  } else if (recentTotal > 0) {
    setText('success-recent', formatPercent(attempts.ok - first.ok, recentTotal) + ' of ' +
            plural(recentTotal, 'call') + ' in the last ' + span + ' s');
  } else {
    setText('success-recent', 'no calls in the last ' + span + ' s');
  }

  const h = histogram(samples, 'crmsync_sync_duration_seconds');
  if (h === null) {
    setText('latency-p50', 'n/a');
    setText('latency-p99', 'n/a');
    setText('latency-detail', 'no latency histogram exported (crmsync_sync_duration_seconds)');
  } else if (!(h.count > 0)) {
    setText('latency-p50', 'n/a');
    setText('latency-p99', 'n/a');
    setText('latency-detail', 'no CRM calls measured yet');
  } else {
    setText('latency-p50', formatSeconds(quantile(0.5, h.buckets)));
    setText('latency-p99', formatSeconds(quantile(0.99, h.buckets)));
    setText('latency-detail', plural(h.count, 'CRM call') + ', mean ' + formatSeconds(h.sum / h.count) +
            ' (estimated from histogram buckets)');
  }
}

function drawDeadLetters(list) {
  const rows = $('dlq-rows');
  const items = (list && list.deadLetters) || [];
  // Rows replayed from this page stay until the server no longer lists them.
  const listed = new Set(items.map((d) => d.id));
  for (const id of [...state.replayed.keys()]) if (!listed.has(id)) state.replayed.delete(id);

  rows.replaceChildren(...items.map(deadLetterRow));
  $('dlq-empty').hidden = items.length > 0;
  $('dlq-table').hidden = items.length === 0;
  setText('dlq-count', items.length > 0 ? '(' + items.length + (items.length >= 100 ? '+' : '') + ')' : '');
}

function deadLetterRow(d) {
  const tr = document.createElement('tr');
  tr.dataset.id = String(d.id);
  tr.id = 'dlq-' + d.id;
  const cell = (text, className) => {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    tr.appendChild(td);
    return td;
  };
  cell(String(d.id), 'num');
  cell(d.entity);
  cell(d.eventType);
  cell(d.errorClass);
  cell(d.reason, 'reason');
  cell(String(d.attempts), 'num');
  cell(formatTime(d.createdAt));
  const action = cell('');
  const replayJob = state.replayed.get(d.id) || d.replayJobId;
  if (state.replayed.has(d.id) || replayJob || d.replayedAt) {
    markReplayed(tr, action, replayJob);
  } else {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'replay';
    button.textContent = 'Replay';
    button.addEventListener('click', () => replay(d.id, tr, action, button));
    action.appendChild(button);
  }
  return tr;
}

function markReplayed(tr, action, jobId) {
  tr.classList.add('replayed');
  action.replaceChildren();
  const span = document.createElement('span');
  span.className = 'row-status ok';
  span.textContent = jobId ? 'replayed as job ' + jobId : 'replayed';
  action.appendChild(span);
}

async function replay(id, tr, action, button) {
  button.disabled = true;
  try {
    const answer = await api('POST', '/api/v1/admin/dlq/' + encodeURIComponent(id) + '/replay');
    const job = answer && answer.replayed && answer.replayed[0] ? answer.replayed[0].jobId : null;
    state.replayed.set(id, job);
    markReplayed(tr, action, job);
  } catch (e) {
    if (e instanceof Unauthorized) return signOut(e.message);
    button.disabled = false;
    showError('Replay of dead letter ' + id + ' failed: ' + e.message);
  }
}

function showError(message) {
  const el = $('error');
  el.textContent = message;
  el.hidden = !message;
}

// --- the loop ----------------------------------------------------------------------

// Shadow mode (docs/design.md §11): shown only when crm.shadow.plugin is set.
function drawShadow(shadow) {
  $('shadow-card').hidden = !shadow.enabled;
  if (!shadow.enabled) return;
  setText('shadow-compared', String(shadow.compared));
  setText('shadow-identical', String(shadow.identical), 'ok');
  setText('shadow-differing', String(shadow.differing), shadow.differing > 0 ? 'warn' : '');
  setText('shadow-errors', String(shadow.errors), shadow.errors > 0 ? 'bad' : '');
  setText('shadow-dropped', String(shadow.dropped), shadow.dropped > 0 ? 'warn' : '');
}

async function refresh() {
  state.timer = null;
  if (!token()) return;
  try {
    const [status, dlq, metrics] = await Promise.all([
      api('GET', '/api/v1/admin/status'),
      api('GET', '/api/v1/admin/dlq?limit=100'),
      metricsText(),
    ]);
    drawStatus(status);
    drawBackfill((status.runtime || {}).backfill);
    drawMetrics(metrics);
    drawDeadLetters(dlq);
    showError('');
    setText('updated', 'updated ' + new Date().toLocaleTimeString());
  } catch (e) {
    if (e instanceof Unauthorized) return signOut(e.message);
    showError('Cannot reach crmsync: ' + e.message);
    $('health').textContent = 'unreachable';
    $('health').className = 'pill pill-bad';
  }
  if (token()) state.timer = setTimeout(refresh, REFRESH_MS);
}

function showDashboard() {
  $('login').hidden = true;
  $('dashboard').hidden = false;
  $('sign-out').hidden = false;
  if (state.timer) clearTimeout(state.timer);
  refresh();
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (state.timer) clearTimeout(state.timer);
  state.timer = null;
  state.samples = [];
  $('dashboard').hidden = true;
  $('sign-out').hidden = true;
  $('login').hidden = false;
  $('health').textContent = 'not connected';
  $('health').className = 'pill pill-unknown';
  setText('login-error', message || '');
  $('token').value = '';
  $('token').focus();
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = $('token').value.trim();
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    setText('login-error', '');
    showDashboard();
  });
  $('sign-out').addEventListener('click', () => signOut(''));
  if (token()) showDashboard(); else signOut('');
});
