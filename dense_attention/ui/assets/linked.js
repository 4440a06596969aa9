// One token, followed through every step: the one-screen overview (small charts of every step,
// one row per token) and the page-wide linked highlight. Hovering a token anywhere (its chip, a
// row or column of a matrix, an α bar, a point of the query–key map, a row of the overview)
// highlights it in every chart of the page at once, in the browser (no server round trip);
// a click pins it (sent to the server as this element's state, so it survives reruns).
// The payload is dense_attention/figures/overview.py's; plotly charts take part when their
// layout.meta.dal_link says which axes are tokens (figures/heatmaps.link_tokens).

const HUB = (window.__dalLinked ||= {
  hovered: null, pinned: null, root: null, setPinned: null, timer: 0, lastMs: null,
});

export function decode(text) {
  const bytes = Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

const BLUES = [[247, 251, 255], [198, 219, 239], [107, 174, 214], [33, 113, 181], [8, 48, 107]];
const RDBU = [[5, 48, 97], [67, 147, 195], [247, 247, 247], [214, 96, 77], [103, 0, 31]];

function ramp(stops, t) {
  const x = Math.min(Math.max(t, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(x), stops.length - 2), f = x - i;
  return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * f));
}

const colourOf = (panel, v) => (panel.diverging
  ? ramp(RDBU, 0.5 + v / (2 * panel.range)) : ramp(BLUES, v / panel.range));

const current = () => (HUB.hovered ?? HUB.pinned);

// ---------------------------------------------------------------- plotly charts of the page

const linkOf = (gd) => gd._fullLayout?.meta?.dal_link;

function tokenOfPoint(gd, point) {
  const link = linkOf(gd);
  if (!link || !point) return null;
  if (link.points) { // the query–key map: only this input's points carry a token index
    const roles = Object.values(link.points);
    return roles.includes(point.curveNumber) ? Number(point.customdata) : null;
  }
  if (Array.isArray(point.customdata)) return point.customdata[0]; // a clickable cell [i, j]
  const start = link.start || 0;
  const at = link.rows ? point.y : point.x;
  const k = Math.round(Number(at)) - start;
  return Number.isFinite(k) ? k : null;
}

function band(layer, cls, left, top, width, height) {
  const div = document.createElement('div');
  div.className = `dal-band ${cls}`;
  Object.assign(div.style, {
    left: `${Math.min(left, left + width)}px`, top: `${Math.min(top, top + height)}px`,
    width: `${Math.abs(width)}px`, height: `${Math.abs(height)}px`,
  });
  layer.appendChild(div);
}

function drawMap(layer, gd, link, k) { // rings on token k's query and key, lines to every key
  const [xa, ya] = [gd._fullLayout.xaxis, gd._fullLayout.yaxis];
  const q = gd._fullData[link.points.query], key = gd._fullData[link.points.key];
  if (!q || !key || k >= q.x.length) return;
  const px = (trace, j) => [xa._offset + xa.l2p(trace.x[j]), ya._offset + ya.l2p(trace.y[j])];
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'dal-map-lines');
  svg.setAttribute('width', gd._fullLayout.width);
  svg.setAttribute('height', gd._fullLayout.height);
  const [x0, y0] = px(q, k);
  (link.attn?.[k] || []).forEach((a, j) => {
    if (a < 0.02) return;
    const [x1, y1] = px(key, j);
    const line = document.createElementNS(ns, 'line');
    Object.entries({ x1: x0, y1: y0, x2: x1, y2: y1, 'stroke-width': 1 + 9 * a,
      'stroke-opacity': 0.25 + 0.6 * a }).forEach(([n, v]) => line.setAttribute(n, v));
    svg.appendChild(line);
  });
  for (const [x, y, cls] of [[...px(q, k), 'dal-ring-query'], [...px(key, k), 'dal-ring-key']]) {
    const ring = document.createElementNS(ns, 'circle');
    Object.entries({ cx: x, cy: y, r: 11, class: cls }).forEach(([n, v]) => ring.setAttribute(n, v));
    svg.appendChild(ring);
  }
  layer.appendChild(svg);
}

