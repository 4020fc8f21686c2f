// NetSpectra console: live frames over /ws (or, without an engine, the store over REST) into
// charts (Chart.js, loaded as a classic script before this module) and tables. Every request
// for data carries the bearer token; the page itself holds none.

import { ipProtoNumber, portText, serviceName } from './names.js';

const CHANNELS = ['rates', 'protocols', 'top_talkers', 'heavy_hitters', 'spreaders', 'alerts'];
const CHART_SECONDS = 300;
const FLOWS_PER_PAGE = 25;
const FLOWS_REFRESH_MS = 2000;
const STATS_REFRESH_MS = 5000;
const TOKEN_KEY = 'netspectra.token';
const PROTOCOL_COLORS = { TCP: '#4ea1ff', UDP: '#f5a524', ICMP: '#3ccf8e', Other: '#a78bfa' };
const Chart = globalThis.Chart;

const $ = (id) => document.getElementById(id);

// ---- numbers and times ---------------------------------------------------------------------

const PREFIXES = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

/** 1234 -> "1.23 k", 999 -> "999 ", with three significant digits. */
export function si(n, unit = '') {
  if (!Number.isFinite(n)) return '–';
  let i = 0;
  let v = Math.abs(n);
  while (v >= 999.5 && i < PREFIXES.length - 1) {
    v /= 1000;
    i++;
  }
  const digits = i === 0 && Number.isInteger(n) ? 0 : v >= 99.95 ? 0 : v >= 9.995 ? 1 : 2;
  return `${n < 0 ? '-' : ''}${v.toFixed(digits)} ${PREFIXES[i]}${unit}`;
}

const count = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
/** Byte counts in IEC units (KiB, MiB), as the command line's reports; rates stay SI (bit/s). */
function bytes(n) {
  if (!Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}
const bps = (n) => si(n, 'bit/s');
const pps = (n) => si(n, 'pps');
const pad = (n, w = 2) => String(n).padStart(w, '0');

/** Packet times are UTC (a capture's clock, not the viewer's). */
function clock(ms) {
  const d = new Date(ms);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

function dateTime(ms) {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${clock(ms)} UTC`;
}

/** A flow's time in the table: the clock when live (today's traffic), the date too when stored. */
const flowTime = (ms) => (pageMode === 'store' ? dateTime(ms).replace(' UTC', '') : clock(ms));

/** Flow record times: epoch seconds with nanoseconds as text. */
const recordMs = (t) => (t ? Number(t) * 1000 : NaN);

function seconds(s) {
  if (!Number.isFinite(s)) return '–';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} m ${pad(Math.round(s % 60))} s`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} m`;
}

// ---- the token and requests ----------------------------------------------------------------

class AuthError extends Error {}

/** The token from a `#token=...` link (then removed from the address bar) or this tab's storage. */
function initialToken() {
  const m = /(?:^|&)token=([^&]*)/.exec(location.hash.slice(1));
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

let token = initialToken();

async function api(path) {
  const res = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {}, cache: 'no-store' });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) throw new AuthError(body.error ?? 'a valid bearer token is required');
  if (!res.ok) {
    const e = new Error(body.error ?? `${res.status} ${res.statusText}`);
    e.status = res.status;
    throw e;
  }
  return body;
}

// ---- status and errors ---------------------------------------------------------------------

function setStatus(state, text = state) {
  $('status').dataset.state = state;
  $('status-text').textContent = text;
}

function showError(text) {
  const e = $('error');
  e.textContent = text ?? '';
  e.hidden = !text;
}

function askToken(message) {
  setStatus('refused', 'token refused');
  showError(message);
  $('token-form').hidden = false;
  $('token-input').focus();
}

// ---- tables --------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-')) e.dataset[k.slice(5).replace(/-(.)/g, (_, c) => c.toUpperCase())] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

const FIELD_TITLES = { srcIp: 'Source', dstIp: 'Destination', srcPort: 'Src port', dstPort: 'Dst port', proto: 'Proto' };
const NUMERIC_FIELDS = new Set(['srcPort', 'dstPort']);

