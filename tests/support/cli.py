"""`socialdesk …` in-process: `main([...])` with the environment it would get, its output captured.

A subprocess adds half a second of start-up and nothing else for most commands; the tests
that need a process (the entry point, a terminal, signals, `run`) start one themselves.
The environment holds only the given SOCIALDESK_/SLACK_ variables, the working directory
is the test's own (no stray .env is read), and logging is put back as it was afterwards
(`main` configures it for the command).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from socialdesk.cli import main

_LOGGERS_MAIN_SETS = ("slack_sdk", "slack_bolt", "slack_bolt.App", "urllib3", "waitress.queue", "apscheduler", "apscheduler.scheduler",
                      "alembic", "httpx", "httpcore")


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


Cli = Callable[..., Ran]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Iterator[Cli]:
    """`cli("rules", "list", env={...})` → Ran(returncode, stdout, stderr); `cwd=` to run elsewhere."""
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level,
             {name: (logging.getLogger(name).level, logging.getLogger(name).filters[:]) for name in _LOGGERS_MAIN_SETS})

    def run(*args: str, env: dict[str, str], cwd: Path | None = None) -> Ran:
        with monkeypatch.context() as scoped:
            for name in [k for k in os.environ if k.startswith(("SOCIALDESK_", "SLACK_"))]:
                scoped.delenv(name)
            for name, value in env.items():
                scoped.setenv(name, value)
            if cwd is not None:
                scoped.chdir(cwd)
            capsys.readouterr()  # only this command's output
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
                code = exc.code if isinstance(exc.code, int) else 1
            out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    yield run
    root.handlers[:], level, loggers = saved
    root.setLevel(level)
    for name, (logger_level, filters) in loggers.items():
        logging.getLogger(name).setLevel(logger_level)
        logging.getLogger(name).filters[:] = filters


_ONE_AT_A_TIME = threading.Lock()  # the environment and the standard streams are the process's


def run_main(args: list[str], *, env: Mapping[str, str]) -> Ran:
    """`main(args)` with only `env`'s SOCIALDESK_/SLACK_ variables, its output captured, logging and the
    environment put back afterwards: for helpers that are not fixtures (tests.support.app_process)."""
    with _ONE_AT_A_TIME:
        root = logging.getLogger()
        saved_logging = (root.handlers[:], root.level,
                         {name: (logging.getLogger(name).level, logging.getLogger(name).filters[:])
                          for name in _LOGGERS_MAIN_SETS})
        saved_env = dict(os.environ)
        out, err = io.StringIO(), io.StringIO()
        try:
            for name in [k for k in os.environ if k.startswith(("SOCIALDESK_", "SLACK_"))]:
                del os.environ[name]
            os.environ.update({k: v for k, v in env.items() if k.startswith(("SOCIALDESK_", "SLACK_"))})
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                    _stdin(io.StringIO("")):
                try:
                    code = main(list(args))
                except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
                    code = exc.code if isinstance(exc.code, int) else 1
        finally:
            os.environ.clear()
            os.environ.update(saved_env)
            root.handlers[:], level, loggers = saved_logging
            root.setLevel(level)
            for name, (logger_level, filters) in loggers.items():
                logging.getLogger(name).setLevel(logger_level)
                logging.getLogger(name).filters[:] = filters
        return Ran(code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _stdin(stream: io.StringIO) -> Iterator[None]:
    saved, sys.stdin = sys.stdin, stream
    try:
        yield
    finally:
        sys.stdin = saved
