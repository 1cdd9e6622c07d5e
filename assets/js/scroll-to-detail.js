// Opening an image (thumbnail, table row, map popup, upload) brings the detail view, built below
// the results, into sight; otherwise its images sit off screen, and lazy-loaded ones never load.
// The `js` of the first step chained after an image id is set (closp_demo/ui/detail.py).
// Gradio evaluates this file as one expression.
() => {
  const view = document.getElementById("detail-view");
  if (view) view.scrollIntoView({ behavior: "smooth", block: "start" });
};