const endpoint = (ip, port) => (port === undefined ? ip : ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** A port with its service name ("443 https"), or ICMP's type/code named; `proto` is the
 * protocol's name when the key has it. */
const portName = (port, proto) => portText(proto ? ipProtoNumber(String(proto)) : undefined, Number(port));

/** A key with both addresses in one two-line cell: five columns do not fit a quarter screen. */
function flowCell(f) {
  const service = f.dstPort === undefined ? undefined : serviceName(f.proto ? ipProtoNumber(String(f.proto)) : undefined, Number(f.dstPort));
  const tail = `${f.proto ? ` ${f.proto}` : ''}${service ? ` ${service}` : ''}`;
  const text = `${endpoint(f.srcIp, f.srcPort)} → ${endpoint(f.dstIp, f.dstPort)}${tail}`;
  return el('td', { class: 'flow', 'data-field': 'flow', title: text },
    el('div', { text: endpoint(f.srcIp, f.srcPort) }),
    el('div', {}, el('span', { class: 'to', text: '→ ' }), `${endpoint(f.dstIp, f.dstPort)}${tail}`));
}

const KEY_FIELDS = { SrcIP: 'srcIp', DstIP: 'dstIp', SrcPort: 'srcPort', DstPort: 'dstPort', Protocol: 'proto' };

/** A key field's cell; an address is a link to its flows and alerts ("-": packets without IP). */
function keyCell(field, value, proto) {
  const text = NUMERIC_FIELDS.has(field) && value !== undefined ? portName(value, proto) : String(value ?? '');
  const attrs = { class: NUMERIC_FIELDS.has(field) ? 'num' : 'key', 'data-field': field, title: text };
  if ((field === 'srcIp' || field === 'dstIp') && text === '-') return el('td', { ...attrs, title: 'packets without an IP header (ARP, LLDP, ...)', text: 'non-IP' });
  if (field === 'srcIp' || field === 'dstIp') return el('td', attrs, addressLink(text));
  return el('td', { ...attrs, text });
}

/** An address cell of a flow record with what is known of the address on hover: the name the
 * client asked for (the responder's), its country and autonomous system. */
function whereCell(cell, country, as, asName, name) {
  const parts = [name, country, as ? `AS${as}${asName ? ` ${asName}` : ''}` : ''].filter(Boolean);
  if (parts.length === 0) return cell;
  const b = cell.querySelector('button.addr') ?? cell;
  b.title = `${b.title ?? ''} (${parts.join(', ')})`;
  cell.dataset.where = parts.join(', ');
  return cell;
}

/** An address that shows its flows (the flow filter) and marks the alerts naming it. */
function addressLink(ip) {
  const b = el('button', { type: 'button', class: 'addr', title: `${ip}: its flows and alerts`, text: ip });
  b.addEventListener('click', () => drill(ip));
  return b;
}

function drill(ip) {
  $('filter-ip').value = ip;
  flowState.ip = ip;
  flowState.offset = 0;
  void loadFlows();
  markAlerts(ip);
  $('flows').scrollIntoView({ block: 'start' });
}

/** Alerts naming the address stand out; the others are dimmed until another is picked. */
function markAlerts(ip) {
  let n = 0;
  for (const li of $('alerts').querySelectorAll('li[data-state]')) {
    const hit = Boolean(ip) && li.textContent.includes(ip);
    li.classList.toggle('match', hit);
    li.classList.toggle('dim', Boolean(ip) && !hit);
    if (hit) n++;
  }
  $('alerts').dataset.drill = ip;
  $('alerts').dataset.matches = String(n);
}

/** One task's top list as a table: its key fields, then the counts it has. */
function topTable(list, counts) {
  // A prefix comes with its lengths ("SrcPrefix/24/48"): its column is the field's.
  const fields = list.key.split(',').map((f) => KEY_FIELDS[f] ?? f.split('/')[0]);
  const asFlow = fields.includes('srcIp') && fields.includes('dstIp');
  const columns = asFlow ? ['flow'] : fields;
  const caption = el('caption', { text: `${list.task}: ${list.key}${list.element ? ` → distinct ${list.element}` : ''}${list.threshold ? `, threshold ${count(list.threshold)}` : ''}` });
  const head = el('tr', {}, ...columns.map((f) => el('th', { scope: 'col', class: NUMERIC_FIELDS.has(f) ? 'num' : '', text: f === 'flow' ? 'Flow' : (FIELD_TITLES[f] ?? f) })), ...counts.map((c) => el('th', { scope: 'col', class: 'num', text: c })));
  const body = el('tbody');
  for (const r of list.rows) {
    const cells = asFlow
      ? [flowCell(r.fields)]
      : fields.map((f) => keyCell(f, r.fields[f], r.fields.proto));
    const values = counts.map((c) => {
      const v = r[c.toLowerCase()];
      return el('td', { class: 'num', 'data-field': c.toLowerCase(), 'data-value': String(v ?? ''), title: count(v), text: c === 'Bytes' ? bytes(v) : count(v) });
    });
    body.append(el('tr', {}, ...cells, ...values));
  }
  if (!list.rows.length) body.append(el('tr', {}, el('td', { class: 'empty', colspan: String(columns.length + counts.length), text: list.type === 'superspread' ? 'no key above the threshold' : 'nothing counted yet' })));
  return el('table', { class: 'data compact', 'data-task': list.task, ...(list.by ? { 'data-by': list.by } : {}) }, caption, el('thead', {}, head), body);
}

function renderLists(container, lists, counts, none) {
  container.replaceChildren(...(lists.length ? lists.map((l) => topTable(l, counts)) : [el('p', { class: 'empty', text: none })]));
}

/** A card's window label, with the full times on hover. */
function labelWindow(id, w) {
  $(id).textContent = windowText(w);
  $(id).title = w ? `${dateTime(w.startMs)} – ${dateTime(w.endMs)}` : '';
}

function windowText(w) {
  if (!w) return '';
  return `${w.open ? 'open' : 'last closed'} window ${clock(w.startMs)}–${clock(w.endMs)}`;
}

// ---- charts --------------------------------------------------------------------------------

Chart.defaults.color = '#8795a8';
Chart.defaults.borderColor = '#232c38';
Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

function timeAxis(format) {
  return { type: 'linear', ticks: { maxTicksLimit: 8, callback: (v) => format(v), maxRotation: 0 }, grid: { color: '#1c2430' } };
}

/** A line needs two points: one or two (a capture analysed whole) are drawn as dots. */
const fewPoints = (ctx) => (ctx.dataset.data.length < 3 ? 5 : 0);

/** Live, the newest second is still filling: the segment to it is dashed, not read as a drop. */
const filling = { borderDash: (ctx) => (pageMode === 'live' && ctx.p1DataIndex === ctx.chart.data.datasets[0].data.length - 1 ? [4, 4] : undefined) };

const rateChart = new Chart($('rate-chart'), {
  type: 'line',
  data: {
    datasets: [
      { label: 'packets/s', data: [], yAxisID: 'pps', borderColor: '#4ea1ff', backgroundColor: 'rgba(78,161,255,0.12)', fill: true, pointRadius: fewPoints, borderWidth: 1.6, tension: 0.2, segment: filling },
      { label: 'bits/s', data: [], yAxisID: 'bps', borderColor: '#f5a524', pointRadius: fewPoints, borderWidth: 1.4, tension: 0.2, segment: filling },
    ],
  },
  options: {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    parsing: false,
    normalized: true,
    interaction: { mode: 'index', intersect: false },
    scales: {
      x: timeAxis(clock),
      pps: { type: 'linear', position: 'left', beginAtZero: true, ticks: { callback: (v) => pps(v) } },
      bps: { type: 'linear', position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, ticks: { callback: (v) => bps(v) } },
    },
    plugins: {
      legend: { position: 'top', align: 'end', labels: { boxWidth: 10, boxHeight: 10 } },
      tooltip: {
        callbacks: {
          title: (items) => (items.length ? `${clock(items[0].parsed.x)} UTC` : ''),
          label: (item) => (item.dataset.yAxisID === 'bps' ? bps(item.parsed.y) : pps(item.parsed.y)),
        },
      },
    },
  },
});

const protoChart = new Chart($('proto-chart'), {
  type: 'doughnut',
  data: { labels: Object.keys(PROTOCOL_COLORS), datasets: [{ data: [0, 0, 0, 0], backgroundColor: Object.values(PROTOCOL_COLORS), borderColor: '#161c24', borderWidth: 2 }] },
  options: {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    cutout: '62%',
    plugins: { legend: { position: 'right', labels: { boxWidth: 10, boxHeight: 10 } }, tooltip: { callbacks: { label: (i) => `${i.label}: ${count(i.parsed)} packets` } } },
  },
});

// ---- live frames ---------------------------------------------------------------------------

/** The chart's seconds by start time (packet time). */
const secondsByT = new Map();

function rates(data, history) {
  if (history) secondsByT.clear();
  for (const s of data.seconds) secondsByT.set(s.t, s);
  const latest = Math.max(...secondsByT.keys());
  for (const t of secondsByT.keys()) if (t <= latest - CHART_SECONDS * 1000) secondsByT.delete(t);
  // A second without packets is not sent: it is a zero on the chart, not a line across.
  const kept = [];
  if (secondsByT.size) {
    for (let t = Math.min(...secondsByT.keys()); t <= latest; t += 1000) kept.push(secondsByT.get(t) ?? { t, packets: 0, bytes: 0 });
  }
  rateChart.data.datasets[0].data = kept.map((s) => ({ x: s.t, y: s.packets }));
  rateChart.data.datasets[1].data = kept.map((s) => ({ x: s.t, y: s.bytes * 8 }));
  rateChart.update('none');
  const canvas = $('rate-chart');
  canvas.dataset.points = String(kept.length);
  canvas.dataset.packets = String(kept.reduce((n, s) => n + s.packets, 0));
  // The latest second is still filling: the one before it is the rate.
  const last = kept.length > 1 ? kept[kept.length - 2] : kept[kept.length - 1];
  if (last) {
    $('kpi-pps').textContent = pps(last.packets);
    $('kpi-bps').textContent = bps(last.bytes * 8);
  }
  if (data.window) {
    $('kpi-window').textContent = `${count(data.window.packets)} pkts, ${bytes(data.window.bytes)}`;
    $('kpi-window').title = windowText(data.window);
  }
}

function protocols(data) {
  const entries = Object.entries(data.protocols);
  const total = entries.reduce((n, [, c]) => n + c.packets, 0);
  protoChart.data.datasets[0].data = Object.keys(PROTOCOL_COLORS).map((p) => data.protocols[p]?.packets ?? 0);
  protoChart.update('none');
  const body = $('proto-table').tBodies[0];
  body.replaceChildren(
    ...entries.map(([name, c]) =>
      el(
        'tr',
        { 'data-protocol': name },
        el('td', {}, swatch(PROTOCOL_COLORS[name] ?? '#888'), name),
        el('td', { class: 'num', 'data-field': 'packets', 'data-value': String(c.packets), text: `${count(c.packets)}${total ? ` (${((100 * c.packets) / total).toFixed(1)}%)` : ''}` }),
        el('td', { class: 'num', 'data-field': 'bytes', 'data-value': String(c.bytes), title: `${count(c.bytes)} bytes`, text: bytes(c.bytes) }),
      ),
    ),
  );
  labelWindow('proto-sub', data.window);
}

/** A colour key (through the CSSOM: the page's CSP allows no inline style attributes). */
function swatch(color) {
  const s = el('span', { class: 'swatch' });
  s.style.background = color;
  return s;
}

let heavyLists = [];

function renderHeavy() {
  const by = $('heavy-by').value;
  renderLists($('heavy'), heavyLists.filter((l) => l.by === by), ['Packets', 'Bytes'], 'no Count-Min task');
}
$('heavy-by').addEventListener('change', renderHeavy);

function alerts(data) {
  const list = $('alerts');
  const items = [];
  for (const a of data.active) {
    items.push(
      el('li', { 'data-severity': a.severity, 'data-state': a.state },
        el('div', { class: 'what' }, el('span', { class: 'state', text: a.state }), `${a.rule}${a.keyText ? `: ${a.keyText}` : ''}`),
        el('div', { class: 'when', text: `${a.valueText} · ${a.windows} window(s) · since ${dateTime(a.startsAtMs)}` }),
        alertPackets(a.id)),
    );
  }
  // Recent events newest first: an alert no longer active shows its latest state once (its
  // resolve, not the firing before it).
  const shown = new Set(data.active.map((a) => a.id));
  for (const e of data.recent.filter((r) => !shown.has(r.id) && shown.add(r.id))) {
    items.push(
      el('li', { 'data-severity': e.severity, 'data-state': e.state },
        el('div', { class: 'what' }, el('span', { class: 'state', text: e.state }), e.summary),
        el('div', { class: 'when', text: dateTime(Date.parse(e.at)) }),
        alertPackets(e.id)),
    );
  }
  if (!items.length) items.push(el('li', { class: 'empty', text: data.rules ? 'no active alerts' : 'no alert rules configured' }));
  list.replaceChildren(...items);
  if (list.dataset.drill) markAlerts(list.dataset.drill);
  $('alerts-sub').textContent = data.rules ? `${data.active.filter((a) => a.state === 'firing').length} firing, ${data.rules} rule(s)` : '';
}

const handlers = {
  rates: (d, history) => rates(d, history),
  protocols,
  top_talkers: (d) => {
    renderLists($('talkers'), d.lists, ['Packets', 'Bytes'], 'no exact task');
    labelWindow('talkers-sub', d.window);
  },
  heavy_hitters: (d) => {
    heavyLists = d.lists;
    renderHeavy();
  },
  spreaders: (d) => renderLists($('spreaders'), d.lists, ['Spread'], 'no SuperSpread task'),
  alerts,
};

// ---- the WebSocket -------------------------------------------------------------------------

let socket = null;
let retryMs = 1000;
let lastSeq = 0;

function connect() {
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  // Browsers cannot set headers on a WebSocket: the token rides as a subprotocol when it can.
  const asProtocol = /^[A-Za-z0-9._~+-]+$/.test(token);
  const ws = asProtocol || !token ? new WebSocket(url, token ? ['netspectra', `bearer.${token}`] : ['netspectra']) : new WebSocket(`${url}?token=${encodeURIComponent(token)}`, ['netspectra']);
  socket = ws;
  let opened = false;
  ws.onopen = () => {
    opened = true;
    retryMs = 1000;
    setStatus('live');
    showError('');
    ws.send(JSON.stringify({ subscribe: CHANNELS }));
  };
  ws.onmessage = (ev) => {
    const m = JSON.parse(ev.data);
    if (m.type === 'frame') {
      // A gap in the sequence: the server skipped this client while it was behind.
      if (m.channel === 'rates' && !m.history && lastSeq && m.seq > lastSeq + 1) void refillSeconds();
      if (m.channel === 'rates') lastSeq = m.seq;
      handlers[m.channel]?.(m.data, Boolean(m.history));
      document.body.dataset.frames = String(Number(document.body.dataset.frames ?? 0) + 1);
    } else if (m.type === 'error') {
      showError(`console: ${m.error}`);
    }
  };
  ws.onclose = async (ev) => {
    if (socket !== ws) return;
    socket = null;
    if (!opened) {
      // The handshake's status is hidden from pages: ask the API why.
      try {
        await api('/api/stats');
      } catch (e) {
        if (e instanceof AuthError) return askToken(`The token was refused: ${e.message}.`);
      }
    }
    setStatus('reconnecting', ev.reason ? `reconnecting (${ev.reason})` : 'reconnecting');
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 10_000);
  };
}

