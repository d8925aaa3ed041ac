"""``python -m actscope``: the command line."""

from actscope.cli import main

if __name__ == "__main__":
    main()
