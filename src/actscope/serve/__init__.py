"""The interactive playground: ``actscope serve`` (needs the ``actscope[serve]`` extra).

schema.py validates what a browser asks, trainer.py trains the two arms with the library,
views.py turns their state into what the page draws, session.py keeps per-browser state,
app.py holds the routes, static/ the page.
"""
