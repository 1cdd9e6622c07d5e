"""Showing results: gallery and table rows, the Leaflet map, HTML escaping."""
