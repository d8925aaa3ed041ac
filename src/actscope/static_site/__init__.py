"""The playground without a server: ``actscope playground build DIR`` writes a static site
that trains both arms in the browser.

``bundle`` gathers what the page needs from the library (the datasets at the build's
settings, each offered seed's raw initial draws and batch-order stream state, the
activations as JavaScript through ``engines.codegen.js_source``); ``build`` writes the
site (``static/``: the page, its script and the network in JavaScript) into a folder.
"""

from actscope.static_site.build import build_site
from actscope.static_site.bundle import BuildOptions, make_bundle

__all__ = ["BuildOptions", "build_site", "make_bundle"]
