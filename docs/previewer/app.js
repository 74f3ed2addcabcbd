// kubectl-voice previewer: the page around voice-wasm. All planning happens in the WASM
// module (voice-core); this file only edits text, draws tables and charts, and packs files.
import init, * as voice from './pkg/voice_wasm.js';

const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
};
// replaceChildren with the empty parts left out.
const fill = (node, ...parts) => node.replaceChildren(...parts.filter((p) => p !== null && p !== undefined && p !== false));
const SVG = 'http://www.w3.org/2000/svg';
const svg = (tag, attrs = {}, text) => {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};

// Elements built from data and kept while their data is unchanged: an edit usually touches a
// few rows, and building every row of a large table again costs more than planning.
function keyed(cache, items, sig, build) {
  const next = new Map();
  const out = items.map((it, i) => {
    const k = sig(it, i);
    const e = next.get(k) ?? cache.get(k) ?? build(it, i);
    next.set(k, e);
    return e;
  });
  cache.clear();
  for (const [k, e] of next) cache.set(k, e);
  return out;
}
// Puts `nodes` into `parent`, replacing only the positions whose node changed.
function patch(parent, nodes) {
  const cur = [...parent.childNodes];
  const kept = new Set(cur);
  if (cur.length !== nodes.length || nodes.some((n, i) => n !== cur[i] && kept.has(n))) {
    parent.replaceChildren(...nodes);
    return;
  }
  nodes.forEach((n, i) => { if (n !== cur[i]) parent.replaceChild(n, cur[i]); });
}

// ---------------------------------------------------------------- formatting

