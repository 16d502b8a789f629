"""A pytest run stopped by SIGTERM (an outer timeout, a cancelled CI job) still tears its fixtures down, so the
processes they started do not outlive it (telesales_testkit.plugin)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

# A session fixture starts a process of its own (as the browser tests' platform does) and a test hangs, in
# plain code or in the event loop.
CHILD_TEST = textwrap.dedent('''
    import asyncio, subprocess, sys, time
    from pathlib import Path

    import pytest

    @pytest.fixture(scope="session")
    async def worker():
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
        Path("{pid_file}").write_text(str(child.pid))
        yield child
        child.terminate()
        child.wait(timeout=30)
        Path("{done_file}").write_text("torn down")

    async def test_hangs(worker):
        if "{hang}" == "loop":
            await asyncio.sleep(600)
        time.sleep(600)
''')


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("hang", ["loop", "code"])
def test_a_sigterm_tears_the_session_down(tmp_path: Path, hang: str) -> None:
    pid_file, done_file = tmp_path / "child.pid", tmp_path / "done"
    test_file = tmp_path / "test_hanging.py"
    test_file.write_text(CHILD_TEST.format(pid_file=pid_file, done_file=done_file, hang=hang))
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                            "-c", os.devnull, "-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=session",
                            "-o", "asyncio_default_test_loop_scope=session", "-p", "telesales_testkit.plugin",
                            str(test_file)],
                           cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while not pid_file.exists():
        assert run.poll() is None and time.monotonic() < deadline, run.stdout.read() if run.stdout else ""
        time.sleep(0.1)
    child = int(pid_file.read_text())
    run.send_signal(signal.SIGTERM)
    output = run.communicate(timeout=60)[0].decode(errors="replace")
    try:
        assert done_file.exists(), output  # the fixture's teardown ran
        assert not _alive(child), output
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)
