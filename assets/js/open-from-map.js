// The app page's side of "Open in detail view" in a map popup (gr.HTML `js_on_load` of the
// detail view, closp_demo/ui/detail.py). The result map (an <iframe srcdoc>, same origin) posts
// {type: "closp-open", id} (assets/js/result-map.js); this puts the id into the detail view's id
// box and presses Open. Only messages from this page's own iframes count; ids are short strings.
if (!window.__clospOpenListener) {
  window.__clospOpenListener = true;
  window.addEventListener("message", (event) => {
    const d = event.data;
    if (!d || d.type !== "closp-open" || typeof d.id !== "string" || d.id.length > 300) return;
    const fromOurMap = [...document.querySelectorAll("iframe")].some(
      (f) => f.contentWindow === event.source);
    const box = document.querySelector("#detail-id textarea, #detail-id input");
    if (!fromOurMap || !box) return;
    box.value = d.id;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    setTimeout(() => document.querySelector("#detail-open")?.click(), 50);
  });
}
