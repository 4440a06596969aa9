"""What a server runs beside the pages: background jobs (their kinds, scheduling, the work a
worker runs, the typed messages it sends back, and where it runs), a finished run's metrics,
browser workspaces in memory and on disk, byte-bounded caches, content digests and the live
view's payload. May import every layer below; never streamlit.
"""
