// "Copy link": the `js` of that button's click (app.py). After each search the server writes
// that search's query string ("?q=...") into the link field; this makes it a full URL of this
// page (with presentation mode when it is on), puts it on the clipboard where the browser
// allows it, and returns it for the field. Gradio evaluates this file as one expression.
(link) => {
  const text = String(link || "");
  const at = text.indexOf("?");
  if (at < 0) return text;
  const params = new URLSearchParams(text.slice(at));
  if (document.body.classList.contains("closp-present")) params.set("present", "1");
  else params.delete("present");
  const url = `${window.location.origin}${window.location.pathname}?${params.toString()}`;
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(url).catch(() => undefined); // denied: the field still shows it
  }
  return url;
};
