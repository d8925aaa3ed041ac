"""``python -m actscope.cli``: the command line (kept for scripts that call it so)."""

from actscope.cli import main

if __name__ == "__main__":
    main()
