"""Reading uploads: user GeoTIFFs -> validated scenes of 120 x 120 tiles (`scene.read_upload`, built
from `checks`, `bands` and `windows`; size limits: `settings.Limits`); heat maps: the app's
(`query_map`) and the streaming one for tile-sized rasters (`heatmap`), both scored by
`window_scores`."""
