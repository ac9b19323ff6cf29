"""The console: web pages for a business's people (see app.py)."""
