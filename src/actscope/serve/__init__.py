"""The interactive playground: ``actscope serve`` (needs the ``actscope[serve]`` extra).

guards.py is what every request passes first (body limit, Host allowlist, cross-site and
token checks, security headers), body.py parses JSON with limits, schema.py validates what a
browser asks, trainer.py trains the two arms with the library, views.py turns their state
into what the page draws, session.py keeps per-browser state, fairness.py shares the
training workers among sessions, upload.py reads a learner's own points, weights.py writes
the trained weights as JSON, app.py holds the routes, server.py starts it, static/ the page.
"""
