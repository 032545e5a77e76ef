// Entry point: the tabs (ARIA tab pattern, arrow keys, #hash to link to
// a tab) and each tab's module.

import { initAnalyze } from "./analyze.js";
import { initCluster } from "./cluster.js";
import { initHide } from "./hide.js";
import { initLoadTest } from "./loadtest.js";
import { initReveal } from "./reveal.js";
import { wirePasswordToggles } from "./ui.js";

function initTabs() {
  const tabs = [...document.querySelectorAll("[role=tab]")];
  const select = (tab, focus = false) => {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
      document.getElementById(t.getAttribute("aria-controls")).hidden = !on;
    }
    if (focus) tab.focus();
    if (location.hash !== `#${tab.dataset.tab}`) history.replaceState(null, "", `#${tab.dataset.tab}`);
    window.dispatchEvent(new Event("resize"));
  };
  for (const t of tabs) {
    t.addEventListener("click", () => select(t));
    t.addEventListener("keydown", (e) => {
      const i = tabs.indexOf(t);
      const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      select(tabs[(to + tabs.length) % tabs.length], true);
    });
  }
  const fromHash = () => tabs.find((t) => `#${t.dataset.tab}` === location.hash);
  window.addEventListener("hashchange", () => {
    const t = fromHash();
    if (t) select(t);
  });
  select(fromHash() || tabs[0]);
}

initTabs();
wirePasswordToggles();
initHide();
initReveal();
initAnalyze();
initCluster();
initLoadTest();
