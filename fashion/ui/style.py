"""The few layout rules Streamlit's own styles get wrong for this app, as one stylesheet.

On a phone Streamlit keeps a tab bar on one line and hides what does not fit behind a
scroll arrow: on the Classify page that was "Test sample", one of five ways in. Below a
tablet's width the tabs wrap onto a second line instead, so every way in is in sight.
"""

from __future__ import annotations

import streamlit as st

# Window widths up to a phone held sideways; wider windows fit the tab bars on one line.
PHONE_MAX_WIDTH = 640

STYLESHEET = f"""
<style>
@media (max-width: {PHONE_MAX_WIDTH}px) {{
  [data-testid="stTabs"] [role="tablist"] {{ flex-wrap: wrap; row-gap: 0.25rem; }}
}}
</style>
"""


def apply() -> None:
    """Add the stylesheet to the page (a style-only `st.html` takes no room on it)."""
    st.html(STYLESHEET)
