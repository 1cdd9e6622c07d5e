"""Gradio pieces for app.py (only app.py imports this room): widgets and API endpoints."""