function drawChart(gd) {
  const host = gd.querySelector('.svg-container');
  const link = linkOf(gd);
  let layer = host?.querySelector(':scope > .dal-link-layer');
  const k = current();
  if (!host || !link || k === null || k === undefined) { layer?.remove(); return false; }
  if (!layer) {
    layer = document.createElement('div');
    layer.className = 'dal-link-layer';
    host.appendChild(layer);
  }
  layer.replaceChildren();
  layer.dataset.dalLit = String(k);
  const [xa, ya] = [gd._fullLayout.xaxis, gd._fullLayout.yaxis];
  if (link.points) { drawMap(layer, gd, link, k); return true; }
  const s = link.start || 0;
  if (link.rows) {
    const top = ya._offset + ya.l2p(k + s - 0.5);
    band(layer, 'dal-row', xa._offset, top, xa._length, ya._offset + ya.l2p(k + s + 0.5) - top);
  }
  if (link.cols) {
    const left = xa._offset + xa.l2p(k + s - 0.5);
    band(layer, 'dal-col', left, ya._offset, xa._offset + xa.l2p(k + s + 0.5) - left, ya._length);
  }
  return true;
}

function attach(gd) {
  if (!gd.on || gd.__dalEvents === gd._ev) return; // a purged chart gets new listeners
  gd.__dalEvents = gd._ev;
  gd.on('plotly_hover', (event) => {
    const k = tokenOfPoint(gd, event?.points?.[0]);
    if (k !== null) hover(k);
  });
  gd.on('plotly_unhover', () => hover(null));
  gd.on('plotly_click', (event) => { // the formula panel's picker selects a cell instead
    if (String(gd._fullLayout.clickmode).includes('select')) return;
    const k = tokenOfPoint(gd, event?.points?.[0]);
    if (k !== null) pin(k);
  });
  gd.on('plotly_afterplot', () => drawChart(gd));
}

function linkedCharts() {
  return [...document.querySelectorAll('.js-plotly-plot')].filter((gd) => linkOf(gd));
}

// ---------------------------------------------------------------- the highlight, everywhere

function paint() {
  const k = current(), began = performance.now();
  let lit = 0;
  for (const gd of linkedCharts()) if (drawChart(gd)) lit += 1;
  document.querySelectorAll('[data-dal-token]').forEach((el) => {
    el.classList.toggle('dal-lit', k !== null && Number(el.dataset.dalToken) === k);
    el.classList.toggle('dal-pinned', HUB.pinned !== null && Number(el.dataset.dalToken) === HUB.pinned);
  });
  HUB.overview?.paint(k);
  HUB.lastMs = performance.now() - began;
  HUB.litCharts = lit;
}

function hover(k) {
  if (HUB.hovered === k) return;
  HUB.hovered = k;
  paint();
}

function pin(k) {
  HUB.pinned = HUB.pinned === k ? null : k;
  paint();
  HUB.setPinned?.(HUB.pinned);
}

const tokenOf = (event) => {
  const el = event.target?.closest?.('[data-dal-token]');
  return el ? Number(el.dataset.dalToken) : null;
};

function listenToChips() { // once per page life: token chips and the α-shaded sentence
  if (HUB.chips) return;
  HUB.chips = true;
  document.addEventListener('mouseover', (e) => { const k = tokenOf(e); if (k !== null && HUB.root?.isConnected) hover(k); });
  document.addEventListener('mouseout', (e) => { if (tokenOf(e) !== null && HUB.root?.isConnected) hover(null); });
  document.addEventListener('click', (e) => { const k = tokenOf(e); if (k !== null && HUB.root?.isConnected) pin(k); });
}

// ---------------------------------------------------------------- the one-screen overview

const BODY_PX = 330; // the token rows' height at most
const GAP = 8;

