"""Gradio block builders for app.py; nothing but app.py imports them."""