async function refillSeconds() {
  const ts = [...secondsByT.keys()];
  if (!ts.length) return;
  try {
    const r = await api(`/api/counters?start=${Math.max(...ts) - CHART_SECONDS * 1000}`);
    rates({ seconds: r.seconds, window: null }, false);
  } catch {
    // The next frames carry on; the gap stays.
  }
}

// ---- the flow table ------------------------------------------------------------------------

const flowState = { sort: 'bytes', dir: 'desc', offset: 0, ip: '', port: '', proto: '' };
let flowTimer = null;
let statsTimer = null;
let flowsBusy = false;
/** The filter or page changed while a load was running: load again when it ends. */
let flowsAgain = false;

function flowParams() {
  const p = new URLSearchParams({ limit: String(FLOWS_PER_PAGE), offset: String(flowState.offset), sort: flowState.sort, dir: flowState.dir });
  if (pageMode === 'store') for (const [k, v] of viewParams()) p.set(k, v);
  if (flowState.ip) p.set('ip', flowState.ip);
  if (flowState.port !== '') p.set('port', flowState.port);
  if (flowState.proto) p.set('proto', flowState.proto);
  return p;
}

async function loadFlows() {
  if (flowsBusy) {
    flowsAgain = true;
    return;
  }
  flowsBusy = true;
  const body = $('flows').tBodies[0];
  // What the rows answer, even if the form changes before they arrive.
  const query = flowParams().toString();
  try {
    const page = await api(`/api/flows?${query}`);
    $('flows-error').textContent = '';
    body.replaceChildren(...page.flows.map(flowRow));
    if (!page.flows.length) body.append(el('tr', {}, el('td', { class: 'empty', colspan: '15', text: page.matched ? 'no flows on this page' : 'no flow matches' })));
    const first = page.flows.length ? flowState.offset + 1 : 0;
    const last = flowState.offset + page.flows.length;
    $('flows-range').textContent = `${count(first)}–${count(last)} of ${count(page.matched)} matching`;
    $('flows-sub').textContent = page.mode === 'store' ? 'stored flow records' : `${count(page.active)} active in the conversation table`;
    $('flows-prev').disabled = flowState.offset === 0;
    $('flows-next').disabled = last >= page.matched;
    $('flows').dataset.query = query;
  } catch (e) {
    if (e instanceof AuthError) return askToken(`The token was refused: ${e.message}.`);
    // The rows shown no longer answer the filter: none rather than wrong ones.
    $('flows-error').textContent = e.status === 400 ? e.message : '';
    body.replaceChildren(el('tr', {}, el('td', { class: 'empty', colspan: '15', text: e.status === 400 ? 'fix the filter' : e.message })));
    $('flows-range').textContent = '';
    $('flows').dataset.query = query;
  } finally {
    flowsBusy = false;
    if (flowsAgain) {
      flowsAgain = false;
      void loadFlows();
    }
  }
}

