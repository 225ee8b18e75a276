"""The one place where work runs in parallel: map a function over items, each result or a :class:`Failure`.

Batch jobs (indexing, evaluation, corpus builds, training features) call :func:`as_executor` and
``executor.map(fn, items)``; an executor yields ``(item, result)`` pairs in input order (or as they finish
with ``ordered=False``), where a failing item's result is a ``Failure(path, reason)`` and the others go on.
Processes are spawned, never forked (a forked copy of a process that has run PyTorch or FluidSynth can
hang), and each computes on one thread, as the workers already share the cores. This is the seam where a
distributed engine plugs in: anything with the same ``map`` is an executor — :class:`RayExecutor` runs
the same work on Ray actors, locally or on a cluster.

``fn`` and the items are pickled to the workers, so ``fn`` is a module-level function or a small callable
object; heavy state (a model) should be loaded once per process behind it, not carried in it.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from homage.errors import Failure, HomageError, ParameterError

Result = Any  # whatever ``fn`` returns, or a Failure
DEFAULT_WORKERS = min(2, os.cpu_count() or 1)  # processes batch commands use unless told otherwise
_END = object()


class Executor(Protocol):
    workers: int

    def map(self, fn: Callable, items: Iterable, *, ordered: bool = True) -> Iterator[tuple[Any, Result]]: ...


def run_one(fn: Callable, item: Any) -> Result:
    """``fn(item)``, or the Failure it raised: a bad item never stops a batch."""
    try:
        return fn(item)
    except Exception as exc:  # noqa: BLE001 - reported per item, the batch goes on
        return Failure.of(_label(item), exc)


class SerialExecutor:
    """Runs every item in this process, one after the other."""

    workers = 1

    def map(self, fn: Callable, items: Iterable, *, ordered: bool = True) -> Iterator[tuple[Any, Result]]:
        for item in items:
            yield item, run_one(fn, item)


class ProcessExecutor:
    """``workers`` spawned processes; at most ``2 × workers`` items are in flight at a time. A worker that dies
    (killed, out of memory) breaks the pool: a new one takes over, and each item that was in flight is run
    again alone, so that only the item that kills its worker fails."""

    def __init__(self, workers: int):
        if workers < 1:
            raise ParameterError(f"workers must be at least 1, not {workers}")
        self.workers = workers

    def map(self, fn: Callable, items: Iterable, *, ordered: bool = True) -> Iterator[tuple[Any, Result]]:
        items = iter(items)
        pending: deque[tuple[Any, Future]] = deque()
        pool = _pool(self.workers)

        def submit() -> bool:
            nonlocal pool
            item = next(items, _END)
            if item is _END:
                return False
            try:
                future = pool.submit(run_one, fn, item)
            except BrokenProcessPool:
                pool.shutdown(wait=False, cancel_futures=True)
                pool = _pool(self.workers)
                future = pool.submit(run_one, fn, item)
            pending.append((item, future))
            return True

        try:
            while len(pending) < 2 * self.workers and submit():
                pass
            while pending:
                if ordered:
                    item, future = pending.popleft()
                else:
                    wait([f for _, f in pending], return_when=FIRST_COMPLETED)
                    done = next(k for k, (_, f) in enumerate(pending) if f.done())
                    item, future = pending[done]
                    del pending[done]
                broken = future.exception() if not future.cancelled() else None
                yield item, _alone(fn, item) if isinstance(broken, BrokenProcessPool) else _result(item, future)
                submit()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _pool(workers: int) -> ProcessPoolExecutor:
    import multiprocessing

    return ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker, initargs=(os.getpid(),)
    )


def _alone(fn: Callable, item: Any) -> Result:
    """``item`` in a process of its own: its result, or a failure when it kills that process too."""
    pool = _pool(1)
    try:
        return _result(item, pool.submit(run_one, fn, item))
    finally:
        pool.shutdown(wait=True)


class RayExecutor:
    """Ray actors (``pip install 'homage[ray]'``): each actor receives ``fn`` once — so a model loads once per
    actor — and takes the items in batches; results come back in order, or as they finish. A local Ray with
    ``workers`` CPUs is started when ``address`` is None, else the cluster at ``address`` is joined (``auto``,
    ``ray://head:10001`` or ``host:6379``) with an actor per CPU it offers, or ``workers`` of them."""

    def __init__(self, address: str | None = None, workers: int | None = None, batch: int = 8):
        if workers is not None and workers < 1:
            raise ParameterError(f"workers must be at least 1, not {workers}")
        self.address, self.batch = address, batch
        self._workers = workers

    @property
    def workers(self) -> int:
        return self._workers or DEFAULT_WORKERS

    def map(self, fn: Callable, items: Iterable, *, ordered: bool = True) -> Iterator[tuple[Any, Result]]:
        ray = _ray()
        if not ray.is_initialized():
            options = {"address": self.address} if self.address else {"num_cpus": self.workers}
            ray.init(
                **options,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                runtime_env={"env_vars": dict.fromkeys(_THREAD_VARIABLES, "1")},
            )
        n = self._workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor = ray.remote(num_cpus=1)(_BatchRunner)
        pool = ray.util.ActorPool([actor.remote(fn) for _ in range(n)])
        batches = _batches(items, self.batch)
        run = lambda runner, batch: runner.run.remote(batch)  # noqa: E731 - what the pool calls on each actor
        try:
            for results in (pool.map if ordered else pool.map_unordered)(run, batches):
                yield from results
        except ray.exceptions.RayError as exc:
            raise HomageError(f"the Ray job failed ({type(exc).__name__}: {str(exc).splitlines()[0]})") from None


class _BatchRunner:
    """What a Ray actor runs: ``fn`` over a batch of items, each result or its Failure."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def run(self, batch: list) -> list[tuple[Any, Result]]:
        return [(item, run_one(self.fn, item)) for item in batch]


def _batches(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _ray():
    try:
        import ray
    except ImportError:
        raise HomageError("running on Ray needs the ray package: pip install 'homage[ray]'") from None
    return ray


def as_executor(workers: int | Executor = 1) -> Executor:
    """An executor for ``workers`` processes (1: this process), or ``workers`` itself when it is one."""
    if not isinstance(workers, int):
        return workers
    if workers < 1:
        raise ParameterError(f"workers must be at least 1, not {workers}")
    return SerialExecutor() if workers == 1 else ProcessExecutor(workers)


def _result(item: Any, future: Future) -> Result:
    try:
        return future.result()
    except BrokenProcessPool:
        return Failure(_label(item), "the worker process died on it (killed, or out of memory)")
    except Exception as exc:  # noqa: BLE001 - anything else a worker raised outside run_one fails its item only
        return Failure(_label(item), f"worker process failed ({type(exc).__name__}: {exc})")


def _label(item: Any) -> str:
    """What a failure names: the item's path when it has one."""
    if isinstance(item, tuple) and item:
        item = item[0]
    return str(getattr(item, "path", item))


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


def _start_worker(parent: int) -> None:
    """Worker start-up: native libraries compute on one thread (set before any of them is loaded), and the
    worker exits once its parent is gone (a parent killed with SIGKILL would otherwise leave it waiting)."""
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int, every: float = 1.0) -> None:
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)
