// The "Presentation" switch: the `js` of its change event (app.py), also fired when a link's
// ?present=1 sets it on load. It only toggles a class; assets/css/layout.css does the rest.
// Gradio evaluates this file as one expression.
(on) => {
  document.body.classList.toggle("closp-present", Boolean(on));
  return on;
};
