"""The one executor: results in order or as they finish, failures per item, and no worker outlives its parent."""

import os
import signal
import subprocess
import sys
import time

import pytest

from homage.errors import Failure, ParameterError
from homage.parallel import ProcessExecutor, SerialExecutor, as_executor


def square_or_fail(x: int) -> int:
    if x == 3:
        raise ValueError("three is refused")
    return x * x


def die_on_two(x: int) -> int:
    if x == 2:
        os._exit(9)  # the worker process dies, as when killed for memory
    return x


@pytest.mark.parametrize("executor", [SerialExecutor(), ProcessExecutor(2)], ids=["serial", "processes"])
def test_results_keep_order_and_failures_stay_with_their_item(executor):
    results = list(executor.map(square_or_fail, range(6)))
    assert [item for item, _ in results] == list(range(6))
    assert [r for _, r in results if not isinstance(r, Failure)] == [0, 1, 4, 16, 25]
    failure = results[3][1]
    assert isinstance(failure, Failure) and "three is refused" in failure.reason


def test_unordered_map_returns_every_item_once():
    results = dict(ProcessExecutor(2).map(square_or_fail, range(8), ordered=False))
    assert sorted(results) == list(range(8))
    assert results[7] == 49


@pytest.mark.parametrize("ordered", [True, False])
def test_a_dead_worker_fails_only_its_item_and_the_rest_goes_on(ordered):
    results = dict(ProcessExecutor(2).map(die_on_two, range(12), ordered=ordered))
    assert sorted(results) == list(range(12))
    assert isinstance(results[2], Failure) and "died" in results[2].reason
    assert {k: v for k, v in results.items() if k != 2} == {k: k for k in range(12) if k != 2}


def test_as_executor_checks_workers():
    assert isinstance(as_executor(1), SerialExecutor)
    assert isinstance(as_executor(3), ProcessExecutor)
    with pytest.raises(ParameterError):
        ProcessExecutor(0)


PARENT = """
import time
from homage.parallel import ProcessExecutor
if __name__ == "__main__":
    for _ in ProcessExecutor(2).map(time.sleep, [60] * 4):
        pass
"""


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and uses pgrep")
def test_workers_exit_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            workers = [p for p in _children(parent.pid) if "spawn_main" in open(f"/proc/{p}/cmdline").read()]
            if len(workers) == 2:
                break
            time.sleep(0.2)
        assert len(workers) == 2, "the executor did not start its workers"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 15
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(p) for p in workers), "workers outlived their killed parent"
    finally:
        parent.kill()
