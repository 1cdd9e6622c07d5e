// The result map's behaviour inside its srcdoc iframe (closp_demo/views/map.py builds the page).
//
// folium writes the map, its tile layers and layer groups; its last script calls
//   clospResultMap(map, data, { tiles: [osm, satellite], offline: offlineBase, groups: {S1: ...} })
// with `data` as escaped JSON (views/escape.py `json_for_script`). This file draws the offline
// basemap, the footprints and markers with their popups, the search place, the legend and the
// offline fallback, and posts background clicks to the parent page. Every string from the data
// goes through textContent, never innerHTML, so no label is ever parsed as markup.

window.clospResultMap = function (map, data, layers) {
  var tiles = layers.tiles;
  var offlineBase = layers.offline;
  var groups = layers.groups;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  // Country outlines in their own pane beneath the tile pane (z-index 200): loaded tiles
  // cover them, missing tiles let them show.
  var pane = map.createPane("closp-basemap");
  pane.style.zIndex = 150;
  pane.style.pointerEvents = "none";
  function drawBasemap(geojson) {
    L.geoJSON(geojson, {
      pane: "closp-basemap", interactive: false, className: "closp-basemap",
      style: { color: "#8c8a84", weight: 0.7, fillColor: "#f2efe9", fillOpacity: 1 }
    }).addTo(map);
  }
  var inlineBasemap = document.getElementById("closp-basemap-data");
  if (inlineBasemap) {
    drawBasemap(JSON.parse(inlineBasemap.textContent));
  } else if (data.basemapUrl) {
    fetch(data.basemapUrl)
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(drawBasemap)
      .catch(function (err) { console.warn("offline basemap not loaded:", err); });
  }
  map.attributionControl.addAttribution(data.basemapAttribution);

  // Footprints and markers; every data string goes through textContent, never innerHTML.
  function describe(item) {
    var style = data.styles[item.sensor];
    return style.label + (item.rank !== null ? " \u00b7 rank " + item.rank : "");
  }
  function popup(item) {
    var root = el("div", "closp-popup");
    if (item.thumb) {
      var img = el("img");
      img.src = item.thumb;
      img.alt = "preview of " + item.title;
      root.appendChild(img);
    }
    root.appendChild(el("div", "closp-title", item.title));
    root.appendChild(el("div", "closp-sub", describe(item)));
    var table = el("table");
    item.details.forEach(function (pair) {
      var row = el("tr");
      row.appendChild(el("th", "", pair[0]));
      row.appendChild(el("td", "", pair[1]));
      table.appendChild(row);
    });
    if (item.details.length) { root.appendChild(table); }
    root.appendChild(el("div", "closp-sub", item.id));
    // Opens the app's detail view (assets/js/open-from-map.js listens on the parent page).
    var open = el("button", "closp-open", "Open in detail view");
    open.type = "button";
    open.addEventListener("click", function () {
      window.parent.postMessage({ type: "closp-open", id: item.id }, "*");
    });
    root.appendChild(open);
    return root;
  }
  function tooltip(item) {
    return el("span", "", item.title);  // the rank is on the marker badge already
  }
  function badge(item) {
    var text = item.rank !== null ? item.rank : (item.sensor === "query" ? "Q" : "");
    var node = el("span", "", text);
    node.style.background = data.styles[item.sensor].colour;
    return node;
  }
  // A query heat map over an upload: tinted windows beneath the footprints, score on hover.
  (data.heat || []).forEach(function (cell) {
    L.polygon(cell.ring, {
      stroke: false, fillColor: cell.colour, fillOpacity: 0.6, className: "closp-heat"
    }).bindTooltip(function () { return el("span", "", "similarity " + cell.score.toFixed(3)); })
      .addTo(map);
  });
  // A popup fits inside the map, clear of the controls in the corners it will lie under: its
  // size is set as it opens (the iframe may have been resized since), the content scrolls past
  // maxHeight with the "Open" button kept in view (assets/css/result-map.css), and autoPan moves
  // the map so the whole popup shows. Leaflet reads these options after the content function.
  var POPUP_CHROME_X = 46;  // .leaflet-popup-content margins (20 + 24) and the wrapper's border
  var POPUP_CHROME_Y = 48;  // content margins (2 x 13), border, and the tip's 20 px margin
  var POPUP_GAP = 6;
  var COMPACT_BELOW_PX = 340;  // maxHeight under which the thumbnail shrinks
  var container = map.getContainer();
  // How far the controls of the top (or bottom) corners reach into the map, counting only
  // those that overlap the columns [left, right] the popup will span.
  function controlDepth(edge, left, right) {
    var box = container.getBoundingClientRect();
    var depth = 0;
    container.querySelectorAll(".leaflet-" + edge + " .leaflet-control").forEach(function (c) {
      var r = c.getBoundingClientRect();
      if (r.height === 0 || r.right - box.left < left || r.left - box.left > right) { return; }
      depth = Math.max(depth, edge === "top" ? r.bottom - box.top : box.bottom - r.top);
    });
    return Math.ceil(depth);
  }
  function fitPopup(popup) {
    var size = map.getSize();
    var options = popup.options;
    options.maxWidth = Math.max(120, Math.min(280, size.x - 2 * POPUP_GAP - POPUP_CHROME_X));
    options.minWidth = Math.min(options.minWidth || 50, options.maxWidth);
    // the columns the popup will take once autoPan moved it inside (at its widest)
    var width = options.maxWidth + POPUP_CHROME_X;
    var x = popup.getLatLng() ? map.latLngToContainerPoint(popup.getLatLng()).x : size.x / 2;
    var left = Math.min(Math.max(x - width / 2, POPUP_GAP), size.x - POPUP_GAP - width);
    var top = controlDepth("top", left, left + width) + POPUP_GAP;
    var bottom = controlDepth("bottom", left, left + width) + POPUP_GAP;
    options.maxHeight = Math.max(120, size.y - top - bottom - POPUP_CHROME_Y);
    options.autoPan = true;
    options.autoPanPaddingTopLeft = L.point(POPUP_GAP, top);
    options.autoPanPaddingBottomRight = L.point(POPUP_GAP, bottom);
    return options;
  }
  data.items.forEach(function (item) {
    var colour = data.styles[item.sensor].colour;
    var shape = L.polygon(item.ring, {
      color: colour, weight: 2, fillColor: colour, fillOpacity: 0.15,
      className: "closp-footprint closp-footprint-" + item.sensor
    });
    var marker = L.marker(item.centre, {
      icon: L.divIcon({
        className: "closp-marker closp-marker-" + item.sensor,
        html: badge(item), iconSize: [22, 22], iconAnchor: [11, 11], popupAnchor: [0, -10]
      }),
      riseOnHover: true,
      // Leaflet stacks markers by screen position; keep the query, then rank 1, 2, ... on top.
      zIndexOffset: item.sensor === "query" ? 200000 : 100000 - 100 * (item.rank || 999)
    });
    [shape, marker].forEach(function (layer) {
      layer.bindPopup(function (source) {
        var options = fitPopup(source.getPopup());
        var node = popup(item);
        // little room (a phone, or a popup beside the map's corner controls): a small thumbnail
        if (options.maxHeight < COMPACT_BELOW_PX) { node.classList.add("closp-compact"); }
        return node;
      }, { maxWidth: 280 });
      layer.bindTooltip(function () { return tooltip(item); }, { direction: "top" });
      groups[item.sensor].addLayer(layer);
    });
  });

  // The search place: a marker, and its radius as a circle that lets clicks through.
  function dot(className, colour) {
    var node = el("span");
    if (colour) { node.style.background = colour; }
    return L.divIcon({
      className: "closp-marker " + className, html: node, iconSize: [22, 22], iconAnchor: [11, 11]
    });
  }
  if (data.place) {
    var at = [data.place.lat, data.place.lon];
    if (data.place.radiusM !== null) {
      L.circle(at, {
        radius: data.place.radiusM, color: data.place.colour, weight: 2, dashArray: "6 4",
        fillOpacity: 0.04, interactive: false, className: "closp-place-radius"
      }).addTo(map);
    }
    L.marker(at, { icon: dot("closp-place", data.place.colour), zIndexOffset: 300000 })
      .bindTooltip(function () { return el("span", "", data.place.label); }, { direction: "top" })
      .addTo(map);
  }

  // A click on the background proposes a search place: a provisional marker moves there and
  // the parent page (the app) gets the point to fill its inputs. Footprints and markers open
  // their popups instead (Leaflet stops the click of a layer with a popup at that layer).
  var pick = null;
  function round4(x) { return Math.round(x * 1e4) / 1e4; }
  map.on("click", function (e) {
    var wrapped = e.latlng.wrap();  // the world copy clicked may lie beyond +-180
    if (pick) {
      pick.setLatLng(e.latlng);
    } else {
      pick = L.marker(e.latlng, {
        icon: dot("closp-place-pick"), interactive: false, keyboard: false, zIndexOffset: 300100
      }).addTo(map);
    }
    window.parent.postMessage(
      { type: "closp-place", lat: round4(wrapped.lat), lon: round4(wrapped.lng) }, "*"
    );
  });

  // Legend of the sensors on the map.
  var present = Object.keys(groups);
  if (present.length) {
    var legend = L.control({ position: "bottomright" });
    legend.onAdd = function () {
      var box = el("div", "closp-box closp-legend");
      present.forEach(function (key, i) {
        if (i) { box.appendChild(el("br")); }
        var dot = el("i");
        dot.style.background = data.styles[key].colour;
        box.appendChild(dot);
        box.appendChild(document.createTextNode(data.styles[key].label));
      });
      return box;
    };
    legend.addTo(map);
  }

  // Offline fallback: a tile layer that fails before loading any tile is replaced by the
  // outlines-only base layer, which shows a note while it is active.
  var note = L.control({ position: "bottomleft" });
  note.onAdd = function () {
    return el("div", "closp-box closp-offline-note", "offline background");
  };
  offlineBase.on("add", function () { note.addTo(map); });
  offlineBase.on("remove", function () { note.remove(); });
  if (map.hasLayer(offlineBase)) { note.addTo(map); }
  function goOffline(layer) {
    if (map.hasLayer(layer)) {
      map.removeLayer(layer);
      map.addLayer(offlineBase);
    }
  }
  tiles.forEach(function (layer) {
    var loaded = 0;
    layer.on("add", function () { loaded = 0; });
    layer.on("tileload", function () { loaded += 1; });
    layer.on("tileerror", function () {
      if (loaded === 0) { setTimeout(function () { goOffline(layer); }, 0); }
    });
  });
  function allOffline() { tiles.forEach(goOffline); }
  if (navigator.onLine === false) { allOffline(); }
  window.addEventListener("offline", allOffline);
};
