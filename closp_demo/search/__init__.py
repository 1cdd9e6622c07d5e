"""Searching the corpus: text or scene vectors -> ranked images, with places and session uploads."""
