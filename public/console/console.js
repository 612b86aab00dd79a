// The console: plain JavaScript against the public API, nothing else.
// The API key lives in this tab's sessionStorage and goes out only as an
// Authorization header; event streams use the run's short-lived stream token.

const KEY_STORAGE = 'llm-orchestrator.api-key';
const $ = (id) => document.getElementById(id);

const state = {
  key: sessionStorage.getItem(KEY_STORAGE) ?? '',
  tools: [],
  run: null, // { id, token, source, replicates: Map, requested }
  cursor: null,
};

/** fetch with the key (when one is set) and JSON in and out; errors become Error with the envelope's message. */
async function api(path, { method = 'GET', body } = {}) {
  const headers = {};
  if (state.key) headers.authorization = `Bearer ${state.key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const error = new Error(data?.error ? `${data.error.code}: ${data.error.message}` : `HTTP ${res.status}`);
    error.status = res.status;
    throw error;
  }
  return data;
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

const show = (value) => (typeof value === 'string' ? value : JSON.stringify(value, null, 2));
const short = (value, n = 160) => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text === undefined ? '' : text.length > n ? `${text.slice(0, n)}…` : text;
};
const numberOrUndefined = (id) => {
  const raw = $(id).value.trim();
  return raw === '' ? undefined : Number(raw);
};

// ------------------------------------------------------------------ key

function renderKeyState() {
  $('key-state').textContent = state.key ? 'key set for this tab' : 'no key';
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.key = $('api-key').value.trim();
  if (state.key) sessionStorage.setItem(KEY_STORAGE, state.key);
  else sessionStorage.removeItem(KEY_STORAGE);
  $('api-key').value = '';
  renderKeyState();
  void loadTools();
  void loadRuns(true);
});

// ------------------------------------------------------------------ tools

async function loadTools() {
  try {
    const { data } = await api('/v1/tools');
    state.tools = data;
    const select = $('tool');
    const previous = select.value;
    select.replaceChildren(...data.map((t) => el('option', { value: t.name, textContent: `${t.name} ${t.version}` })));
    if (data.some((t) => t.name === previous)) select.value = previous;
    describeTool();
    $('form-error').textContent = '';
  } catch (error) {
    $('form-error').textContent = error.status === 401 ? 'This server needs an API key: type it above.' : error.message;
  }
}

function describeTool() {
  const tool = state.tools.find((t) => t.name === $('tool').value);
  $('tool-description').textContent = tool ? tool.description : '';
}
$('tool').addEventListener('change', describeTool);

// ------------------------------------------------------------------ starting and following a run

function requestBody() {
  const body = { tool: $('tool').value, input: $('input').value, background: true };
  const replicates = numberOrUndefined('replicates');
  if (replicates !== undefined) body.replicates = replicates;
  const seed = numberOrUndefined('seed');
  if (seed !== undefined) body.seed = seed;
  const timeout = numberOrUndefined('timeout');
  if (timeout !== undefined) body.timeout_ms = timeout;
  const schemaText = $('output-schema').value.trim();
  if (schemaText) {
    try {
      body.agent = { output_schema: JSON.parse(schemaText) };
    } catch (error) {
      throw new Error(`Output schema is not JSON: ${error.message}`, { cause: error });
    }
  }
  const earlyStop = {
    quorum: numberOrUndefined('es-quorum'),
    min_replicates: numberOrUndefined('es-min'),
    epsilon: numberOrUndefined('es-epsilon'),
    confidence: numberOrUndefined('es-confidence'),
  };
  const es = Object.fromEntries(Object.entries(earlyStop).filter(([, v]) => v !== undefined));
  if (Object.keys(es).length > 0) body.early_stop = es;
  const budget = { max_tokens: numberOrUndefined('b-tokens'), max_cost_usd: numberOrUndefined('b-cost'), max_time_ms: numberOrUndefined('b-time') };
  const b = Object.fromEntries(Object.entries(budget).filter(([, v]) => v !== undefined));
  if (Object.keys(b).length > 0) body.budget = b;
  return body;
}

$('run-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  $('form-error').textContent = '';
  let body;
  try {
    body = requestBody();
  } catch (error) {
    $('form-error').textContent = error.message;
    return;
  }
  $('start').disabled = true;
  try {
    const accepted = await api('/v1/runs', { method: 'POST', body });
    follow(accepted.id, accepted.stream_token, body.replicates ?? null);
    void loadRuns(true);
  } catch (error) {
    $('form-error').textContent = error.message;
  } finally {
    $('start').disabled = false;
  }
});

$('cancel').addEventListener('click', async () => {
  if (!state.run) return;
  $('cancel').disabled = true;
  try {
    await api(`/v1/runs/${encodeURIComponent(state.run.id)}/cancel`, { method: 'POST' });
  } catch (error) {
    $('form-error').textContent = error.message;
  }
});

/** Follows a run's events with its stream token (EventSource sends no headers, so no key). */
function follow(id, token, requested) {
  state.run?.source?.close();
  const run = { id, token, source: null, replicates: new Map(), requested, done: false };
  state.run = run;
  resetView(id);
  const source = new EventSource(`/v1/runs/${encodeURIComponent(id)}/events?stream_token=${encodeURIComponent(token)}`);
  run.source = source;
  const on = (type, handler) =>
    source.addEventListener(type, (message) => {
      if (state.run !== run) return;
      const data = JSON.parse(message.data);
      logEvent(data);
      handler(data);
    });
  on('run_started', (e) => {
    setStatus('running');
    if (typeof e.replicates === 'number' && run.requested === null) run.requested = e.replicates;
    renderProgress();
  });
  on('replicate_done', (e) => {
    // Composite tools run several inner tools: a replicate is known by its step and index.
    run.replicates.set(`${e.replicate.step ?? e.tool ?? ''}#${e.replicate.index}`, e.replicate);
    renderReplicates();
  });
  on('partial_summary', (e) => {
    renderSummary(e.summary);
    renderBudget(e.budget_used);
  });
  on('bundle_ready', (e) => renderSummary(e.bundle.summary));
  on('tool_started', () => {});
  on('tool_completed', () => {});
  on('synthesis_done', () => {});
  on('run_resumed', () => {});
  on('handoff', () => {});
  on('run_completed', (e) => {
    run.done = true;
    source.close();
    renderResult(e.result);
  });
  source.addEventListener('error', () => {
    if (state.run === run && !run.done && source.readyState === EventSource.CLOSED) {
      // The stream was refused (token expired?): show the record instead.
      void api(`/v1/runs/${encodeURIComponent(id)}`).then(renderResult, (error) => ($('form-error').textContent = error.message));
    }
  });
}

