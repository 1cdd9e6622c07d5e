"""Reading uploads: user GeoTIFFs -> validated scenes of 120 x 120 tiles; limits; heat maps."""