const fmtCpu = (m) => (m % 1000 === 0 ? `${m / 1000}` : `${m}m`);
const fmtCpuCores = (m) => `${(m / 1000).toFixed(m % 1000 === 0 ? 0 : 2).replace(/\.?0+$/, (s) => (s.includes('.') ? '' : s))}`;
function fmtBytes(b) {
  if (!b) return '0';
  const units = [['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['Ki', 2 ** 10]];
  for (const [u, n] of units) {
    if (b >= n) {
      const v = b / n;
      return `${Number.isInteger(v) ? v : v.toFixed(1)}${u}`;
    }
  }
  return `${b}`;
}
const plural = (n, w) => `${n} ${w}${n === 1 ? '' : 's'}`;

// ---------------------------------------------------------------- YAML emitter (form → text)

// Plain scalars that YAML 1.1/1.2 would read as something other than a string.
const RESERVED = /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF|y|Y|n|N|[-+]?(?:\d[\d_]*)?(?:\.\d*)?(?:[eE][-+]?\d+)?|0x[0-9a-fA-F]+|0o[0-7]+|[-+]?\.inf|\.nan)$/;
function scalar(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  const s = String(v);
  if (s === '' || RESERVED.test(s) || /^[\s\-?:,[\]{}#&*!|>'"%@`]|[:#]\s|\s$|:$|[\n\t]/.test(s)) return JSON.stringify(s);
  return s;
}
const isMap = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isFlat = (a) => a.every((x) => !isMap(x) && !Array.isArray(x));
function emit(v, indent = '') {
  let out = '';
  for (const [k, val] of Object.entries(v)) {
    const key = scalar(k);
    if (isMap(val)) {
      out += Object.keys(val).length ? `${indent}${key}:\n${emit(val, indent + '  ')}` : `${indent}${key}: {}\n`;
    } else if (Array.isArray(val)) {
      if (!val.length) out += `${indent}${key}: []\n`;
      else if (isFlat(val)) out += `${indent}${key}: [${val.map(scalar).join(', ')}]\n`;
      else out += `${indent}${key}:\n${emitSeq(val, indent + '  ')}`;
    } else {
      out += `${indent}${key}: ${scalar(val)}\n`;
    }
  }
  return out;
}
function emitSeq(arr, indent) {
  let out = '';
  for (const item of arr) {
    if (isMap(item) && Object.keys(item).length) {
      const body = emit(item, indent + '  ');
      out += `${indent}- ${body.slice(indent.length + 2)}`;
    } else if (Array.isArray(item)) {
      out += `${indent}- [${item.map(scalar).join(', ')}]\n`;
    } else {
      out += `${indent}- ${isMap(item) ? '{}' : scalar(item)}\n`;
    }
  }
  return out;
}

const getPath = (obj, parts) => parts.reduce((o, p) => (o === null || o === undefined ? undefined : o[p]), obj);
function setPath(obj, parts, value) {
  let o = obj;
  parts.slice(0, -1).forEach((p, i) => {
    const nextIsIndex = /^\d+$/.test(parts[i + 1]);
    if (o[p] === null || typeof o[p] !== 'object') o[p] = nextIsIndex ? [] : {};
    o = o[p];
  });
  o[parts[parts.length - 1]] = value;
}

// ---------------------------------------------------------------- share by URL

const b64url = {
  encode(text) {
    const bytes = new TextEncoder().encode(text);
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  },
  decode(s) {
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
    return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  },
};
function yamlFromHash() {
  const m = /^#c=([A-Za-z0-9_-]*)$/.exec(location.hash);
  if (!m) return null;
  try { return b64url.decode(m[1]); } catch { return null; }
}
const shareUrl = (text) => `${location.href.split('#')[0]}#c=${b64url.encode(text)}`;

// ---------------------------------------------------------------- zip (store only)

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function zip(files) {
  const enc = new TextEncoder();
  const now = new Date();
  const time = (now.getHours() << 11) | (now.getMinutes() << 5) | (now.getSeconds() >> 1);
  const date = ((now.getFullYear() - 1980) << 9) | ((now.getMonth() + 1) << 5) | now.getDate();
  const parts = [];
  const central = [];
  let offset = 0;
  for (const { name, text } of files) {
    const nameBytes = enc.encode(name);
    const data = enc.encode(text);
    const crc = crc32(data);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true); // version needed
    local.setUint16(6, 0x0800, true); // UTF-8 names
    local.setUint16(8, 0, true); // stored
    local.setUint16(10, time, true);
    local.setUint16(12, date, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, data.length, true);
    local.setUint32(22, data.length, true);
    local.setUint16(26, nameBytes.length, true);
    local.setUint16(28, 0, true);
    parts.push(local, nameBytes, data);
    const cd = new DataView(new ArrayBuffer(46));
    cd.setUint32(0, 0x02014b50, true);
    cd.setUint16(4, 20, true); // version made by
    cd.setUint16(6, 20, true);
    cd.setUint16(8, 0x0800, true);
    cd.setUint16(10, 0, true);
    cd.setUint16(12, time, true);
    cd.setUint16(14, date, true);
    cd.setUint32(16, crc, true);
    cd.setUint32(20, data.length, true);
    cd.setUint32(24, data.length, true);
    cd.setUint16(28, nameBytes.length, true);
    cd.setUint32(42, offset, true);
    central.push(cd, nameBytes);
    offset += 30 + nameBytes.length + data.length;
  }
  const cdSize = central.reduce((n, p) => n + p.byteLength, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, files.length, true);
  end.setUint16(10, files.length, true);
  end.setUint32(12, cdSize, true);
  end.setUint32(16, offset, true);
  return new Blob([...parts, ...central, end], { type: 'application/zip' });
}

// ---------------------------------------------------------------- state

const state = {
  text: '',
  user: {}, // the file as written (last parseable)
  effective: {}, // the file layered over its profile
  good: null, // last successful preview: { plan, objects, yaml }
  selected: null, // selected manifest key
};
// Measurements, read by the end-to-end test: ms per re-plan + re-render.
const metrics = { firstRender: null, initStart: null, initEnd: null, updates: [], wasm: [], sections: {}, ready: false };
window.__voice = { metrics, state };

const median = (xs) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// ---------------------------------------------------------------- form

const form = $('#form');
const textarea = $('#yaml');
const fields = [...form.querySelectorAll('[data-path]')];

function fillForm() {
  const eff = state.effective || {};
  for (const f of fields) {
    if (f === document.activeElement) continue;
    const v = getPath(eff, f.dataset.path.split('.'));
    // Both checkboxes are `enabled` flags that default to true.
    if (f.type === 'checkbox') f.checked = v === undefined ? true : Boolean(v);
    else if (f.tagName === 'SELECT') f.value = v === undefined || v === null ? f.options[0]?.value ?? '' : String(v);
    else f.value = v === undefined || v === null ? '' : String(v);
  }
  const mode = getPath(eff, ['posthog', 'mode']);
  form.elements['posthog.cloud.region'].disabled = mode !== 'cloud';
  form.elements['posthog.domain'].disabled = mode !== 'self-hosted';
  const mr = getPath(eff, ['modelRouter', 'enabled']) !== false;
  for (const n of ['modelRouter.replicas', 'modelRouter.hpa.enabled', 'modelRouter.hpa.minReplicas', 'modelRouter.hpa.maxReplicas', 'modelRouter.domain']) form.elements[n].disabled = !mr;
}

function onFormInput(ev) {
  const f = ev.target;
  if (!f.dataset.path) return;
  const parts = f.dataset.path.split('.');
  let value;
  if (f.type === 'checkbox') value = f.checked;
  else if (f.type === 'number') {
    if (f.value.trim() === '') return;
    value = Number(f.value);
  } else value = f.value;
  const user = structuredClone(isMap(state.user) ? state.user : {});
  // Lists replace the profile's list as a whole: start from the effective node groups.
  if (parts[0] === 'cluster' && parts[1] === 'nodes' && !Array.isArray(getPath(user, ['cluster', 'nodes']))) {
    setPath(user, ['cluster', 'nodes'], structuredClone(getPath(state.effective, ['cluster', 'nodes']) || [{}]));
  }
  if (f.type !== 'checkbox' && f.type !== 'number' && value === '' && parts[0] !== 'cluster') {
    // An emptied text field removes the key (back to the profile's value).
    const parent = getPath(user, parts.slice(0, -1));
    if (isMap(parent)) delete parent[parts[parts.length - 1]];
  } else {
    setPath(user, parts, value);
  }
  if (parts[0] === 'profile') {
    // Keep `profile` first, as people write it.
    const { profile, ...rest } = user;
    textarea.value = emit({ profile, ...rest });
  } else {
    textarea.value = emit(user);
  }
  update();
}

// ---------------------------------------------------------------- rendering

function renderErrors(errors) {
  const ul = $('#errors');
  ul.replaceChildren(
    ...errors.map((e) => {
      const where = e.line ? `${e.line}:${e.column}` : '';
      const li = el('li', { 'data-path': e.path },
        el('code', { class: 'path', text: e.path || '(document)' }), ' ',
        el('span', { class: 'msg', text: e.message }), ' ',
        where ? el('span', { class: 'pos', text: `line ${where}` }) : null);
      if (e.line) {
        li.tabIndex = 0;
        li.title = 'Show in the editor';
        li.addEventListener('click', () => gotoLine(e.line, e.column));
      }
      return li;
    }),
  );
  textarea.classList.toggle('invalid', errors.length > 0);
}
function gotoLine(line, column) {
  const lines = textarea.value.split('\n');
  let pos = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
  pos += Math.max(0, (column || 1) - 1);
  textarea.focus();
  textarea.setSelectionRange(pos, Math.min(textarea.value.length, pos + (lines[line - 1] || '').length - (column || 1) + 1));
}

const VERDICT = {
  fits: ['ok', 'Fits', 'every pod fits at maximum replicas'],
  'fits-at-min-only': ['warn', 'Fits at minimum only', 'autoscaling to maximum replicas would leave pods Pending'],
  fitsAtMinOnly: ['warn', 'Fits at minimum only', 'autoscaling to maximum replicas would leave pods Pending'],
  'does-not-fit': ['bad', 'Does not fit', 'some pods have no node even at minimum replicas'],
  doesNotFit: ['bad', 'Does not fit', 'some pods have no node even at minimum replicas'],
};
function renderFit(plan) {
  const fit = plan.fit;
  const [cls, title, why] = VERDICT[fit.verdict] || ['warn', String(fit.verdict), ''];
  const shape = fit.referenceShape;
  const nodes = fit.atMin.nodes.length;
  const box = $('#fit');
  // Pods without a node, grouped by component (`component/index`), in a collapsed list.
  const unplaced = (list, label) => {
    if (!list.length) return null;
    const groups = new Map();
    for (const p of list) {
      const comp = p.pod.replace(/\/[^/]*$/, '');
      const g = groups.get(comp) || { n: 0, cpu: p.cpu, memory: p.memory };
      g.n += 1;
      groups.set(comp, g);
    }
    return el('details', { class: 'unplaced', open: groups.size <= 6 },
      el('summary', { text: `${plural(list.length, 'pod')} without a node ${label}, from ${plural(groups.size, 'component')}` }),
      el('ul', {}, ...[...groups].map(([c, g]) => el('li', { 'data-component': c },
        el('code', { text: c }), ` × ${g.n}, each requesting ${fmtCpu(g.cpu)} CPU, ${fmtBytes(g.memory)}`))));
  };
  // Components no node admits (nodeSelector, affinity, taints, one replica per node).
  const nowhere = (fit.placement || []).filter((c) => c.problem);
  const problems = nowhere.length ? el('ul', { class: 'unplaced', id: 'placement-problems' },
    ...nowhere.map((c) => el('li', { 'data-component': c.component },
      el('code', { text: c.component }), `: ${c.problem}`))) : null;
  const t = plan.sizing.total;
  fill(box,
    el('div', { class: `verdict ${cls}`, id: 'verdict', 'data-verdict': fit.verdict },
      el('strong', { text: title }), el('span', { text: ` — ${why}` })),
    el('dl', { class: 'facts' },
      el('dt', { text: 'Profile' }), el('dd', { text: `${plan.profile} (release ${plan.instance}, PostHog ${plan.posthog}${plan.posthogRelease ? ` ${plan.posthogRelease}` : ''})` }),
      el('dt', { text: 'Nodes' }), el('dd', { text: `${nodes} configured${shape ? ` (${shape.name}: ${fmtCpuCores(shape.cpu)} CPU, ${fmtBytes(shape.memory)}, ${shape.maxPods} pods)` : ''}` }),
      el('dt', { text: 'Nodes needed' }), el('dd', { id: 'nodes-needed', text: `${fit.nodesNeededMin ?? '—'} at minimum, ${fit.nodesNeededMax ?? '—'} at maximum replicas` }),
      el('dt', { text: 'Requests' }), el('dd', { id: 'requests-total', text: `${fmtCpu(t.min.requests.cpu)} CPU, ${fmtBytes(t.min.requests.memory)} for ${plural(t.min.pods, 'pod')} at minimum; ${fmtCpu(t.max.requests.cpu)} CPU, ${fmtBytes(t.max.requests.memory)} for ${plural(t.max.pods, 'pod')} at maximum` })),
    problems,
    unplaced(fit.atMin.unplaced, 'at minimum replicas'),
    unplaced(fit.atMax.unplaced.filter((p) => !fit.atMin.unplaced.some((q) => q.pod === p.pod)), 'at maximum replicas'),
  );
}

function renderSizing(plan) {
  const s = plan.sizing;
  const head = () => el('thead', {}, el('tr', {},
    ...['Component', 'Namespace', 'Kind', 'Replicas', 'CPU req', 'CPU lim', 'Mem req', 'Mem lim', 'Storage', 'CPU req (min–max)', 'Mem req (min–max)']
      .map((h) => el('th', { text: h }))));
  const rows = keyed(sizingRows, s.components, (c) => JSON.stringify(c), (c) => {
    const r = c.pod.requests;
    const l = c.pod.limits;
    const reps = c.minReplicas === c.maxReplicas ? `${c.minReplicas}` : `${c.minReplicas}–${c.maxReplicas}`;
    const tot = (q, f) => (c.minReplicas === c.maxReplicas ? f(q * c.minReplicas) : `${f(q * c.minReplicas)}–${f(q * c.maxReplicas)}`);
    return el('tr', { 'data-component': c.name, 'data-min': c.minReplicas, 'data-max': c.maxReplicas, 'data-cpu': r.cpu, 'data-memory': r.memory, class: c.kind === 'Job' ? 'job' : '' },
      el('th', { scope: 'row', text: c.name }), el('td', { text: c.namespace }), el('td', { text: c.kind }),
      el('td', { class: 'num replicas', text: reps }),
      el('td', { class: 'num', text: fmtCpu(r.cpu) }), el('td', { class: 'num', text: fmtCpu(l.cpu) }),
      el('td', { class: 'num', text: fmtBytes(r.memory) }), el('td', { class: 'num', text: fmtBytes(l.memory) }),
      el('td', { class: 'num', text: c.storage ? fmtBytes(c.storage) : '' }),
      el('td', { class: 'num', text: c.kind === 'Job' ? 'job' : tot(r.cpu, fmtCpu) }),
      el('td', { class: 'num', text: c.kind === 'Job' ? 'job' : tot(r.memory, fmtBytes) }));
  });
  const totalRow = (label, range, cls) => el('tr', { class: cls, 'data-total': label },
    el('th', { scope: 'row', colspan: 3, text: label }),
    el('td', { class: 'num', text: `${range.min.pods}–${range.max.pods} pods` }),
    el('td', { class: 'num', colSpan: 5, text: range.min.storage ? `storage ${fmtBytes(range.min.storage)}` : '' }),
    el('td', { class: 'num', 'data-cpu-min': range.min.requests.cpu, 'data-cpu-max': range.max.requests.cpu, text: `${fmtCpu(range.min.requests.cpu)}–${fmtCpu(range.max.requests.cpu)}` }),
    el('td', { class: 'num', 'data-mem-min': range.min.requests.memory, 'data-mem-max': range.max.requests.memory, text: `${fmtBytes(range.min.requests.memory)}–${fmtBytes(range.max.requests.memory)}` }));
  const nsRows = s.namespaces.map((n) => totalRow(n.namespace, n, 'ns-total'));
  const table = $('#sizing');
  if (!table.tBodies.length) table.replaceChildren(head(), el('tbody'), el('tfoot'));
  patch(table.tBodies[0], rows);
  table.tFoot.replaceChildren(...nsRows, totalRow('Total', s.total, 'total'));
}
const sizingRows = new Map();

function renderChart(plan) {
  const shape = plan.fit.referenceShape;
  const comps = plan.sizing.components.filter((c) => c.kind !== 'Job');
  const host = $('#chart');
  if (!shape || !comps.length) { host.replaceChildren(); return; }
  const rowH = 22;
  const labelW = 170;
  const barW = 260;
  const gap = 30;
  const top = 26;
  // Scale: at least one node, else the largest component at maximum replicas.
  const maxCpu = Math.max(1, ...comps.map((c) => (c.pod.requests.cpu * c.maxReplicas) / shape.cpu));
  const maxMem = Math.max(1, ...comps.map((c) => (c.pod.requests.memory * c.maxReplicas) / shape.memory));
  const width = labelW + 2 * barW + gap + 24;
  const height = top + comps.length * rowH + 8;
  // The axes, collected in a scratch element and moved into the chart below.
  const s = document.createDocumentFragment();
  const axis = (x0, max, label) => {
    s.append(svg('text', { x: x0, y: 12, class: 'axis-title' }, label));
    const ticks = max <= 4 ? Math.ceil(max * 2) / 2 : Math.ceil(max);
    const step = max <= 4 ? 0.5 : Math.ceil(max / 6);
    for (let t = 0; t <= ticks + 1e-9; t += step) {
      const x = x0 + (t / max) * barW;
      if (x > x0 + barW + 0.5) break;
      s.append(svg('line', { x1: x, x2: x, y1: top - 4, y2: height - 4, class: t === 1 ? 'node-line' : 'grid' }));
      s.append(svg('text', { x, y: top - 7, class: 'tick', 'text-anchor': 'middle' }, t === 1 ? '1 node' : `${t}`));
    }
  };
  const x1 = labelW;
  const x2 = labelW + barW + gap;
  axis(x1, maxCpu, `CPU (node = ${fmtCpuCores(shape.cpu)} cores)`);
  axis(x2, maxMem, `Memory (node = ${fmtBytes(shape.memory)})`);
  const groups = keyed(chartRows, comps, (c, i) => JSON.stringify([c, i, maxCpu, maxMem, shape]), (c, i) => {
    const y = top + i * rowH;
    const g = svg('g', { 'data-component': c.name });
    g.append(svg('title', {}, `${c.name}: ${c.minReplicas}${c.maxReplicas !== c.minReplicas ? `–${c.maxReplicas}` : ''} × (${fmtCpu(c.pod.requests.cpu)} CPU, ${fmtBytes(c.pod.requests.memory)})`));
    g.append(svg('text', { x: labelW - 6, y: y + 15, 'text-anchor': 'end', class: 'label' }, c.name));
    const bar = (x0, per, cap, max, cls) => {
      const wMin = ((per * c.minReplicas) / cap / max) * barW;
      const wMax = ((per * c.maxReplicas) / cap / max) * barW;
      if (wMax > wMin) g.append(svg('rect', { x: x0, y: y + 4, width: Math.max(wMax, 0.5), height: rowH - 8, class: `${cls} max` }));
      g.append(svg('rect', { x: x0, y: y + 4, width: Math.max(wMin, 0.5), height: rowH - 8, class: cls }));
      // One pod alone bigger than a node can never be scheduled.
      if (per > cap) g.append(svg('rect', { x: x0, y: y + 3, width: Math.max(wMax, wMin), height: rowH - 6, class: 'too-big' }));
    };
    bar(x1, c.pod.requests.cpu, shape.cpu, maxCpu, 'cpu');
    bar(x2, c.pod.requests.memory, shape.memory, maxMem, 'mem');
    return g;
  });
  // The axes are a few elements, drawn anew; the component rows are reused.
  const root = host.firstChild?.tagName === 'svg' ? host.firstChild : svg('svg', { role: 'img', 'aria-label': 'Requests per component in node units', class: 'chart' });
  for (const [k, v] of Object.entries({ viewBox: `0 0 ${width} ${height}`, width, height })) root.setAttribute(k, v);
  patch(root, [...s.childNodes, ...groups]);
  if (host.firstChild !== root) host.replaceChildren(root);

  // Per node: placement at minimum and maximum replicas.
  const nodes = plan.fit.atMax.nodes;
  const nHost = $('#nodes-chart');
  const nodeRow = 34;
  const nh = 30 + nodes.length * nodeRow;
  const ns = svg('svg', { viewBox: `0 0 ${width} ${nh}`, width, height: nh, role: 'img', 'aria-label': 'Placement per node', class: 'chart nodes' });
  ns.append(svg('text', { x: 0, y: 14, class: 'axis-title' }, 'Placement per node: at minimum replicas (solid), at maximum (outline)'));
  nodes.forEach((n, i) => {
    const y = 26 + i * nodeRow;
    const atMin = plan.fit.atMin.nodes.find((m) => m.name === n.name) || { cpu: 0, memory: 0, pods: 0 };
    ns.append(svg('text', { x: labelW - 6, y: y + 18, 'text-anchor': 'end', class: 'label' }, `${n.name} (${n.pods} pods)`));
    const usage = (x0, used, usedMin, cap, cls) => {
      ns.append(svg('rect', { x: x0, y: y + 4, width: barW, height: nodeRow - 12, class: 'capacity' }));
      ns.append(svg('rect', { x: x0, y: y + 4, width: Math.min(1, usedMin / cap) * barW, height: nodeRow - 12, class: cls }));
      ns.append(svg('rect', { x: x0, y: y + 4, width: Math.min(1, used / cap) * barW, height: nodeRow - 12, class: `${cls} outline` }));
      ns.append(svg('text', { x: x0 + barW - 4, y: y + 17, 'text-anchor': 'end', class: 'pct' }, `${Math.round((100 * used) / cap)}%`));
    };
    usage(x1, n.cpu, atMin.cpu, n.capacity.cpu, 'cpu');
    usage(x2, n.memory, atMin.memory, n.capacity.memory, 'mem');
  });
  nHost.replaceChildren(ns);
}

const chartRows = new Map();

// A wave's objects, gates and checks: built when its <details> first opens, since most stay
// closed and the lists hold every object of the plan.
function waveBody(w) {
  const kinds = {};
  for (const o of w.objects) kinds[o.kind] = (kinds[o.kind] || 0) + 1;
  const summary = Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(', ');
  return [
    summary ? el('p', { class: 'muted', text: summary }) : null,
    w.secrets?.length ? el('p', {}, 'Creates secrets if absent: ', ...w.secrets.map((s) => el('code', { text: `${s} ` }))) : null,
    w.objects.length ? el('ul', { class: 'objects' }, ...w.objects.map((o) => el('li', { text: `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}` }))) : null,
    w.gates.length ? el('p', { class: 'muted', text: `Waits for: ${w.gates.map((g) => `${g.kind} ${g.namespace}/${g.name}${g.replicas !== undefined ? ` ×${g.replicas}` : ''}`).join('; ')}` }) : null,
    w.checks?.length ? el('ul', { class: 'objects' }, ...w.checks.map((c) => el('li', { text: `GET ${c.namespace}/${c.service}:${c.port}${c.path}` }))) : null,
  ].filter(Boolean);
}

function renderWaves(plan) {
  $('#waves').replaceChildren(...plan.waves.map((w) => {
    const details = el('details', {},
      el('summary', {}, el('strong', { text: w.name }), ` — ${w.description}`,
        el('span', { class: 'muted', text: ` (${plural(w.objects.length, 'object')}${w.gates.length ? `, ${plural(w.gates.length, 'gate')}` : ''}${w.checks?.length ? `, ${plural(w.checks.length, 'check')}` : ''})` })));
    details.addEventListener('toggle', () => {
      if (details.open && details.childElementCount === 1) details.append(...waveBody(w));
    });
    return el('li', { 'data-wave': w.name }, details);
  }));
}

// Values are never shown: only where install gets them.
function secretPlaceholder(src = {}) {
  switch (src.kind) {
    case 'random': return `<generated at install: ${src.length} random characters>`;
    case 'randomHex': return `<generated at install: ${src.length} hex characters>`;
    case 'sameAs': return `<generated at install: same as ${src.namespace}/${src.secret} ${src.key}>`;
    case 'user': return src.required ? '<yours: set before install>' : '<yours: optional, set before install>';
    default: return '<generated at install>';
  }
}

function renderSecrets(plan) {
  const head = el('thead', {}, el('tr', {}, ...['Secret', 'Namespace', 'Component', 'Keys'].map((h) => el('th', { text: h }))));
  const rows = plan.secrets.map((s) => el('tr', { 'data-secret': s.name },
    el('th', { scope: 'row', text: s.name }), el('td', { text: s.namespace }), el('td', { text: s.component }),
    el('td', {}, s.existing
      ? el('em', { text: 'existing Secret (not created)' })
      : el('ul', { class: 'keys' }, ...s.keys.map((k) => el('li', {}, el('code', { text: k.key }), ' ',
        el('span', { class: 'placeholder', text: secretPlaceholder(k.source) })))))));
  $('#secrets').replaceChildren(head, el('tbody', {}, ...rows));
}

// Manifest browser ------------------------------------------------------------
const compOf = (o) => o.component || 'namespaces';
const keyOf = (o) => `${o.kind}/${o.namespace || ''}/${o.name}`;
function fillSelect(sel, values, allLabel) {
  const cur = sel.value;
  sel.replaceChildren(el('option', { value: '', text: allLabel }), ...values.map((v) => el('option', { value: v, text: v })));
  sel.value = values.includes(cur) ? cur : '';
}
function renderManifestFilters(objects) {
  fillSelect($('#f-component'), [...new Set(objects.map(compOf))], 'All components');
  fillSelect($('#f-kind'), [...new Set(objects.map((o) => o.kind))].sort(), 'All kinds');
}
// The list: by component, kind and a search over names and, when searched, the documents.
function renderManifestList() {
  const good = state.good;
  if (!good) return;
  const comp = $('#f-component').value;
  const kind = $('#f-kind').value;
  const q = $('#f-search').value.trim().toLowerCase();
  // Documents are emitted by the planner on demand: only a text search needs all of them.
  if (q && !good.docs) good.docs = voice.object_yamls();
  const list = good.objects.filter((o) => (!comp || compOf(o) === comp) && (!kind || o.kind === kind)
    && (!q || keyOf(o).toLowerCase().includes(q) || good.docs[o.index].toLowerCase().includes(q)));
  $('#manifest-count').textContent = `${list.length} of ${good.objects.length}`;
  if (!list.some((o) => keyOf(o) === state.selected)) state.selected = list.length ? keyOf(list[0]) : null;
  $('#manifest-list').replaceChildren(...list.map((o) => el('li', { 'data-key': keyOf(o), class: keyOf(o) === state.selected ? 'selected' : '', tabIndex: 0 },
    el('span', { class: 'kind', text: o.kind }), ' ', el('span', { text: o.name }),
    o.namespace ? el('span', { class: 'muted', text: ` ${o.namespace}` }) : null)));
}
// The selected object's document, fresh on every edit.
function renderManifestView() {
  const good = state.good;
  const sel = good && good.objects.find((o) => keyOf(o) === state.selected);
  $('#manifest-view').textContent = sel ? voice.object_yaml(sel.index).replace(/^---\n/, '') : 'No manifest matches.';
}
function renderManifests() {
  renderManifestList();
  renderManifestView();
}

// ---------------------------------------------------------------- update loop

function setStatus() {
  const u = metrics.updates;
  const last = u[u.length - 1];
  const med = median(u.slice(-50));
  const objs = state.good ? state.good.objects.length : 0;
  $('#status').textContent = `${objs} objects · last re-plan + re-render ${last?.toFixed(1)} ms (planner ${metrics.wasm[metrics.wasm.length - 1]?.toFixed(1)} ms) · median ${med.toFixed(1)} ms over ${u.length} · first render ${metrics.firstRender?.toFixed(0)} ms after load`;
}

function timed(name, f) {
  const t = performance.now();
  const r = f();
  metrics.sections[name] = performance.now() - t;
  return r;
}

// Sections are redrawn only when their data changed: most edits touch a few numbers.
const drawn = {};
function redraw(name, data, draw) {
  const t = performance.now();
  const sig = JSON.stringify(data);
  if (drawn[name] !== sig) {
    drawn[name] = sig;
    draw();
  }
  metrics.sections[name] = performance.now() - t;
}

function update() {
  const t0 = performance.now();
  const text = textarea.value;
  state.text = text;
  const norm = timed('normalize', () => voice.normalize(text));
  if (norm.ok) {
    state.user = norm.user;
    state.effective = norm.effective;
    timed('form', fillForm);
  }
  const res = timed('preview', () => voice.preview(text));
  const t1 = performance.now();
  scheduleHash(text);
  if (res.ok) {
    // The planner leaves out what equals the last good preview's: keep those parts.
    const plan = res.plan;
    for (const part of ['sizing', 'fit', 'waves', 'secrets']) plan[part] ??= state.good.plan[part];
    const objects = res.objects ?? state.good.objects;
    res.objects?.forEach((o, i) => { o.index = i; });
    state.good = {
      plan,
      objects,
      source: text,
      docs: null,
      // The `kubectl voice render` stream of these objects (emitted on demand).
      get yaml() { return voice.stream(); },
    };
    renderErrors([]);
    $('#output').hidden = false; // empty until the first plan
    $('#stale').hidden = true;
    $('#output').classList.remove('stale');
    redraw('fit', [plan.profile, plan.instance, plan.posthog, plan.posthogRelease, plan.fit, plan.sizing.total], () => renderFit(plan));
    redraw('sizing', plan.sizing, () => renderSizing(plan));
    redraw('chart', [plan.sizing.components, plan.fit], () => renderChart(plan));
    redraw('waves', plan.waves, () => renderWaves(plan));
    redraw('secrets', plan.secrets, () => renderSecrets(plan));
    redraw('filters', objects.map((o) => keyOf(o) + o.component), () => renderManifestFilters(objects));
    if ($('#f-search').value.trim()) renderManifestList();
    else redraw('manifests', objects, renderManifestList);
    timed('view', renderManifestView);
  } else {
    renderErrors(res.errors);
    const stale = state.good !== null;
    $('#stale').hidden = !stale;
    $('#output').classList.toggle('stale', stale);
  }
  const t2 = performance.now();
  metrics.wasm.push(t1 - t0);
  metrics.updates.push(t2 - t0);
  if (metrics.firstRender === null) metrics.firstRender = t2; // ms since navigation start
  setStatus();
  document.body.dataset.updates = String(metrics.updates.length);
  scheduleRelease();
}

// What the planner is done with (the previous objects, stack and plan) is freed when the page
// is idle, not inside the edit: freeing it costs about a fifth of a preview.
let releaseHandle = 0;
function scheduleRelease() {
  if (!window.requestIdleCallback) { setTimeout(voice.release, 0); return; }
  cancelIdleCallback(releaseHandle);
  releaseHandle = requestIdleCallback(() => voice.release(), { timeout: 500 });
}

// The URL follows the text, shortly after typing stops: history.replaceState costs several
// milliseconds in Chromium, too much to pay on every keystroke.
let hashTimer = 0;
function scheduleHash(text) {
  clearTimeout(hashTimer);
  document.body.dataset.hashSynced = '0';
  hashTimer = setTimeout(() => {
    history.replaceState(null, '', shareUrl(text));
    document.body.dataset.hashSynced = '1';
  }, 250);
}

let timer = 0;
function scheduleUpdate() {
  clearTimeout(timer);
  timer = setTimeout(update, 80);
}

// ---------------------------------------------------------------- actions

let toastTimer = 0;
function toast(msg) {
  const t = $('#toast');
  t.textContent = msg;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.textContent = ''; }, 2500);
}
async function copyText(text, what) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const ta = el('textarea', { value: text });
    document.body.append(ta);
    ta.select();
    document.execCommand('copy');
    ta.remove();
  }
  toast(`${what} copied`);
}
function save(blob, name) {
  const a = el('a', { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}
const baseName = () => (state.good ? `voice-${state.good.plan.instance}-${state.good.plan.profile}` : 'voice');

$('#share').addEventListener('click', () => copyText(shareUrl(textarea.value), 'Link'));
$('#copy').addEventListener('click', () => state.good && copyText(state.good.yaml, 'YAML'));
$('#download').addEventListener('click', () => {
  if (state.good) save(new Blob([state.good.yaml], { type: 'application/yaml' }), `${baseName()}.yaml`);
});
$('#download-zip').addEventListener('click', () => {
  // The files of the text that produced the last good output (the editor may hold errors).
  const res = voice.files(state.good ? state.good.source : textarea.value);
  if (!res.ok) { toast('Fix the errors first'); return; }
  save(zip(res.files.map((f) => ({ name: `${baseName()}/${f.file}`, text: f.text }))), `${baseName()}.zip`);
});

// ---------------------------------------------------------------- start

async function main() {
  metrics.initStart = performance.now();
  // The module compiled by index.html's inline script; init fetches it itself if that failed.
  await init({ module_or_path: await window.voiceWasm });
  metrics.initEnd = performance.now();
  const prof = voice.profiles();
  const sel = form.elements.profile;
  sel.replaceChildren(...prof.profiles.map((p) => el('option', { value: p.name, text: p.name })));
  window.__voice.profiles = prof;
  textarea.value = yamlFromHash() ?? `# voice.yaml: edit here or use the form above.\nprofile: ${prof.default}\n`;
  textarea.addEventListener('input', scheduleUpdate);
  form.addEventListener('input', onFormInput);
  form.addEventListener('submit', (e) => e.preventDefault());
  for (const id of ['#f-component', '#f-kind']) $(id).addEventListener('change', renderManifests);
  $('#f-search').addEventListener('input', renderManifests);
  const pick = (e) => {
    const li = e.target.closest('li[data-key]');
    if (!li || (e.type === 'keydown' && e.key !== 'Enter')) return;
    state.selected = li.dataset.key;
    for (const x of $('#manifest-list').querySelectorAll('li.selected')) x.classList.remove('selected');
    li.classList.add('selected');
    renderManifestView();
  };
  $('#manifest-list').addEventListener('click', pick);
  $('#manifest-list').addEventListener('keydown', pick);
  window.addEventListener('hashchange', () => {
    const t = yamlFromHash();
    if (t !== null && t !== textarea.value) { textarea.value = t; update(); }
  });
  window.__voice.update = update;
  update();
  metrics.ready = true;
  document.body.dataset.ready = '1';
}

main().catch((e) => {
  $('#status').textContent = `The planner failed to load: ${e}`;
  throw e;
});