function flowRow(f) {
  const first = recordMs(f.firstTime);
  const lastT = recordMs(f.lastTime);
  const packets = f.packetsAtoB + f.packetsBtoA;
  const total = f.bytesAtoB + f.bytesBtoA;
  const td = (field, text, cls = '', title = '') => el('td', { 'data-field': field, class: cls, ...(title ? { title } : {}), text });
  const row = el(
    'tr',
    { class: 'traceable', title: 'its stored windows: click the row' },
    whereCell(keyCell('srcIp', f.srcIp), f.srcCountry, f.srcAs, f.srcAsName),
    td('srcPort', String(f.srcPort), 'num'),
    whereCell(keyCell('dstIp', f.dstIp), f.dstCountry, f.dstAs, f.dstAsName, f.serverName),
    td('dstPort', String(f.dstPort), 'num'),
    td('proto', f.protoName || String(f.proto)),
    td('service', f.service || '–', '', 'IANA service name of the responder\'s port (else the initiator\'s)'),
    td('serverName', f.serverName || (f.app ? `(${f.app})` : '–'), 'name', f.app ? `${f.app}${f.alpn ? `, ALPN ${f.alpn}` : ''}: the name the client asked for (TLS/QUIC SNI, HTTP Host, DNS query)` : 'no name read from the flow\'s first packets'),
    td('packets', count(packets), 'num', `A→B ${count(f.packetsAtoB)} / B→A ${count(f.packetsBtoA)}`),
    td('bytes', bytes(total), 'num', `A→B ${count(f.bytesAtoB)} B / B→A ${count(f.bytesBtoA)} B`),
    td('first', Number.isFinite(first) ? flowTime(first) : '–', '', Number.isFinite(first) ? dateTime(first) : ''),
    td('last', Number.isFinite(lastT) ? flowTime(lastT) : '–', '', Number.isFinite(lastT) ? dateTime(lastT) : ''),
    td('duration', seconds((lastT - first) / 1000), 'num'),
    td('state', f.reason === 'open' ? f.state : `${f.state} (${f.reason})`),
    td('direction', f.direction || '–'),
    td('flags', flagsText(f), '', 'TCP flags seen A→B / B→A'),
    td('communityId', f.communityId || '–', 'cid', f.communityId || 'no Community ID (flows.communityId off)'),
  );
  // A click on the row (not on an address, which filters) shows the flow's trace.
  row.addEventListener('click', (ev) => {
    if (!(ev.target instanceof HTMLElement && ev.target.closest('button'))) void trace(f);
  });
  return row;
}