function layout(data, width) {
  const n = data.tokens.length;
  const row = Math.min(18, Math.floor((10 * BODY_PX) / n) / 10); // px per token row
  const label = row >= 8 ? 78 : 10; // names only when a row can hold them
  const bars = 64;
  const free = width - label - bars - 8 * GAP;
  const matrix = Math.max(40, Math.min(n * row, Math.floor(free * 0.2)));
  const rows = Math.max(30, Math.floor((free - 2 * matrix) / 4));
  const widths = { rows, matrix, bars };
  return { n, row, label, height: n * row, widthOf: (p) => widths[p.kind] ?? rows };
}

function heat(canvas, panel, z, w, h) {
  canvas.width = panel.cols; canvas.height = panel.rows;
  canvas.style.width = `${w}px`; canvas.style.height = `${h}px`;
  const ctx = canvas.getContext('2d');
  const image = ctx.createImageData(panel.cols, panel.rows);
  z.forEach((v, p) => { image.data.set([...colourOf(panel, v), 255], 4 * p); });
  ctx.putImageData(image, 0, 0);
}

function bars(canvas, panel, z, w, rowPx, vertical) { // α per token row, or p per class
  const ratio = window.devicePixelRatio || 1, n = z.length;
  const h = vertical ? 60 : n * rowPx;
  canvas.width = w * ratio; canvas.height = h * ratio;
  canvas.style.width = `${w}px`; canvas.style.height = `${h}px`;
  const ctx = canvas.getContext('2d');
  ctx.scale(ratio, ratio);
  z.forEach((v, k) => {
    ctx.fillStyle = `rgb(${ramp(BLUES, 0.35 + 0.65 * (v / panel.range)).join(',')})`;
    const size = (v / panel.range) * (vertical ? h - 14 : w - 2);
    if (vertical) ctx.fillRect(k * (w / n) + 1, h - 14 - size, w / n - 2, size);
    else ctx.fillRect(0, k * rowPx + 0.5, size, Math.max(rowPx - 1, 1));
  });
}

function panelBox(root, panel, width) {
  const box = document.createElement('div');
  box.className = `dal-ov-panel dal-ov-kind-${panel.kind}`;
  box.dataset.panel = panel.key;
  box.style.width = `${width}px`;
  box.innerHTML = `<div class="dal-ov-title">${panel.title}</div><div class="dal-ov-body"><canvas></canvas></div>`;
  root.appendChild(box);
  return box;
}

