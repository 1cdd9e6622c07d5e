// "Use the current map view": the `js` of that button's click (app.py). It reads the bounds of
// the Leaflet map inside the result map's srcdoc iframe (same origin; folium keeps the map in a
// global `map_<id>`) and returns them as "west, south, east, north" for the box field, which the
// server validates like any typed box. No map yet: the field keeps its value.
(box) => {
  for (const frame of document.querySelectorAll("#result-map iframe")) {
    const win = frame.contentWindow;
    if (!win || !win.L) continue;
    const map = Object.keys(win)
      .filter((key) => key.startsWith("map_"))
      .map((key) => win[key])
      .find((value) => value instanceof win.L.Map);
    if (!map) continue;
    const b = map.getBounds();
    return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
      .map((x) => x.toFixed(4))
      .join(", ");
  }
  return box;
};
