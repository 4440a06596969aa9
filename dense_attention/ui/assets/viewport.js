// Which of the page's lazily drawn charts are on (or near) the screen. The server draws a chart
// of a live fragment only while its box is within MARGIN of the viewport (ui/lazy.py); every
// other one is an empty box of the chart's height. This element reports the keys of the boxes
// near the screen whenever that set changes (after scrolling stops), so a setting change redraws
// only what a user can see and a box scrolled to is drawn then. It draws nothing itself.

export default function (component) {
  const { data, parentElement, setStateValue } = component;
  parentElement.__dalViewportStop?.();
  const doc = parentElement.ownerDocument;
  const selector = `[class*="st-key-${data.prefix}"]`;
  const near = new Map(); // box element -> within the margin
  let reported = null; // the last report of this element
  let timer = null;

  const keyOf = (el) => [...el.classList].find((c) => c.startsWith(`st-key-${data.prefix}`))?.slice(7);

  function report() {
    timer = null;
    window.__dalViewportIdle = true; // nothing pending (tests wait for it: tests/conftest.py)
    // A page left behind (another page's run is replacing this one) reports nothing: its
    // boxes leaving the screen are not a scroll, and its state would rerun the wrong page.
    if (!parentElement.isConnected) return;
    const keys = [];
    near.forEach((on, el) => { if (on && el.isConnected) keys.push(keyOf(el)); });
    keys.sort();
    const text = JSON.stringify(keys);
    if (text === reported) return;
    reported = text;
    setStateValue('visible', keys);
  }
  const schedule = () => {
    window.__dalViewportIdle = false;
    clearTimeout(timer);
    timer = setTimeout(report, data.debounce_ms);
  };

  const observer = new IntersectionObserver((entries) => {
    const live = entries.filter((entry) => entry.target.isConnected);
    live.forEach((entry) => near.set(entry.target, entry.isIntersecting));
    if (live.length) schedule();
  }, { rootMargin: `${data.margin_px}px 0px ${data.margin_px}px 0px` });

  function scan() { // boxes come and go as the page reruns
    near.forEach((_, el) => { if (!el.isConnected) { observer.unobserve(el); near.delete(el); } });
    doc.querySelectorAll(selector).forEach((el) => {
      if (!near.has(el)) { near.set(el, false); observer.observe(el); }
    });
    if (!near.size && timer === null) window.__dalViewportIdle = true; // no box: no report
  }
  window.__dalViewportIdle = false; // the observer's first callbacks are on their way
  const watcher = new MutationObserver(scan);
  watcher.observe(doc.body, { childList: true, subtree: true });
  scan();
  const stop = () => {
    observer.disconnect();
    watcher.disconnect();
    clearTimeout(timer);
    window.__dalViewportIdle = true;
  };
  parentElement.__dalViewportStop = stop;
  return stop;
}