function drawOverview(parent, data) {
  const root = document.createElement('div');
  root.className = 'dal-overview';
  root.setAttribute('data-testid', 'dal-overview');
  parent.appendChild(root);
  const grid = document.createElement('div');
  grid.className = 'dal-ov-grid';
  const foot = document.createElement('div');
  foot.className = 'dal-ov-foot';
  const line = document.createElement('div');
  line.className = 'dal-ov-follow';
  root.append(grid, foot, line);
  const panels = data.panels.map((p) => ({ ...p, values: decode(p.z) }));
  const byKey = Object.fromEntries(panels.map((p) => [p.key, p]));
  const g = layout(data, Math.max(root.clientWidth, 480));
  const names = document.createElement('div');
  names.className = 'dal-ov-panel dal-ov-names';
  names.style.width = `${g.label}px`;
  names.innerHTML = `<div class="dal-ov-title">${data.words.token}</div><div class="dal-ov-body">${g.row >= 8
    ? data.tokens.map((t, k) => `<div data-row="${k}" style="height:${g.row}px;line-height:${g.row}px;font-size:${Math.min(12, g.row - 1)}px">${escapeHtml(t)}</div>`).join('')
    : ''}</div>`;
  names.querySelector('.dal-ov-body').style.height = `${g.height}px`;
  grid.appendChild(names);
  const bodies = [{ box: names, panel: { kind: 'names' } }];
  for (const panel of panels) {
    if (panel.kind === 'strip' || panel.kind === 'classes') continue;
    const width = g.widthOf(panel);
    const box = panelBox(grid, panel, width);
    const canvas = box.querySelector('canvas');
    if (panel.kind === 'bars') bars(canvas, panel, panel.values, width, g.row, false);
    else heat(canvas, panel, panel.values, width, g.height);
    bodies.push({ box, panel, width });
  }
  const c = panelBox(foot, byKey.c, Math.floor(root.clientWidth * 0.55));
  const share = byKey.share;
  const strip = (k) => { // c, and under it token k's term α_k v_k of the same sum
    const d = byKey.c.cols, rowZ = new Float32Array(2 * d);
    rowZ.set(byKey.c.values, 0);
    if (k !== null) rowZ.set(share.values.subarray(k * d, (k + 1) * d), d);
    heat(c.querySelector('canvas'), { ...byKey.c, rows: 2, cols: d }, rowZ, c.clientWidth - 4, 36);
  };
  const p = panelBox(foot, byKey.probs, Math.min(260, Math.floor(root.clientWidth * 0.35)));
  bars(p.querySelector('canvas'), byKey.probs, byKey.probs.values, p.clientWidth - 4, 0, true);
  p.querySelector('.dal-ov-body').insertAdjacentHTML('beforeend', `<div class="dal-ov-classes">${
    data.classes.map((name) => `<span>${escapeHtml(name)}</span>`).join('')}</div>`);

  function paintOverview(k) {
    root.querySelectorAll('.dal-band').forEach((el) => el.remove());
    root.dataset.dalLit = k === null ? '' : String(k);
    strip(k);
    c.querySelector('.dal-ov-title').innerHTML = k === null ? byKey.c.title
      : `${byKey.c.title}; ${data.words.under.replace('{k}', k + 1)}`;
    line.textContent = k === null
      ? data.words.hint
      : data.follow[k];
    if (k === null) return;
    for (const { box, panel, width } of bodies) {
      const body = box.querySelector('.dal-ov-body');
      band(body, 'dal-row', 0, k * g.row, width ?? g.label, g.row);
      if (panel.kind === 'matrix') band(body, 'dal-col', (k * width) / g.n, 0, width / g.n, g.height);
      box.dataset.dalLit = String(k);
    }
  }
  grid.addEventListener('mousemove', (event) => {
    const body = event.target.closest('.dal-ov-body');
    if (!body) return;
    const k = Math.floor((event.clientY - body.getBoundingClientRect().top) / g.row);
    if (k >= 0 && k < g.n) hover(k);
  });
  grid.addEventListener('mouseleave', () => hover(null));
  grid.addEventListener('click', (event) => {
    const body = event.target.closest('.dal-ov-body');
    if (!body) return;
    const k = Math.floor((event.clientY - body.getBoundingClientRect().top) / g.row);
    if (k >= 0 && k < g.n) pin(k);
  });
  return { root, paint: paintOverview };
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g,
  (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[ch]));

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  parentElement.__dalLinkedStop?.();
  const overview = drawOverview(parentElement, data);
  HUB.root = overview.root;
  HUB.overview = overview;
  HUB.pinned = Number.isInteger(data.pinned) && data.pinned < data.tokens.length ? data.pinned : null;
  HUB.hovered = null;
  HUB.setPinned = (k) => setStateValue('token', k);
  listenToChips();
  const scan = () => { // charts come and go with reruns: attach to new ones, redraw the lit one
    if (!overview.root.isConnected) return;
    for (const gd of linkedCharts()) {
      const fresh = gd.__dalEvents !== gd._ev;
      attach(gd);
      if (fresh) drawChart(gd);
    }
  };
  clearInterval(HUB.timer);
  HUB.timer = setInterval(scan, 300);
  scan();
  paint();
  const stop = () => {
    clearInterval(HUB.timer);
    overview.root.remove();
    if (HUB.root === overview.root) { HUB.root = null; HUB.overview = null; }
  };
  parentElement.__dalLinkedStop = stop;
  return stop;
}
