"""A real ``dramatiq actors`` worker in its own process group, for tests that kill, cut or restart things.

The worker is started as an operator would start it (the ``dramatiq`` CLI, settings from the
environment only), in a new session so that the whole group (the master and the worker processes it
forks) can be signalled at once and none of it outlives the test. Its output is appended to one log
file across restarts, so a test can read everything the worker ever wrote.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "Worker process is ready for action."


def worker_env(settings: Mapping[str, object]) -> dict[str, str]:
    """This process's environment without any ytcollect or Dramatiq setting, plus ``settings``.

    Every Settings field can come from an environment variable of the same name, so any of them left
    in the environment would change the worker behind the test's back; they are all dropped.
    """
    from pipeline.config import Settings

    ours = {name.upper() for name in Settings.model_fields}
    env = {
        name: value
        for name, value in os.environ.items()
        if name.upper() not in ours and not name.upper().startswith(("YTC_", "DRAMATIQ_", "PROMETHEUS_"))
    }
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["PYTHONUNBUFFERED"] = "1"
    env.update({name.upper(): str(value) for name, value in settings.items()})
    return env


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``, read from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone while we looked
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]


class WorkerProcess:
    """``python -m dramatiq actors`` with a given environment; start, kill, restart, stop."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        *,
        processes: int = 1,
        threads: int = 4,
        extra_args: Sequence[str] = (),
        cwd: Path | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        """``prefix`` runs the worker through another command that execs it (``ip netns exec NS``), so
        the process group and the ready line are still the worker's own."""
        self.env = dict(env)
        self.log_path = log_path
        self.cwd = cwd or log_path.parent  # not the repository: no .env file can be picked up
        self.argv = [
            *prefix,
            sys.executable,
            "-m",
            "dramatiq",
            "actors",
            "--processes",
            str(processes),
            "--threads",
            str(threads),
            *extra_args,
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log_offset = 0

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self, *, ready_timeout: float = 30.0) -> WorkerProcess:
        """Start the worker and wait until its worker processes say they are ready."""
        if self.alive:
            raise RuntimeError("the worker is already running")
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.starts += 1
        deadline = time.monotonic() + ready_timeout
        while READY_LINE not in self.log_since_start():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the worker exited with {self.proc.returncode} before it was ready:\n" + self.log_tail()
                )
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the worker was not ready within {ready_timeout} s:\n" + self.log_tail())
            time.sleep(0.05)
        return self

    def restart(self, *, ready_timeout: float = 30.0) -> WorkerProcess:
        """What a restart policy does: make sure the old group is gone, start a new one."""
        self.kill()
        return self.start(ready_timeout=ready_timeout)

    @property
    def pgid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None  # start_new_session: pid == pgid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def worker_pids(self) -> list[int]:
        """The worker processes the master forked (not the master itself)."""
        return children_of(self.proc.pid) if self.alive else []  # type: ignore[union-attr]

    def kill_worker_process(self, *, timeout: float = 15.0) -> int | None:
        """SIGKILL one worker process (not the master), then wait for the master to exit, as it does
        when a worker process dies; returns the master's exit code."""
        pids = self.worker_pids()
        if not pids:
            raise RuntimeError("no worker process to kill")
        os.kill(pids[0], signal.SIGKILL)
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout)
        finally:
            self.kill()
        return code

    def kill(self, *, timeout: float = 15.0) -> None:
        """SIGKILL the whole process group (a host crash) and wait until none of it is left."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        self._signal_group(pgid, signal.SIGKILL)
        self._reap(pgid, timeout)

    def stop(self, *, timeout: float = 20.0) -> int | None:
        """SIGTERM (Dramatiq's graceful shutdown: in-flight messages finish), SIGKILL what remains."""
        if self.proc is None:
            return None
        pgid = self.proc.pid
        if self.proc.poll() is None:
            self._signal_group(pgid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        code = self.proc.poll()
        self.kill()
        return code

    @staticmethod
    def _signal_group(pgid: int, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signum)

    def _reap(self, pgid: int, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(max(0.1, deadline - time.monotonic()))
        while group_members(pgid):
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes {group_members(pgid)} of group {pgid} would not die")
            self._signal_group(pgid, signal.SIGKILL)
            time.sleep(0.05)

    # --- output ------------------------------------------------------------------------------------

    def log_text(self) -> str:
        """Everything every incarnation of the worker wrote."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_bytes().decode("utf-8", "replace")

    def log_since_start(self) -> str:
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            return log.read().decode("utf-8", "replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])
