"""The one stylesheet every HTML page of actscope shares (run, sweep and search reports),
so the pages look alike and a change of look is made once."""

from __future__ import annotations

PAGE_CSS = """\
body { font-family: ui-monospace, Menlo, Consolas, monospace; max-width: 1200px; margin: 2em auto;
       color: #1a1a1a; padding: 0 1em; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
td.f { text-align: left; } img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
.note { color: #666; } pre { background: #f7f7f7; padding: 1em; overflow-x: auto; }
.answer { background: #f4f8ff; border-left: 4px solid #3a7bd5; padding: 0.5em 1em; }
"""

__all__ = ["PAGE_CSS"]
