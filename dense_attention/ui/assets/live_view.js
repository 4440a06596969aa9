// The live view: attention, pooling weights and the prediction recomputed in the browser as the
// sidebar's similarity, temperature and pooling change, before the server answers.
// The payload is built by dense_attention/server/live_view.py (read its docstring for the formulas);
// this file computes exactly what DenseAttention.trace computes from h on (the raw scores too).

const WEIGHTS = (window.__dalLiveWeights ||= new Map()); // weights by key, for the page's life
// The additive and bilinear similarities' parameters by key, for the page's life.
const PARAMS = (window.__dalLiveParams ||= new Map());
// Inputs (tokens, mask, h decoded) by key: the server sends one once per browser session.
const INPUTS = (window.__dalLiveInputs ||= new Map());
const INPUTS_KEPT = 8; // the most recent inputs kept; an older one is asked for again
// Raw scores (H*N*N) by input key and similarity: a τ or pooling change reuses them.
const SCORES = (window.__dalLiveScores ||= new Map());
const SCORES_KEPT = 12; // two inputs' six similarities (2 MB each at 512 tokens, one head)

function decodeInput(input) {
  const hidden = Object.fromEntries(Object.entries(input.h).map(([k, v]) => [k, decode(v)]));
  while (INPUTS.size >= INPUTS_KEPT) INPUTS.delete(INPUTS.keys().next().value);
  return { input, hidden };
}

function decodeParams(part) {
  const out = { ...part };
  for (const name of ['additive_query', 'additive_key', 'additive_vector', 'bilinear']) {
    if (part[name] !== undefined) out[name] = decode(part[name]);
  }
  return out;
}

// rows (N*d) times m's transpose, m (a*d row-major): (N*a), as torch's h @ m.T.
function timesTransposed(rows, n, d, m, a) {
  const out = new Float64Array(n * a);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < a; c++) {
      let s = 0;
      for (let u = 0; u < d; u++) s += rows[i * d + u] * m[c * d + u];
      out[i * a + c] = s;
    }
  }
  return out;
}

// w^k . tanh(W_q^k h_i + W_k^k h_j) for each head k: its slice of the a hidden units. N² a tanh
// (16.7 M at 512 tokens, a = 64) are most of the cost, so tanh(q + k) is (PQ - 1) / (PQ + 1)
// with P = e^2q and Q = e^2k taken once per token and unit (its error ~1e-16); Math.tanh when
// some |q| or |k| is so large that e^2q could overflow.
function additiveScores(h, n, d, heads, p, out) {
  const a = p.width, part = a / heads, w = p.additive_vector;
  const query = timesTransposed(h, n, d, p.additive_query, a);
  const key = timesTransposed(h, n, d, p.additive_key, a);
  const fast = [...query, ...key].every((v) => Math.abs(v) < 150);
  const [eq, ek] = [query, key].map((m) => m.map((v) => Math.exp(2 * v)));
  for (let k = 0; k < heads; k++) {
    const lo = k * part, hi = lo + part;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        if (fast) {
          for (let c = lo; c < hi; c++) { const e = eq[i * a + c] * ek[j * a + c]; s += w[c] * ((e - 1) / (e + 1)); }
        } else {
          for (let c = lo; c < hi; c++) s += w[c] * Math.tanh(query[i * a + c] + key[j * a + c]);
        }
        out[(k * n + i) * n + j] = s;
      }
    }
  }
  return out;
}

// Each row's head slices over their length (F.normalize, eps 1e-8): cosine's unit vectors.
function unitSlices(h, n, d, heads) {
  const width = d / heads, out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let lo = 0; lo < d; lo += width) {
      let sq = 0;
      for (let u = lo; u < lo + width; u++) sq += h[i * d + u] * h[i * d + u];
      const norm = Math.max(Math.sqrt(sq), 1e-8);
      for (let u = lo; u < lo + width; u++) out[i * d + u] = h[i * d + u] / norm;
    }
  }
  return out;
}

