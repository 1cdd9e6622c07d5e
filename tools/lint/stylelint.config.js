// stylelint for the app's own styles (assets/css): the recommended rules find errors (unknown
// properties and values, invalid hex colours, duplicate properties and selectors, ...) and leave
// formatting alone.
export default {
  extends: ["stylelint-config-recommended"],
};
