// The app page's side of a map click (gr.HTML `js_on_load` of the result map, app.py; Gradio
// runs this as a function body). The result map (an <iframe srcdoc>, same origin) posts
// {type: "closp-place", lat, lon} (assets/js/result-map.js); this fills the place fields. Only
// messages from this page's own iframes count, and only finite numbers in range are taken.
if (!window.__clospPlaceListener) {
  window.__clospPlaceListener = true;
  const setNumber = (id, value) => {
    const input = document.querySelector(`#${id} input`);
    if (!input) return;
    input.value = String(value);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  };
  const fill = (lat, lon, tries) => {
    const ready = ["#place-lat input", "#place-lon input"].every((s) => document.querySelector(s));
    if (!ready) {
      // a closed accordion renders no inputs: open it once, then wait for them
      if (tries === 100) document.querySelector("#place-box .label-wrap")?.click();
      if (tries > 0) setTimeout(() => fill(lat, lon, tries - 1), 50);
      return;
    }
    setNumber("place-lat", lat);  // their change events switch "Anywhere" to "Prefer nearby"
    setNumber("place-lon", lon);
  };
  window.addEventListener("message", (event) => {
    const d = event.data;
    if (!d || d.type !== "closp-place") return;
    const fromOurMap = [...document.querySelectorAll("iframe")].some(
      (f) => f.contentWindow === event.source);
    const lat = Number(d.lat), lon = Number(d.lon);
    if (!fromOurMap || !Number.isFinite(lat) || !Number.isFinite(lon)) return;
    if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return;
    fill(lat, lon, 100);  // up to 5 s for the accordion to render
  });
}