/** A flow's stored windows, both directions (TraceFlow over the stored exact 5-tuple task). */
async function trace(f) {
  const section = $('trace');
  section.hidden = false;
  const what = `${endpoint(f.srcIp, f.srcPort)} → ${endpoint(f.dstIp, f.dstPort)} ${f.protoName || f.proto}`;
  $('trace-title').textContent = `Trace of ${what}`;
  const body = $('trace-windows').tBodies[0];
  body.replaceChildren();
  const q = new URLSearchParams({ src_ip: f.srcIp, dst_ip: f.dstIp, src_port: String(f.srcPort), dst_port: String(f.dstPort), protocol: String(f.protoName || f.proto).toLowerCase(), both: '1' });
  tracedFlow = f;
  $('trace-packets-note').textContent = '';
  try {
    const t = await api(`/api/v1/trace?${q}`);
    const n = (v) => Number(v ?? 0);
    body.replaceChildren(
      ...(t.windows ?? []).map((w) =>
        el('tr', {},
          el('td', { text: dateTime(Date.parse(w.windowStart)).replace(' UTC', '') }),
          el('td', { class: 'num', text: count(n(w.packets)) }),
          el('td', { class: 'num', text: bytes(n(w.bytes)) }),
          el('td', { class: 'num', text: count(n(w.reversePackets)) }),
          el('td', { class: 'num', text: bytes(n(w.reverseBytes)) })),
      ),
    );
    $('trace-sub').textContent = t.found
      ? `${count((t.windows ?? []).length)} stored window(s) of task ${t.task}, ${count(n(t.packets) + n(t.reversePackets))} packets; ${count((t.records ?? []).length)} flow record(s)`
      : `no stored window of task ${t.task} holds this flow (yet)`;
    section.dataset.state = t.found ? 'found' : 'none';
  } catch (e) {
    if (e instanceof AuthError) return askToken(`The token was refused: ${e.message}.`);
    $('trace-sub').textContent = e.message;
    section.dataset.state = 'error';
  }
  section.scrollIntoView({ block: 'nearest' });
}

