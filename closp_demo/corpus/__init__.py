"""Building the corpus: sources -> records -> embeddings, FAISS index, thumbnails, manifest."""
