// The present page's Previous / "Slide k of n" / Next, and a clicker's keys (← → PageUp
// PageDown), switching the slides' tabs in the browser: every slide is already on the page,
// so a slide change waits for no server. The current slide goes into the URL's `slide`
// parameter (1-based), so a copied link, a reload or a rerun opens it, and into the tab's
// sessionStorage, so coming back from another page (whose URL has no slide) finds it.

const TABS = '.st-key-slide_view [role="tab"]';
const STORED = 'dal-slide'; // this tab's last slide (sessionStorage): another page's URL drops it

export default function (component) {
  const { data, parentElement } = component;
  parentElement.__dalDeckStop?.();
  const root = document.createElement('div');
  root.className = 'dal-deck';
  root.innerHTML = `<button type="button" class="dal-deck-button" data-step="-1"></button>
    <span class="dal-deck-count" aria-live="polite"></span>
    <button type="button" class="dal-deck-button dal-deck-primary" data-step="1"></button>`;
  parentElement.appendChild(root);
  const [back, forward] = root.querySelectorAll('button');
  const words = data.words; // in the session's language (ui.present.slide_controls)
  back.textContent = words.previous;
  forward.textContent = words.next;
  const count = root.querySelector('.dal-deck-count');
  const tabs = () => [...document.querySelectorAll(TABS)];
  const current = () => Math.max(tabs().findIndex((t) => t.getAttribute('aria-selected') === 'true'), 0);
  const go = (step) => tabs()[current() + step]?.click();
  root.querySelectorAll('button').forEach((b) => { b.onclick = () => go(Number(b.dataset.step)); });

  function onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.defaultPrevented) return;
    const target = event.target;
    if (target && (['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName) || target.isContentEditable)) return;
    const step = { ArrowRight: 1, PageDown: 1, ArrowLeft: -1, PageUp: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    go(step);
  }
  document.addEventListener('keydown', onKey);

  let frame = 0, shown = -1, restored = false;
  function restore() { // back from another page (its URL has no slide): the slide left there
    restored = true;
    const left = Number(window.sessionStorage.getItem(STORED));
    if (!new URL(window.location.href).searchParams.has('slide') && left > 0) tabs()[left - 1]?.click();
  }
  function tick() { // follow the tabs (a click on one, a key, a rerun) and keep the URL's slide
    if (!root.isConnected) return;
    frame = requestAnimationFrame(tick);
    if (!tabs().length) return; // the slides are not drawn yet: leave the link's slide alone
    if (!restored) restore();
    const k = current(), n = data.n; // all slides: the tabs may still be arriving
    if (k !== shown) {
      shown = k;
      count.textContent = words.count.replace('{k}', k + 1).replace('{n}', n);
      back.disabled = k === 0;
      forward.disabled = k === n - 1;
    }
    const url = new URL(window.location.href);
    window.sessionStorage.setItem(STORED, String(k + 1));
    if (url.searchParams.get('slide') !== String(k + 1)) {
      url.searchParams.set('slide', String(k + 1));
      window.history.replaceState(window.history.state, '', url);
    }
  }
  tick();
  const stop = () => { cancelAnimationFrame(frame); document.removeEventListener('keydown', onKey); root.remove(); };
  parentElement.__dalDeckStop = stop;
  return stop;
}