let tracedFlow = null;

/** The source whose capture files hold a flow's packets: the one picked, else the capture the
 * record names (offline, its interface is the file); none for live flows (the server's
 * persisted captures). */
function packetSource(f) {
  if (storeView.source) return storeView.source;
  return f.interface && /\.(pcap|pcapng|cap)$/i.test(f.interface) ? `analyze:${f.interface}` : '';
}

/** A pcapng of the packets `query` selects (GET /api/v1/pcap), handed to the browser as a
 * download; `note` says how it went. The request carries the token, so the file is fetched
 * here (at most api.maxPcapBytes). */
async function downloadPcap(query, filename, note) {
  note.textContent = 'fetching packets…';
  try {
    const res = await fetch(`/api/v1/pcap?${query}`, { headers: token ? { Authorization: `Bearer ${token}` } : {}, cache: 'no-store' });
    if (res.status === 401) return askToken('The token was refused.');
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      note.textContent = body.error ?? `${res.status} ${res.statusText}`;
      return;
    }
    const blob = await res.blob();
    const a = el('a', { href: URL.createObjectURL(blob), download: filename.replace(/:/g, '.') });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
    note.textContent = `${bytes(blob.size)} downloaded`;
  } catch (e) {
    // The server ends the download early at its size limit: said, not a silent short file.
    note.textContent = `the download did not complete: ${e.message} (the server's limit is api.maxPcapBytes)`;
  }
}

/** The traced flow's packets, both ways. */
function downloadPackets() {
  const f = tracedFlow;
  if (!f) return;
  const q = new URLSearchParams({ src_ip: f.srcIp, dst_ip: f.dstIp, protocol: String(f.proto) });
  if (f.srcPort || f.dstPort) {
    q.set('src_port', String(f.srcPort));
    q.set('dst_port', String(f.dstPort));
  }
  const source = packetSource(f);
  if (source) q.set('source', source);
  return downloadPcap(q, `${f.srcIp}_${f.srcPort}-${f.dstIp}_${f.dstPort}.pcapng`, $('trace-packets-note'));
}

/** An alert's action: the packets of its key over its windows. */
function alertPackets(id) {
  const note = el('span', { class: 'sub' });
  const b = el('button', { type: 'button', class: 'ghost packets', title: 'the packets of this alert\'s key over its windows, as a pcapng file', text: 'packets' });
  b.addEventListener('click', () => void downloadPcap(new URLSearchParams({ alert: id }), `alert-${id}.pcapng`, note));
  return el('div', { class: 'actions' }, b, note);
}

