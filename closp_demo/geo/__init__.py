"""Geography: places, great-circle distances, the distance prior."""
