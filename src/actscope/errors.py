"""The one exception type for bad user input: the CLI prints it as one line, exit 2."""


class InputError(ValueError):
    """Bad input (config, CSV, command-line value): the message names field, value, rule."""
