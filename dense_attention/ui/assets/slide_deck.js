// The present page's Previous / "Slide k of n" / Next, and a clicker's keys (← → PageUp
// PageDown), switching the slides' tabs in the browser: every slide is already on the page,
// so a slide change waits for no server. The current slide goes into the URL's `slide`
// parameter (1-based), so a copied link or a reload opens it.

const TABS = '.st-key-slide_view [role="tab"]';

export default function (component) {
  const { data, parentElement } = component;
  parentElement.__dalDeckStop?.();
  const root = document.createElement('div');
  root.className = 'dal-deck';
  root.innerHTML = `<button type="button" class="dal-deck-button" data-step="-1">← Previous</button>
    <span class="dal-deck-count" aria-live="polite"></span>
    <button type="button" class="dal-deck-button dal-deck-primary" data-step="1">Next →</button>`;
  parentElement.appendChild(root);
  const [back, forward] = root.querySelectorAll('button');
  const count = root.querySelector('.dal-deck-count');
  const tabs = () => [...document.querySelectorAll(TABS)];
  const current = () => Math.max(tabs().findIndex((t) => t.getAttribute('aria-selected') === 'true'), 0);
  const go = (step) => tabs()[current() + step]?.click();
  root.querySelectorAll('button').forEach((b) => { b.onclick = () => go(Number(b.dataset.step)); });

  function onKey(event) {
    const target = event.target;
    if (target && (['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName) || target.isContentEditable)) return;
    const step = { ArrowRight: 1, PageDown: 1, ArrowLeft: -1, PageUp: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    go(step);
  }
  document.addEventListener('keydown', onKey);

  let frame = 0, shown = -1;
  function tick() { // follow the tabs (a click on one, a key, a rerun) and keep the URL's slide
    const k = current(), n = tabs().length || data.n;
    if (k !== shown) {
      shown = k;
      count.textContent = `Slide ${k + 1} of ${n}`;
      back.disabled = k === 0;
      forward.disabled = k === n - 1;
    }
    const url = new URL(window.location.href);
    if (url.searchParams.get('slide') !== String(k + 1)) {
      url.searchParams.set('slide', String(k + 1));
      window.history.replaceState(window.history.state, '', url);
    }
    frame = requestAnimationFrame(tick);
  }
  tick();
  const stop = () => { cancelAnimationFrame(frame); document.removeEventListener('keydown', onKey); root.remove(); };
  parentElement.__dalDeckStop = stop;
  return stop;
}