$('trace-packets').addEventListener('click', () => void downloadPackets());

/** TCP flags of both directions ("SYN,ACK / SYN,ACK"); none for other protocols. */
function flagsText(f) {
  if (!f.tcpFlagsAtoB && !f.tcpFlagsBtoA) return '–';
  return `${f.tcpFlagsAtoB || '–'} / ${f.tcpFlagsBtoA || '–'}`;
}

function sortBy(th) {
  const key = th.dataset.sort;
  flowState.dir = flowState.sort === key && flowState.dir === 'desc' ? 'asc' : 'desc';
  flowState.sort = key;
  flowState.offset = 0;
  for (const h of $('flows').querySelectorAll('th[data-sort]')) {
    h.setAttribute('aria-sort', h.dataset.sort === key ? (flowState.dir === 'asc' ? 'ascending' : 'descending') : 'none');
  }
  void loadFlows();
}

for (const th of $('flows').querySelectorAll('th[data-sort]')) th.querySelector('button').addEventListener('click', () => sortBy(th));

$('flow-filter').addEventListener('submit', (ev) => {
  ev.preventDefault();
  flowState.ip = $('filter-ip').value.trim();
  flowState.port = $('filter-port').value.trim();
  flowState.proto = $('filter-proto').value;
  flowState.offset = 0;
  void loadFlows();
});
$('flow-filter').addEventListener('reset', () => {
  Object.assign(flowState, { ip: '', port: '', proto: '', offset: 0 });
  setTimeout(() => void loadFlows());
});
$('flows-prev').addEventListener('click', () => {
  flowState.offset = Math.max(0, flowState.offset - FLOWS_PER_PAGE);
  void loadFlows();
});
$('flows-next').addEventListener('click', () => {
  flowState.offset += FLOWS_PER_PAGE;
  void loadFlows();
});

// ---- stats and the offline view ------------------------------------------------------------

function showStats(s) {
  const mode = $('mode');
  mode.dataset.mode = s.mode;
  mode.textContent = s.mode === 'live' ? 'live' : 'stored';
  if (s.capture) {
    const d = s.capture.drops;
    $('kpi-drops').textContent = count(d.kernel + d.interface + d.probe);
    $('kpi-drops').title = `kernel ${count(d.kernel)}, interface ${count(d.interface)}, probe ${count(d.probe)}; snaplen ${s.capture.snaplen}; ${s.capture.interfaces.join(', ') || 'no probe yet'}`;
  } else {
    $('kpi-drops').textContent = '–';
  }
}

async function refreshStats() {
  try {
    showStats(await api('/api/stats'));
  } catch (e) {
    if (e instanceof AuthError) askToken(`The token was refused: ${e.message}.`);
  }
}

/** 'live' or 'store', as /api/stats says. */
let pageMode = null;

/** Store mode: the source and time range shown, kept in the address bar (?source=&start=&end=,
 * epoch ms). No source: every source the store holds; no range: all it holds. */
const storeView = (() => {
  const q = new URLSearchParams(location.search);
  const ms = (v) => (v && /^\d+$/.test(v) ? Number(v) : null);
  return { source: q.get('source'), start: ms(q.get('start')), end: ms(q.get('end')) };
})();

/** The view's query parameters for /api/timeline, /api/summary and /api/flows. */
function viewParams() {
  const p = new URLSearchParams();
  if (storeView.source) p.set('source', storeView.source);
  if (storeView.start !== null) p.set('start', String(storeView.start));
  if (storeView.end !== null) p.set('end', String(storeView.end));
  return p;
}

/** A datetime-local value (UTC) and back. */
const localValue = (ms) => (ms === null ? '' : new Date(ms).toISOString().slice(0, 19));
const fromLocal = (v) => (v ? Date.parse(`${v.length === 16 ? `${v}:00` : v}Z`) : null);

function showStoreView(stats) {
  const form = $('store-view');
  form.hidden = false;
  const select = $('view-source');
  const sources = stats.store?.sources ?? [];
  // analyze --serve names its analysis; otherwise every source until one is picked.
  if (storeView.source === null) storeView.source = stats.store?.source ?? '';
  select.replaceChildren(el('option', { value: '', text: `every source (${sources.length})` }), ...sources.map((src) => el('option', { value: src, text: src })));
  if (storeView.source && !sources.includes(storeView.source)) select.append(el('option', { value: storeView.source, text: `${storeView.source} (nothing stored)` }));
  select.value = storeView.source;
}

function keepView() {
  const url = new URL(location.href);
  url.search = viewParams().toString();
  history.replaceState(null, '', url);
}