function resetView(id) {
  $('run-id').textContent = id;
  setStatus('queued');
  $('consensus').textContent = '—';
  $('confidence').textContent = '—';
  $('disagreements').replaceChildren(el('p', { class: 'muted', textContent: 'none yet' }));
  $('heatmap').replaceChildren();
  $('replicate-rows').replaceChildren();
  $('events').replaceChildren();
  renderBudget({ tokens: 0, cost_usd: 0, time_ms: 0 });
  renderProgress();
}

function setStatus(status) {
  const badge = $('run-status');
  badge.textContent = status;
  badge.className = `badge ${status}`;
  $('cancel').disabled = !state.run || !['queued', 'running'].includes(status);
}

function logEvent(e) {
  const list = $('events');
  list.append(el('li', { textContent: `${e.seq} ${e.type}${e.source ? ` ${e.source}` : ''}${e.tool ? ` (${e.tool})` : ''}` }));
  list.scrollTop = list.scrollHeight;
}

function renderProgress() {
  const run = state.run;
  const n = run ? run.replicates.size : 0;
  $('progress').textContent = `${n} / ${run?.requested ?? '?'}`;
}

function renderReplicates() {
  const rows = [...state.run.replicates.values()]
    .sort((a, b) => (a.step ?? '').localeCompare(b.step ?? '') || a.index - b.index)
    .map((r) =>
      el(
        'tr',
        { class: r.status, dataset: { index: String(r.index) } },
        el('td', { textContent: String(r.index) }),
        el('td', { textContent: r.step ?? '' }),
        el('td', { textContent: r.valid ? r.status : `${r.status}${r.error ? ` (${r.error.code})` : ''}` }),
        el('td', { class: 'output', textContent: short(r.output) }),
        el('td', { textContent: r.model }),
        el('td', { textContent: `${Math.round(r.latency_ms)} ms` }),
      ),
    );
  $('replicate-rows').replaceChildren(...rows);
  renderProgress();
}

function renderBudget(used) {
  if (!used) return;
  $('budget-tokens').textContent = String(used.tokens);
  $('budget-cost').textContent = `$${Number(used.cost_usd).toFixed(6)}`;
  $('budget-time').textContent = `${Math.round(used.time_ms)} ms`;
}

function renderSummary(summary) {
  if (!summary) return;
  $('consensus').textContent = summary.consensus === undefined || summary.consensus === null ? '—' : show(summary.consensus);
  $('confidence').textContent = typeof summary.confidence === 'number' ? summary.confidence.toFixed(2) : '—';
  renderDisagreements(summary.disagreements ?? []);
  renderHeatmap(summary.pairwise_distances ?? []);
}

