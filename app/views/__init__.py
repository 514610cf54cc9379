"""The dashboard pages, one module each with ``render(ctx)``.

Not called ``pages``: Streamlit would run files in a ``pages/`` folder next to main.py as pages of
their own, reachable by URL without main.py's sign-in. main.py registers these with st.navigation.
"""

# key (module in plantpulse.app.views and URL path), title, icon: the one list of pages
PAGES: tuple[tuple[str, str, str], ...] = (
    ("overview", "Plant overview", ":material/factory:"),
    ("asset", "Asset detail", ":material/monitoring:"),
    ("weld", "Weld QC", ":material/center_focus_strong:"),
    ("data", "Data", ":material/upload_file:"),
    ("models", "Models & results", ":material/model_training:"),
    ("jobs", "Jobs", ":material/schedule:"),
)
