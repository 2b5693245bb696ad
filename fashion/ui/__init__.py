"""The Streamlit pages (the only part of the package that needs a Streamlit runtime)."""