function renderDisagreements(disagreements) {
  if (disagreements.length === 0) {
    $('disagreements').replaceChildren(el('p', { class: 'muted', textContent: 'the replicates agree' }));
    return;
  }
  $('disagreements').replaceChildren(
    ...disagreements.map((d) =>
      el(
        'div',
        { class: 'disagreement', dataset: { path: d.path } },
        el('code', { textContent: d.path === '' ? '(whole output)' : d.path }),
        el('ul', {}, ...d.values.map((v) => el('li', { textContent: `${short(v.value, 80)} — replicates ${v.replicates.join(', ')}` }))),
      ),
    ),
  );
}

/** n×n grid: white for identical outputs, dark for entirely different ones. */
function renderHeatmap(matrix) {
  const grid = $('heatmap');
  const n = matrix.length;
  grid.style.gridTemplateColumns = `repeat(${n + 1}, auto)`;
  const cells = [el('div', { class: 'cell label' })];
  for (let j = 0; j < n; j++) cells.push(el('div', { class: 'cell label', textContent: String(j) }));
  for (let i = 0; i < n; i++) {
    cells.push(el('div', { class: 'cell label', textContent: String(i) }));
    for (let j = 0; j < n; j++) {
      const d = Number(matrix[i]?.[j] ?? 0);
      const cell = el('div', { class: 'cell value', title: `replicates ${i} and ${j}: distance ${d.toFixed(3)}`, dataset: { i: String(i), j: String(j), distance: String(d) } });
      // CSSOM, not a style attribute: allowed by the page's Content-Security-Policy.
      const light = Math.round(97 - d * 62);
      cell.style.backgroundColor = `hsl(222, 70%, ${light}%)`;
      if (light < 55) cell.style.color = '#fff';
      cell.textContent = d === 0 ? '' : d.toFixed(1);
      cells.push(cell);
    }
  }
  grid.replaceChildren(...cells);
}

function renderResult(result) {
  setStatus(result.status);
  if (result.bundle) {
    state.run.replicates = new Map(result.bundle.replicates.map((r) => [`${r.step ?? ''}#${r.index}`, r]));
    if (state.run.requested === null) state.run.requested = result.bundle.statistics.requested;
    renderReplicates();
    renderSummary(result.bundle.summary);
  }
  if (result.output !== undefined && result.output !== null) $('consensus').textContent = show(result.output);
  renderBudget(result.budget?.used);
  if (result.error) $('form-error').textContent = `${result.error.code}: ${result.error.message}`;
  void loadRuns(true);
}

// ------------------------------------------------------------------ runs list

async function loadRuns(reset) {
  if (reset) state.cursor = null;
  const params = new URLSearchParams({ limit: '20' });
  const status = $('filter-status').value;
  if (status) params.set('status', status);
  if (state.cursor) params.set('after', state.cursor);
  try {
    const page = await api(`/v1/runs?${params}`);
    const items = page.data.map((r) =>
      el(
        'li',
        { dataset: { id: r.id }, onclick: () => void openRun(r.id) },
        el('span', { class: `badge ${r.status}`, textContent: r.status }),
        ` ${r.tool} · ${new Date(r.created_at).toLocaleTimeString()} `,
        el('code', { textContent: r.id.slice(-8) }),
      ),
    );
    if (reset) $('runs').replaceChildren(...items);
    else $('runs').append(...items);
    state.cursor = page.next_cursor;
    $('more').hidden = page.next_cursor === null;
  } catch (error) {
    if (error.status !== 401) $('form-error').textContent = error.message;
  }
}

async function openRun(id) {
  try {
    const record = await api(`/v1/runs/${encodeURIComponent(id)}`);
    if (record.status === 'queued' || record.status === 'running') {
      const { stream_token: token } = await api(`/v1/runs/${encodeURIComponent(id)}/stream_token`, { method: 'POST' });
      follow(id, token, null);
      return;
    }
    state.run?.source?.close();
    state.run = { id, token: null, source: null, replicates: new Map(), requested: null, done: true };
    resetView(id);
    renderResult(record);
  } catch (error) {
    $('form-error').textContent = error.message;
  }
}

$('refresh').addEventListener('click', () => void loadRuns(true));
$('more').addEventListener('click', () => void loadRuns(false));
$('filter-status').addEventListener('change', () => void loadRuns(true));

renderKeyState();
void loadTools();
void loadRuns(true);