// Each head's raw scores s(h^k_i, h^k_j) before τ (H*N*N, head by head), in float64, as
// core.similarity.head_scores computes them: `h` (N*d); `p` the similarity's parameters
// (decodeParams; additive and bilinear only). Head k compares the d/H-wide slices h^k
// (scaled_dot divides by sqrt(d/H)); bilinear compares (h_i W_s)^k with h_j^k; neg_euclidean
// sums squared differences, so identical tokens score exactly 0.
export function headScores(name, h, n, d, heads, p) {
  const width = d / heads, out = new Float64Array(heads * n * n);
  if (!Number.isInteger(width)) throw new Error(`${heads} heads do not split d = ${d}`);
  if (name === 'additive') return additiveScores(h, n, d, heads, p, out);
  let left = h, right = h;
  if (name === 'cosine') left = right = unitSlices(h, n, d, heads);
  else if (name === 'bilinear') { // h W_s: W_s (d*d) row-major, so its transpose's rows
    const ws = p.bilinear, t = new Float64Array(d * d);
    for (let u = 0; u < d; u++) for (let v = 0; v < d; v++) t[v * d + u] = ws[u * d + v];
    left = timesTransposed(h, n, d, t, d);
  } else if (!['dot', 'scaled_dot', 'neg_euclidean'].includes(name)) {
    throw new Error(`unknown similarity ${name}`);
  }
  const symmetric = name !== 'bilinear', scale = name === 'scaled_dot' ? Math.sqrt(width) : 1;
  for (let k = 0; k < heads; k++) {
    const lo = k * width, hi = lo + width, block = k * n * n;
    for (let i = 0; i < n; i++) {
      for (let j = symmetric ? i : 0; j < n; j++) {
        let s = 0;
        if (name === 'neg_euclidean') {
          for (let u = lo; u < hi; u++) { const diff = h[i * d + u] - h[j * d + u]; s -= diff * diff; }
        } else {
          for (let u = lo; u < hi; u++) s += left[i * d + u] * right[j * d + u];
        }
        out[block + i * n + j] = s / scale;
        if (symmetric) out[block + j * n + i] = s / scale;
      }
    }
  }
  return out;
}

// Plotly's "Blues", the colour scale of the app's attention heatmaps (0..1).
const BLUES = [[247, 251, 255], [222, 235, 247], [198, 219, 239], [158, 202, 225],
  [107, 174, 214], [66, 146, 198], [33, 113, 181], [8, 81, 156], [8, 48, 107]];

