"""Renderers: turn analysis results into text/JSON.  They format, never aggregate."""
