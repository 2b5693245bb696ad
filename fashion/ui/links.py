"""The view in the URL, so a link opens what its sender saw.

`?model=NAME` on every page; on the Classify page also `mode=` (the input tab),
`example=` and `sample=` (the test image). On the first run of a session, `restore`
reads the query parameters once and keeps them as *requests*: each widget's owner takes
the one it understands (`take`), checks it and seeds its own state with it, so a bad or
stale link falls back to the defaults instead of failing. After that the URL follows
the page: every run writes the current view (`page_params` + `sync`).

Hand-written rather than the widgets' `bind="query-params"`: that stores a select box's
*label* ("fashion-cnn · 93.66%") and drops a value equal to the default, so a link would
break when a model's accuracy changes and would not say which model it meant when the
default model changes.
"""

from __future__ import annotations

import streamlit as st

MODEL, MODE, EXAMPLE, SAMPLE = "model", "mode", "example", "sample"
OURS = (MODEL, MODE, EXAMPLE, SAMPLE)  # other query parameters are left alone
_REQUESTS = "link_requests"  # session_state: what the opening URL asked for, not yet taken
_PAGE = "link_page_params"  # session_state: what the current page put in the URL this run


def restore() -> None:
    """Once per session, before any widget: remember what the URL asks for."""
    if _REQUESTS not in st.session_state:
        st.session_state[_REQUESTS] = {k: st.query_params[k] for k in OURS if k in st.query_params}
    st.session_state[_PAGE] = {}


def take(name: str) -> str | None:
    """The value the opening URL gave `name`, once (None if none, or already taken)."""
    return st.session_state.get(_REQUESTS, {}).pop(name, None)


def page_params(**params: object) -> None:
    """This page's part of the URL for this run (e.g. mode="sample", sample=42)."""
    st.session_state.setdefault(_PAGE, {}).update(
        {k: str(v) for k, v in params.items() if v is not None}
    )


def sync(model: str | None) -> None:
    """Make the URL say this run's view: the model and what the page asked for.

    One message to the browser, and only when something changed; query parameters that
    are not ours stay as they are.
    """
    wanted = {MODEL: model} if model else {}
    wanted |= st.session_state.get(_PAGE, {})
    current = {k: st.query_params.get_all(k) for k in st.query_params}
    if {k: v[-1] for k, v in current.items() if k in OURS} == wanted:
        return
    st.query_params.from_dict({k: v for k, v in current.items() if k not in OURS} | wanted)