/** Without an engine: the stored windows as a timeline, and the stored range's tables. */
async function loadStored(stats) {
  setStatus('stored', 'stored windows');
  showStoreView(stats);
  const view = viewParams().toString();
  const source = view ? `&${view}` : '';
  $('rate-title').textContent = storeView.source ? `Stored windows of ${storeView.source}` : 'Stored windows, every source';
  $('kpi-window-label').textContent = 'Stored';
  const [timeline, summary] = await Promise.all([api(`/api/timeline?limit=10000${source}`), api(`/api/summary?top=10${source}`)]);
  // The range shown: the one asked for, else what the picked source's windows cover.
  const from = storeView.start ?? timeline.fromMs;
  const to = storeView.end ?? timeline.toMs;
  $('rate-sub').textContent = from ? `${dateTime(from)} – ${dateTime(to)}` : 'nothing stored in this view';
  // What is shown by default is remembered: a submit that leaves it keeps following the source.
  for (const [id, v] of [['view-start', from], ['view-end', to]]) $(id).value = $(id).dataset.shown = localValue(v ?? null);
  const span = timeline.points.length > 1 ? timeline.points[timeline.points.length - 1].t - timeline.points[0].t : 0;
  const format = span > 2 * 86_400_000 ? (v) => dateTime(v).slice(0, 10) : clock;
  rateChart.options.scales.x = timeAxis(format);
  if (from) {
    // The range shown, with a margin: a single window is a dot in the middle, not at an edge.
    const pad = Math.max((to - from) * 0.02, 1000);
    Object.assign(rateChart.options.scales.x, { min: from - pad, max: to + pad });
  }
  rateChart.options.scales.pps.ticks.callback = (v) => si(v, 'pkts');
  rateChart.options.scales.bps.ticks.callback = (v) => bytes(v);
  rateChart.options.plugins.tooltip.callbacks.label = (i) => (i.dataset.yAxisID === 'bps' ? bytes(i.parsed.y) : `${count(i.parsed.y)} packets`);
  for (const d of rateChart.data.datasets) d.tension = 0;
  rateChart.data.datasets[0].label = 'packets per window';
  rateChart.data.datasets[1].label = 'bytes per window';
  rateChart.data.datasets[0].data = timeline.points.map((p) => ({ x: p.t, y: p.packets }));
  rateChart.data.datasets[1].data = timeline.points.map((p) => ({ x: p.t, y: p.bytes }));
  rateChart.update('none');
  $('rate-chart').dataset.points = String(timeline.points.length);
  const packets = timeline.points.reduce((n, p) => n + p.packets, 0);
  const total = timeline.points.reduce((n, p) => n + p.bytes, 0);
  $('kpi-window').textContent = `${count(packets)} pkts, ${bytes(total)}`;
  const spanS = from ? (to - from) / 1000 : 0;
  $('kpi-pps').textContent = spanS > 0 ? pps(packets / spanS) : '–';
  $('kpi-bps').textContent = spanS > 0 ? bps((8 * total) / spanS) : '–';
  $('kpi-pps').title = $('kpi-bps').title = 'average over the stored range';
  protocols(summary.protocols);
  $('proto-sub').textContent = 'stored range';
  handlers.top_talkers(summary.top_talkers);
  $('talkers-sub').textContent = 'stored range';
  handlers.heavy_hitters(summary.heavy_hitters);
  $('heavy-sub').textContent = 'summed over the windows where each key was a candidate: at most its true count';
  handlers.spreaders(summary.spreaders);
  alerts(summary.alerts);
  document.body.dataset.stored = 'loaded';
}

async function start() {
  let stats;
  try {
    stats = await api('/api/stats');
  } catch (e) {
    if (e instanceof AuthError) return askToken(token ? `The token was refused: ${e.message}.` : `This server needs a token: ${e.message}.`);
    setStatus('error', 'unreachable');
    showError(`The server did not answer: ${e.message}`);
    setTimeout(start, 5000);
    return;
  }
  $('token-form').hidden = true;
  showError('');
  showStats(stats);
  pageMode = stats.mode;
  if (stats.mode === 'live') {
    if (!socket) connect();
    statsTimer ??= setInterval(refreshStats, STATS_REFRESH_MS);
    flowTimer ??= setInterval(() => void loadFlows(), FLOWS_REFRESH_MS);
  } else {
    await loadStored(stats).catch((e) => showError(`The store could not be read: ${e.message}`));
  }
  void loadFlows();
}

$('store-view').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const picked = (id, now) => ($(id).value === $(id).dataset.shown ? now : fromLocal($(id).value));
  storeView.start = picked('view-start', storeView.start);
  storeView.end = picked('view-end', storeView.end);
  storeView.source = $('view-source').value;
  keepView();
  flowState.offset = 0;
  void start();
});

$('view-all').addEventListener('click', () => {
  storeView.start = null;
  storeView.end = null;
  keepView();
  flowState.offset = 0;
  void start();
});

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  token = $('token-input').value.trim();
  sessionStorage.setItem(TOKEN_KEY, token);
  $('token-input').value = '';
  // A connection made with the old token is closed without its reconnect.
  const old = socket;
  socket = null;
  old?.close();
  void start();
});
$('token-button').addEventListener('click', () => {
  const f = $('token-form');
  f.hidden = !f.hidden;
  if (!f.hidden) $('token-input').focus();
});

void start();
