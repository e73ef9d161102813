"""Where trials run: in this process, on a local process pool, or on a dask.distributed cluster.

Every executor runs :func:`simframe.execution.run_job` on the jobs the runner submits and hands
back results as they finish, in any order; the numbers do not depend on the executor because
every trial draws from its own seed sequence and blocks of trials have a fixed size.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from threadpoolctl import threadpool_limits

from simframe.errors import RunError


class Executor(Protocol):
    workers: int

    def submit(self, fn: Callable[[Any], Any], job: Any) -> None:
        """Start ``fn(job)``; its result comes back from :meth:`next_result`."""

    def next_result(self) -> Any:
        """Wait for one submitted job to finish and return its result (or raise its error)."""

    def close(self, abort: bool = False) -> None:
        """Release the workers; ``abort`` stops jobs in flight instead of waiting for them."""


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class SerialExecutor:
    """Runs every job in this process, one after the other, when its result is asked for."""

    workers = 1

    def __init__(self) -> None:
        self._queue: deque[tuple[Callable[[Any], Any], Any]] = deque()

    def submit(self, fn, job):
        self._queue.append((fn, job))

    def next_result(self):
        fn, job = self._queue.popleft()
        return fn(job)

    def close(self, abort: bool = False) -> None:
        self._queue.clear()


def _single_threaded_blas() -> None:
    """One BLAS thread per process, so N workers use N cores, not N^2."""
    threadpool_limits(1)


def _pool_worker_initialiser() -> None:
    """Ctrl-C reaches the whole process group: the parent handles it, workers ignore it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _single_threaded_blas()


class ProcessPoolExecutor:
    """A local pool of worker processes (``--workers N``).

    Ctrl-C must not interrupt the main thread at an arbitrary point: a KeyboardInterrupt raised
    inside the pool's internal locks (in ``apply_async`` or while a result is handed over) can
    leave the pool unable to terminate, and one raised while a result is being taken can be
    lost. So for the pool's whole life, SIGINT in the main thread only sets a flag, and
    :meth:`next_result` raises KeyboardInterrupt at its next safe point (it wakes every 0.1 s).
    The previous handler is restored by :meth:`close`.
    """

    def __init__(self, workers: int):
        self.workers = workers
        self._pool = multiprocessing.Pool(workers, initializer=_pool_worker_initialiser)
        self._results: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._interrupted = threading.Event()
        self._previous_handler = None
        if threading.current_thread() is threading.main_thread():
            self._previous_handler = signal.signal(
                signal.SIGINT, lambda signum, frame: self._interrupted.set()
            )

    def submit(self, fn, job):
        self._pool.apply_async(
            fn, (job,), callback=self._results.put, error_callback=self._results.put
        )

    def next_result(self):
        """The next finished job's result; a Ctrl-C since the last call raises here instead."""
        while True:
            if self._interrupted.is_set():
                raise KeyboardInterrupt
            try:
                result = self._results.get(timeout=0.1)
            except queue.Empty:
                continue
            if self._interrupted.is_set():  # the job finished, but the user asked to stop
                raise KeyboardInterrupt
            if isinstance(result, BaseException):
                raise result
            return result

    def close(self, abort: bool = False) -> None:
        try:
            if abort:
                self._pool.terminate()
            else:
                self._pool.close()
            self._pool.join()
        finally:
            if self._previous_handler is not None:
                signal.signal(signal.SIGINT, self._previous_handler)
                self._previous_handler = None


class DaskExecutor:
    """Runs jobs on dask.distributed: a local cluster, or the scheduler at ``address``."""

    def __init__(self, workers: int, address: str | None):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:
            raise RunError(
                "the dask executor needs dask.distributed: pip install 'simframe[dask]'"
            ) from exc
        if address:
            self._cluster = None
            try:
                self._client = Client(address, timeout="20s")
            except OSError as exc:
                raise RunError(f"cannot reach the dask scheduler at {address}: {exc}") from exc
            self.workers = max(1, sum(self._client.nthreads().values()))
        else:
            self._cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            self._client = Client(self._cluster)
            self.workers = workers
        self._client.run(_single_threaded_blas)
        from dask.distributed import as_completed

        self._completed = as_completed()

    def submit(self, fn, job):
        # pure=False: equal arguments must not be deduplicated into one task.
        self._completed.add(self._client.submit(fn, job, pure=False))

    def next_result(self):
        return next(self._completed).result()

    def close(self, abort: bool = False) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(kind: str, workers: int, address: str | None = None) -> Executor:
    if kind == "dask":
        return DaskExecutor(workers, address)
    if kind != "local":
        raise RunError(f"unknown executor {kind!r}; expected 'local' or 'dask'")
    return SerialExecutor() if workers == 1 else ProcessPoolExecutor(workers)