export function decode(text) {
  const bytes = Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

function maskedSoftmax(logits, keep) {
  let top = -Infinity;
  logits.forEach((v, i) => { if (keep[i] && v > top) top = v; });
  if (!Number.isFinite(top)) top = 0;
  const out = logits.map((v, i) => (keep[i] ? Math.exp(v - top) : 0));
  const sum = out.reduce((a, b) => a + b, 0);
  return out.map((v) => v / Math.max(sum, 1e-38));
}

// The keys row i may attend to: the real ones, without i itself under exclude_self (unless i
// is the only real key), as model.attention_keep.
function keys(mask, i, excludeSelf) {
  if (!excludeSelf || !mask.some((m, j) => m && j !== i)) return mask;
  return mask.map((m, j) => m && j !== i);
}

const ACTIVATIONS = {
  identity: (v) => v, tanh: Math.tanh, relu: (v) => Math.max(v, 0),
  sigmoid: (v) => 1 / (1 + Math.exp(-v)),
}; // config.POOL_ACTIVATIONS

// The trace from the raw scores on. `w`: decoded weights; `h` (N*d) decoded, `scores` (H*N*N, head by
// head: headScores). Head k attends with its own scores over its d/H slice of h; v_i is the heads'
// parts side by side; `attn` is the heads' mean (one head: that head), `headAttn` each head's.
export function compute(w, h, scores, mask, temperature, pooling) {
  const n = mask.length, d = w.hidden, heads = w.heads || 1, width = d / heads;
  const attn = [], values = [], headAttn = Array.from({ length: heads }, () => []);
  for (let i = 0; i < n; i++) {
    const mean = new Array(n).fill(0), v = new Float64Array(d);
    for (let k = 0; k < heads; k++) {
      const row = Array.from({ length: n }, (_, j) => scores[(k * n + i) * n + j] / temperature);
      const a = mask[i] ? maskedSoftmax(row, keys(mask, i, w.exclude_self)) : new Array(n).fill(0);
      headAttn[k].push(a);
      a.forEach((aij, j) => {
        mean[j] += heads === 1 ? aij : aij / heads;
        if (aij) for (let u = k * width; u < (k + 1) * width; u++) v[u] += aij * h[j * d + u];
      });
    }
    attn.push(mean);
    values.push(v);
  }
  const e = values.map((v) => {
    if (pooling !== 'learned') return 0;
    let total = 0;
    for (let k = 0; k < d; k++) {
      let s = w.pool_bias[k];
      for (let l = 0; l < d; l++) s += w.pool_weight[k * d + l] * v[l];
      total += w.pool_vector[k] * Math.tanh(s);
    }
    return total;
  });
  const alpha = maskedSoftmax(e, mask);
  const act = ACTIVATIONS[w.pool_activation];
  const c = Array.from({ length: d }, (_, k) => act(values.reduce((s, v, i) => s + alpha[i] * v[k], 0)));
  const real = Math.max(mask.filter(Boolean).length, 1);
  const hO = Array.from({ length: d }, (_, k) => mask.reduce((s, m, i) => s + (m ? h[i * d + k] : 0), 0) / real);
  const features = w.skip === 'mean' ? [...c, ...hO] : c;
  const logits = Array.from({ length: w.classes }, (_, r) => features.reduce(
    (s, f, k) => s + w.out_weight[r * features.length + k] * f, w.out_bias[r]));
  const probs = maskedSoftmax(logits, logits.map(() => true));
  return { attn, headAttn, alpha, probs, logits };
}

function decodeWeights(part) {
  const out = { ...part };
  for (const name of ['pool_weight', 'pool_bias', 'pool_vector', 'out_weight', 'out_bias']) {
    out[name] = decode(part[name]);
  }
  return out;
}

// The live settings as the sidebar's widgets show them now (found by their labels); `last`
// for any that is missing or mid-edit (a selectbox holding typed text).
function readSidebar(labels, options, last) {
  const side = document.querySelector('[data-testid="stSidebar"]');
  if (!side) return last;
  const byLabel = (selector, label) => [...side.querySelectorAll(selector)]
    .find((el) => el.getAttribute('aria-label') === label);
  const similarity = byLabel('input[role="combobox"]', labels.similarity)?.value;
  const slider = byLabel('input[type="range"]', labels.temperature);
  const temperature = slider ? parseFloat(slider.getAttribute('aria-valuetext')) : NaN;
  const radios = byLabel('[role="radiogroup"]', labels.pooling);
  const checked = radios ? [...radios.querySelectorAll('input[type="radio"]')]
    .findIndex((r) => r.checked) : -1;
  return {
    similarity: Object.hasOwn(options.similarities, similarity) ? similarity : last.similarity,
    temperature: Number.isFinite(temperature) && temperature > 0 ? temperature : last.temperature,
    pooling: options.poolings[checked] ?? last.pooling,
  };
}

function colour(v) { // [r, g, b] of v on BLUES
  const x = Math.min(Math.max(v, 0), 1) * (BLUES.length - 1);
  const i = Math.min(Math.floor(x), BLUES.length - 2), f = x - i;
  const [a, b] = [BLUES[i], BLUES[i + 1]];
  return a.map((c, k) => Math.round(c + (b[k] - c) * f));
}

const LEVELS = 1000; // the matrix's colours, looked up: a step of 0.001 in a
const PALETTE = Array.from({ length: LEVELS + 1 }, (_, k) => colour(k / LEVELS));

const escapeHtml = (s) => String(s).replace(/[&<>"']/g,
  (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[ch]));

function drawMatrix(canvas, attn, tokens, width, selected) {
  const n = tokens.length;
  const ctx = canvas.getContext('2d');
  ctx.font = '12px sans-serif';
  const labelled = n <= 64;
  const labelW = labelled ? Math.min(110, Math.max(...tokens.map((t) => ctx.measureText(t).width)) + 8) : 8;
  const room = width - labelW - 8, whole = Math.min(34, Math.floor(room / n));
  // Whole pixels per cell while they fit; past ~300 tokens a cell is a fraction of room / N
  // (at least 1 px), so the matrix stays in its column.
  const cell = whole >= 2 ? whole : Math.max(room, n) / n;
  const size = cell * n;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.ceil((labelW + size + 8) * ratio);
  canvas.height = Math.ceil((size + labelW + 8) * ratio);
  canvas.style.width = `${labelW + size + 8}px`;
  canvas.style.height = `${size + labelW + 8}px`;
  ctx.scale(ratio, ratio);
  ctx.font = `${Math.min(12, Math.max(cell - 2, 8))}px sans-serif`;
  // One pixel a cell in an N x N image, scaled up unsmoothed: 262,144 fillRects at 512 tokens
  // took 0.3-0.7 s here, the image a few ms.
  const pixels = new ImageData(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const rgb = PALETTE[Math.round(Math.min(Math.max(attn[i][j], 0), 1) * LEVELS)];
      pixels.data.set(rgb, (i * n + j) * 4);
      pixels.data[(i * n + j) * 4 + 3] = 255;
    }
  }
  const image = document.createElement('canvas');
  image.width = image.height = n;
  image.getContext('2d').putImageData(pixels, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(image, labelW, 0, size, size);
  if (cell >= 30) { // the values themselves
    ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
    attn.forEach((row, i) => row.forEach((a, j) => {
      ctx.fillStyle = a > 0.55 ? 'white' : '#1c1c1c';
      ctx.fillText(a.toFixed(2), labelW + (j + 0.5) * cell, (i + 0.5) * cell);
    }));
  }
  if (labelled) {
    ctx.fillStyle = getComputedStyle(canvas).color;
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    const fit = (t) => { let s = t; while (s.length > 1 && ctx.measureText(s).width > labelW - 8) s = s.slice(0, -1); return s === t ? t : `${s}…`; };
    tokens.forEach((t, i) => ctx.fillText(fit(t), labelW - 4, (i + 0.5) * cell));
    tokens.forEach((t, j) => {
      ctx.save(); ctx.translate(labelW + (j + 0.5) * cell, size + 4); ctx.rotate(-Math.PI / 2);
      ctx.fillText(fit(t), 0, 0); ctx.restore();
    });
  }
  if (Array.isArray(selected) && selected[0] < n && selected[1] < n) { // the formula panel's cell
    ctx.strokeStyle = '#e8590c'; ctx.lineWidth = 3;
    ctx.strokeRect(labelW + selected[1] * cell + 1.5, selected[0] * cell + 1.5, cell - 3, cell - 3);
  }
  return { labelW, cell, n };
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  parentElement.__dalLiveStop?.(); // new data calls this again, not always the cleanup first
  for (const [key, part] of Object.entries(data.weights || {})) WEIGHTS.set(key, decodeWeights(part));
  for (const [key, part] of Object.entries(data.params || {})) PARAMS.set(key, decodeParams(part));
  if (data.input) INPUTS.set(data.input_key, decodeInput(data.input));
  const held = INPUTS.get(data.input_key);
  if (!held) { setTriggerValue('missing', data.input_key); return undefined; }
  const { input, hidden } = held;
  const entries = Object.values(input.similarities);
  const missing = entries.map((s) => s.weights).find((k) => !WEIGHTS.has(k))
    ?? entries.map((s) => s.params).find((k) => k && !PARAMS.has(k));
  if (missing) { setTriggerValue('missing', missing); return undefined; }

  function scoresFor(similarity) { // computed once per input and similarity
    const cached = `${data.input_key}|${similarity}`;
    if (!SCORES.has(cached)) {
      const sim = input.similarities[similarity], w = WEIGHTS.get(sim.weights);
      const s = headScores(similarity, hidden[sim.h], input.mask.length, w.hidden, w.heads || 1,
        sim.params && PARAMS.get(sim.params));
      while (SCORES.size >= SCORES_KEPT) SCORES.delete(SCORES.keys().next().value);
      SCORES.set(cached, s);
    }
    return SCORES.get(cached);
  }

  const root = document.createElement('div');
  root.className = 'dal-live';
  root.setAttribute('data-testid', 'dal-live');
  root.innerHTML = `<div class="dal-live-head"></div><div class="dal-live-row">
    <div class="dal-live-matrix"><div class="dal-live-title"></div>
    <canvas></canvas><div class="dal-live-tip" hidden></div></div>
    <div class="dal-live-side"><div class="dal-live-title"></div><div class="dal-live-probs"></div>
    <div class="dal-live-title"></div><div class="dal-live-alpha"></div></div></div>`;
  const words = data.words; // in the session's language (ui.live_view.live_attention)
  const titles = [words.attention, words.prediction, words.alpha]; // trusted HTML: <sub> only
  root.querySelectorAll('.dal-live-title').forEach((t, k) => { t.innerHTML = titles[k]; });
  parentElement.appendChild(root);
  const [head, canvas, tip] = ['.dal-live-head', 'canvas', '.dal-live-tip'].map((s) => root.querySelector(s));
  const [probsBox, alphaBox] = ['.dal-live-probs', '.dal-live-alpha'].map((s) => root.querySelector(s));
  const matrixTitle = root.querySelector('.dal-live-matrix .dal-live-title');
  const tokens = input.tokens;
  let settings = data.settings, shown = null, geometry = null, frame = 0;

  function draw() {
    const sim = input.similarities[settings.similarity];
    const w = WEIGHTS.get(sim.weights);
    const result = compute(w, hidden[sim.h], scoresFor(settings.similarity), input.mask,
      settings.temperature, settings.pooling);
    geometry = drawMatrix(canvas, result.attn, tokens, Math.min(root.clientWidth * 0.6, 620), data.cell);
    const heads = w.heads || 1; // several heads: the matrix is their mean (words.matrix_titles)
    matrixTitle.innerHTML = heads > 1
      ? words.attentionHeads.replace('{mean}', words.headsMean.replace('{heads}', heads))
      : words.attention;
    head.textContent = `${settings.similarity} · τ = ${settings.temperature} · ${words.pooling.replace('{pooling}', settings.pooling)}`;
    const top = result.probs.indexOf(Math.max(...result.probs));
    probsBox.innerHTML = result.probs.map((p, r) => `<div class="dal-live-bar${r === top ? ' dal-live-top' : ''}">
      <span>${escapeHtml(w.class_names[r])}</span><span class="dal-live-fill" style="width:${(p * 100).toFixed(1)}%"></span>
      <span>${(p * 100).toFixed(1)}%</span></div>`).join('');
    const most = Math.max(...result.alpha) || 1;
    alphaBox.innerHTML = tokens.map((t, i) => {
      const share = result.alpha[i] / most;
      return `<span title="α = ${result.alpha[i].toFixed(4)}" style="background: rgba(59, 91, 219, ${share.toFixed(3)});
        color: ${share > 0.55 ? 'white' : 'inherit'}">${escapeHtml(t)}</span>`;
    }).join(' ');
    root.dalLive = { settings: { ...settings }, tokens, geometry, ...result };
    root.dataset.settings = `${settings.similarity}|${settings.temperature}|${settings.pooling}`;
    shown = root.dataset.settings;
  }

  function tick() { // until the element leaves the page
    if (!root.isConnected) return;
    frame = requestAnimationFrame(tick);
    const next = readSidebar(data.labels, input, settings);
    if (`${next.similarity}|${next.temperature}|${next.pooling}` === shown) return;
    try {
      settings = next;
      draw();
    } catch (err) { // a value this view cannot draw: keep the last drawing, say why once
      shown = `${next.similarity}|${next.temperature}|${next.pooling}`;
      head.textContent = words.cannot.replace('{shown}', shown.replaceAll('|', ' · ')).replace('{error}', err.message);
    }
  }

  canvas.addEventListener('mousemove', (event) => {
    const box = canvas.getBoundingClientRect();
    const j = Math.floor((event.clientX - box.left - geometry.labelW) / geometry.cell);
    const i = Math.floor((event.clientY - box.top) / geometry.cell);
    if (i < 0 || j < 0 || i >= geometry.n || j >= geometry.n) { tip.hidden = true; return; }
    const a = root.dalLive.attn[i][j];
    tip.textContent = `a[${i + 1},${j + 1}] = ${a.toFixed(4)} · ` + words.tip.replace('{query}', tokens[i]).replace('{key}', tokens[j]);
    const area = root.getBoundingClientRect();
    tip.style.left = `${event.clientX - area.left + 12}px`;
    tip.style.top = `${event.clientY - area.top + 12}px`;
    tip.hidden = false;
  });
  canvas.addEventListener('mouseleave', () => { tip.hidden = true; });
  canvas.addEventListener('click', (event) => { // selects the cell for the formula panel
    const box = canvas.getBoundingClientRect();
    const j = Math.floor((event.clientX - box.left - geometry.labelW) / geometry.cell);
    const i = Math.floor((event.clientY - box.top) / geometry.cell);
    if (i >= 0 && j >= 0 && i < geometry.n && j < geometry.n) setTriggerValue('cell', [i, j]);
  });
  draw();
  frame = requestAnimationFrame(tick);
  const stop = () => { cancelAnimationFrame(frame); root.remove(); };
  parentElement.__dalLiveStop = stop;
  return stop;
}

// For the tests, which run it on torch's numbers.
window.__dalLiveEngine = { compute, decode, decodeParams, decodeWeights, drawMatrix, headScores };
