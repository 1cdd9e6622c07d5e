// Giving a place (map click or typing) switches "Anywhere" on to "Prefer nearby": the `js` of the
// latitude and longitude fields' change events (app.py), so it runs through Gradio's own state
// (a DOM click on the radio was lost under load). Gradio evaluates this file as one expression.
(mode, value) => (mode === "off" && value !== null ? "prefer" : mode);
