// ESLint for the app's browser code (assets/js; the vendored Leaflet is not ours to lint).
// Run from the repository root: `npm run --prefix tools/lint lint` (run.sh test does).
import js from "@eslint/js";
import globals from "globals";

// Data reaches the page as JSON and is shown through textContent; nothing may parse it as HTML.
const NO_HTML_PARSING = ["innerHTML", "outerHTML", "insertAdjacentHTML"].map((property) => ({
  property,
  message: "Build DOM nodes and set textContent: strings from data must never become markup.",
}));

export default [
  {
    files: ["assets/js/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "script", // each file is a classic <script>, a js_on_load body or an expression
      globals: { ...globals.browser },
    },
    rules: {
      ...js.configs.recommended.rules,
      "no-undef": "error",
      "no-implicit-globals": "error", // the page's scope is shared with Leaflet and folium
      "no-eval": "error",
      "no-implied-eval": "error",
      "no-new-func": "error",
      eqeqeq: "error",
      "no-restricted-properties": ["error", ...NO_HTML_PARSING],
      "no-restricted-syntax": [
        "error",
        {
          selector: "CallExpression[callee.object.name='document'][callee.property.name=/^write/]",
          message: "document.write parses markup.",
        },
      ],
    },
  },
  {
    files: ["assets/js/result-map.js"],
    languageOptions: { globals: { L: "readonly" } }, // Leaflet, loaded before it
  },
];
