"""SIGTERM is handled as Ctrl-C: the same keep-what-is-finished path, exit status 143."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from actscope._util.interrupt import (
    SIGINT_STATUS,
    SIGTERM_STATUS,
    Terminated,
    interrupt_status,
    terminate_as_interrupt,
)


def test_sigterm_raises_terminated_inside_the_block_only():
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    with pytest.raises(Terminated) as info, terminate_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
    assert isinstance(info.value, KeyboardInterrupt)  # every interrupt path catches it
    assert interrupt_status() == SIGTERM_STATUS == 143
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # restored on the way out
    with terminate_as_interrupt():
        pass
    assert interrupt_status() == SIGINT_STATUS == 130  # a new block forgets the old signal


def test_a_handler_someone_installed_is_left_alone():
    def mine(signum, frame):
        raise RuntimeError("mine")

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        with pytest.raises(RuntimeError, match="mine"), terminate_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_the_command_line_exits_143_with_one_line(tmp_path):
    """A command stopped by SIGTERM says it was interrupted, on one line, exit 143 (not a
    traceback, not the default -15)."""
    code = ("import sys, time; from actscope.cli import main\n"
            "import click\n"
            "@main.command('sleepy')\n"
            "def sleepy():\n"
            "    print('ready', flush=True); time.sleep(60)\n"
            "main(['sleepy'])\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 143
    assert stderr.strip().splitlines()[-1] == "error: interrupted"
