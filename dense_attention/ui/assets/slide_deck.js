// The present page's Previous / "Slide k of n" / Next, and a clicker's keys (← → PageUp
// PageDown), switching the slides' tabs in the browser: every slide is already on the page,
// so a slide change waits for no server. The current slide goes into the URL's `slide`
// parameter (1-based), so a copied link, a reload or a rerun opens it, and into the tab's
// sessionStorage, so coming back from another page (whose URL has no slide) finds it.
// The audience window links to its presenter view (the same URL with presenter=1, a second
// window: the current and next slide, the notes, a timer); the two stay on the same slide
// both ways through a BroadcastChannel, browser to browser, with no server in between.

const TABS = '.st-key-slide_view [role="tab"]';
const STORED = 'dal-slide'; // this tab's last slide (sessionStorage): another page's URL drops it
const TIMER = 'dal-presenter-start'; // when this presenter window's timer started (sessionStorage)
const CHANNEL = 'dal-present'; // every present window of this browser and origin: one slide

function clock(ms) {
  const s = Math.max(Math.floor(ms / 1000), 0);
  const pad = (v) => String(v).padStart(2, '0');
  return s >= 3600 ? `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`
    : `${pad(Math.floor(s / 60))}:${pad(s % 60)}`;
}

export default function (component) {
  const { data, parentElement } = component;
  parentElement.__dalDeckStop?.();
  const root = document.createElement('div');
  root.className = 'dal-deck';
  root.innerHTML = `<button type="button" class="dal-deck-button" data-step="-1"></button>
    <span class="dal-deck-count" aria-live="polite"></span>
    <button type="button" class="dal-deck-button dal-deck-primary" data-step="1"></button>
    <span class="dal-deck-extra"></span>`;
  parentElement.appendChild(root);
  const [back, forward] = root.querySelectorAll('button');
  const words = data.words; // in the session's language (ui.present.slide_controls)
  back.textContent = words.previous;
  forward.textContent = words.next;
  const count = root.querySelector('.dal-deck-count');
  const extra = root.querySelector('.dal-deck-extra');
  let opener = null, timer = null;
  if (data.presenter) { // the presenter window: a timer since it opened, and its reset
    extra.innerHTML = `<span class="dal-deck-timer">00:00</span>
      <button type="button" class="dal-deck-button dal-deck-reset"></button>`;
    timer = extra.querySelector('.dal-deck-timer');
    timer.setAttribute('aria-label', words.timer);
    extra.querySelector('button').textContent = words.reset;
    if (!window.sessionStorage.getItem(TIMER)) window.sessionStorage.setItem(TIMER, String(Date.now()));
    extra.querySelector('button').onclick = () => window.sessionStorage.setItem(TIMER, String(Date.now()));
  } else { // the audience window: a link to open the presenter view in a second window
    extra.innerHTML = '<a class="dal-deck-button dal-deck-presenter" target="_blank"></a>';
    opener = extra.querySelector('a');
    opener.textContent = words.presenter;
  }
  const tabs = () => [...document.querySelectorAll(TABS)];
  const current = () => Math.max(tabs().findIndex((t) => t.getAttribute('aria-selected') === 'true'), 0);
  const go = (step) => tabs()[current() + step]?.click();
  [back, forward].forEach((b) => { b.onclick = () => go(Number(b.dataset.step)); });

  // In step with the other window(s): a slide changed here is posted; one posted there is
  // clicked here (and not posted back). A window that opens asks the others where they are.
  const channel = 'BroadcastChannel' in window ? new BroadcastChannel(CHANNEL) : null;
  let wanted = null, heard = null;
  if (channel) {
    channel.onmessage = ({ data: message }) => {
      if (message?.hello) { if (tabs().length) channel.postMessage({ slide: current() }); }
      else if (Number.isInteger(message?.slide)) wanted = message.slide;
    };
    channel.postMessage({ hello: true });
  }

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
    if (wanted !== null && wanted !== current() && tabs()[wanted]) {
      heard = wanted;
      tabs()[wanted].click();
    }
    wanted = null;
    if (timer) timer.textContent = clock(Date.now() - Number(window.sessionStorage.getItem(TIMER)));
    const k = current(), n = data.n; // all slides: the tabs may still be arriving
    if (k !== shown) {
      if (shown !== -1 && k !== heard) channel?.postMessage({ slide: k });
      heard = null;
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
    if (opener) {
      url.searchParams.set('presenter', '1');
      if (opener.href !== url.href) opener.href = url.href;
    }
  }
  tick();
  const stop = () => {
    cancelAnimationFrame(frame);
    document.removeEventListener('keydown', onKey);
    channel?.close();
    root.remove();
  };
  parentElement.__dalDeckStop = stop;
  return stop;
}
