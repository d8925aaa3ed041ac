"""The root command group: every input error, the project's own (InputError) and Click's
usage errors alike, becomes one line ``error: field = value: reason`` and exit status 2."""

from __future__ import annotations

import sys

import click
from click.exceptions import NoArgsIsHelpError

from actscope._util.interrupt import interrupt_status, terminate_as_interrupt
from actscope.errors import InputError, RunFailedError, shorten, shown


def fail(message: str, code: int = 2) -> None:
    """Print ``error: message`` on stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _raw_value(args: list[str], opts: list[str]) -> str | None:
    """What the user typed for an option (``--seeds 0`` or ``--seeds=0``), if found."""
    for i, a in enumerate(args):
        for opt in opts:
            if a == opt and i + 1 < len(args):
                return args[i + 1]
            if a.startswith(opt + "="):
                return a[len(opt) + 1:]
    return None


def usage_line(err: click.UsageError, args: list[str]) -> str:
    """A Click usage error as one line: ``--seeds = '0': 0 is not in the range x>=1``."""
    command = err.ctx.command_path if err.ctx is not None else "actscope"
    hint = f" (`{command} --help` lists what is allowed)"
    param = getattr(err, "param", None)
    if isinstance(err, click.MissingParameter) and param is not None:
        opts = list(getattr(param, "opts", []))
        name = opts[0] if opts and opts[0].startswith("-") else param.human_readable_name
        return f"{command}: {name} is missing{hint}"
    if isinstance(err, click.BadParameter) and param is not None:
        opts = list(getattr(param, "opts", []))
        name = opts[0] if opts and opts[0].startswith("-") else param.human_readable_name
        raw = _raw_value(args, opts) if opts and opts[0].startswith("-") else None
        reason = shorten(err.message, 300).rstrip(".")
        return f"{name} = {shown(raw)}: {reason}" if raw is not None else f"{name}: {reason}"
    if isinstance(err, click.NoSuchOption):
        return f"{err.option_name}: no such option{hint}"
    text = shorten(err.format_message(), 300).rstrip(".")
    return f"{command}: {text[:1].lower()}{text[1:]}{hint}"


class Group(click.Group):
    """Turns InputError and Click's usage errors into one line and exit status 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except InputError as err:
            fail(str(err), 2)
        except RunFailedError as err:  # after training: the run is kept, the line says where
            fail(str(err), 1)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """Click's main, with its usage errors in the project's one-line form."""
        argv = list(sys.argv[1:] if args is None else args)
        try:
            with terminate_as_interrupt():  # SIGTERM keeps finished work as Ctrl-C does
                rv = super().main(argv, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as err:  # a group named with no command: its help, as Click does
            click.echo(err.ctx.get_help() if err.ctx is not None else str(err))
            sys.exit(2)
        except click.UsageError as err:
            fail(usage_line(err, argv), 2)
        except click.ClickException as err:
            fail(shorten(err.format_message(), 300), err.exit_code)
        except click.Abort:
            fail("interrupted", interrupt_status())
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=Group)
@click.version_option(package_name="actscope")
@click.option("-v", "--verbose", count=True, help="More messages on stderr (debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
def main(verbose: int, quiet: bool) -> None:
    """actscope: a laboratory for activation functions.

    Shell completion: eval "$(_ACTSCOPE_COMPLETE=bash_source actscope)" in ~/.bashrc
    (zsh_source, fish_source for the other shells).
    """
    from actscope.cli.logs import configure, level_for

    configure(level_for(verbose, quiet))
