"""The Streamlit pages (ui/pages/, one module each, listed in ui/pages/__init__.py) and
what they share: cached loaders, the result view, the canvas, links, style.

The only stage that imports Streamlit; it arranges widgets and calls the library below.
"""
