"""The studio: a local web app to paint from a browser (`neural-style studio`, the studio extra's Gradio)."""
