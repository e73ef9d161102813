"""Where trials run: in this process, on a local process pool, or on a dask.distributed cluster.

Every executor runs :func:`simframe.execution.run_job` on the jobs the runner submits and hands
back results as they finish, in any order; the numbers do not depend on the executor because
every trial draws from its own seed sequence and blocks of trials have a fixed size.

A run stops cleanly on SIGINT (Ctrl-C) and SIGTERM (:class:`StopSignals`): executors whose jobs
run in other processes never let the signal interrupt their own bookkeeping; they raise
KeyboardInterrupt at the next safe point instead and stop their workers.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures.process import BrokenProcessPool
from types import FrameType
from typing import Any, Protocol

from threadpoolctl import threadpool_limits

from simframe.errors import RunError

POLL_S = 0.1
"""How often an executor waiting for results checks whether the run was asked to stop."""


class StopSignals:
    """SIGINT and SIGTERM while a run is in progress (a context manager; main thread only).

    The first signal is remembered in :attr:`received`. While :attr:`deferred` is false (trials
    run in this process) it raises KeyboardInterrupt where the program is, as Ctrl-C does;
    executors that wait on other processes set it and call :meth:`check` at safe points.
    Later signals are only remembered, so that the cleanup they interrupt can finish.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self.deferred = False
        self._handlers = contextlib.ExitStack()

    def __enter__(self) -> StopSignals:
        self._handlers.enter_context(_handled(self.SIGNALS, self._handle))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._handlers.close()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            return
        self.received = signum
        if not self.deferred:
            raise KeyboardInterrupt

    def check(self) -> None:
        """Raise KeyboardInterrupt if a signal asked the run to stop."""
        if self.received is not None:
            raise KeyboardInterrupt

    @staticmethod
    def ignored(*signals: int) -> contextlib.AbstractContextManager[None]:
        """Ignore ``signals`` while child processes start that must ignore them too (an
        ignored signal stays ignored across exec)."""
        return _handled(signals, signal.SIG_IGN)

    @staticmethod
    @contextlib.contextmanager
    def blocked() -> Iterator[None]:
        """Hold both signals back from this thread while it starts child processes, which
        inherit the blocked mask: a child must not run this process's handlers, and decides
        itself what the signals do to it (:func:`_pool_worker_initialiser`). A signal that
        arrives meanwhile is delivered when the block ends."""
        if not hasattr(signal, "pthread_sigmask"):
            yield
            return
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, StopSignals.SIGNALS)
        try:
            yield
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def _handled(signals: tuple[int, ...], handler: Any) -> Iterator[None]:
    """``handler`` for ``signals`` meanwhile (only the main thread may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in signals}
    try:
        yield
    finally:
        for signum, handler_before in previous.items():
            signal.signal(signum, handler_before)


class WorkerDied(RunError):
    """Worker processes died again while running the same jobs (a crash, the OOM killer)."""

    def __init__(self, message: str, jobs: list[Any]):
        super().__init__(message)
        self.jobs = jobs


class Executor(Protocol):
    workers: int

    def submit(self, fn: Callable[[Any], Any], job: Any) -> None:
        """Start ``fn(job)``; its result comes back from :meth:`next_result`."""

    def next_result(self) -> Any:
        """Wait for one submitted job to finish and return its result (or raise its error)."""

    def close(self, abort: bool = False) -> None:
        """Release the workers; ``abort`` stops jobs in flight instead of waiting for them."""


Incident = Callable[[str, list[Any]], None]
"""Told what went wrong (e.g. ``"killed by signal SIGKILL"``) and which jobs run again."""


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


PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal a Linux process receives when its parent dies."""


def _die_with_parent() -> None:
    """End this worker the moment the run's process dies (``kill -9``), instead of letting it
    compute on and then print BrokenPipe tracebacks into the log."""
    parent = multiprocessing.parent_process()
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if parent is not None and not parent.is_alive():  # it died before prctl
            os._exit(1)
    elif parent is not None:
        sentinel = parent.sentinel

        def watch() -> None:
            multiprocessing.connection.wait([sentinel])
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()


def _pool_worker_initialiser() -> None:
    """SIGINT reaches the whole process group: the parent handles it, workers ignore it.
    SIGTERM ends a worker at once, silently (a forked worker inherits the parent's handler)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, StopSignals.SIGNALS)
    _die_with_parent()
    _single_threaded_blas()


def describe_exit(code: int | None) -> str:
    """``"killed by signal SIGKILL"`` or ``"exit status 3"``."""
    if code is None:
        return "ended"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class ProcessPoolExecutor:
    """A local pool of worker processes (``--workers N``) that survives the death of a worker.

    ``multiprocessing.Pool`` waits forever for a job whose worker died (an out-of-memory kill,
    a crash in native code); :class:`concurrent.futures.ProcessPoolExecutor` fails every job in
    flight with :class:`BrokenProcessPool` instead. The jobs then run again on a new pool, once:
    jobs in flight when workers die a second time stop the run (:class:`WorkerDied`).
    """

    ATTEMPTS = 2

    def __init__(self, workers: int, stop: StopSignals, incident: Incident):
        self.workers = workers
        self._stop = stop
        self._incident = incident
        stop.deferred = True
        self._pending: dict[concurrent.futures.Future[Any], tuple[Callable, Hashable]] = {}
        self._deaths: Counter[Hashable] = Counter()
        self._unsent: set[Hashable] = set()  # submitted to a pool that was already broken
        self._pool = self._start()
        self._processes: list[multiprocessing.Process] = []

    def _start(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            self.workers, initializer=_pool_worker_initialiser
        )

    def submit(self, fn, job):
        try:
            with StopSignals.blocked():  # workers start on the first submit
                future = self._pool.submit(fn, job)
        except BrokenProcessPool as exc:  # a worker died since the last result
            future = concurrent.futures.Future()
            future.set_exception(exc)
            self._unsent.add(job)
        self._pending[future] = (fn, job)
        known = getattr(self._pool, "_processes", None) or {}
        self._processes = [*{id(p): p for p in [*self._processes, *known.values()]}.values()]

    def next_result(self):
        """The next finished job's result; a stop signal since the last call raises here."""
        while True:
            self._stop.check()
            done, _ = concurrent.futures.wait(
                self._pending, timeout=POLL_S, return_when=concurrent.futures.FIRST_COMPLETED
            )
            if not done:
                continue
            finished = [f for f in done if not isinstance(f.exception(), BrokenProcessPool)]
            if finished:
                self._pending.pop(finished[0])
                return finished[0].result()
            self._restart()

    def _restart(self) -> None:
        """Workers died: every job in flight failed; run them again on a new pool."""
        self._pool.shutdown(wait=True)
        causes = sorted(
            {describe_exit(p.exitcode) for p in self._processes if p.exitcode != -signal.SIGTERM}
        )
        cause = ", ".join(causes) or "killed"
        lost = list(self._pending.values())
        self._pending.clear()
        self._processes = []
        self._deaths.update(job for _, job in lost if job not in self._unsent)
        self._unsent.clear()
        again = [job for job, deaths in self._deaths.items() if deaths >= self.ATTEMPTS]
        if again:
            raise WorkerDied(cause, again)
        self._incident(cause, [job for _, job in lost])
        self._pool = self._start()
        for fn, job in lost:
            self.submit(fn, job)

    def close(self, abort: bool = False) -> None:
        if not abort:
            self._pool.shutdown(wait=True)
            return
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()


class DaskExecutor:
    """Runs jobs on dask.distributed: a local cluster, or the scheduler at ``address``.

    A local cluster's processes start with SIGINT ignored: Ctrl-C reaches the whole process
    group, and only this process should answer it (with one message, not a traceback from
    every worker); when the run is stopped, it kills the local workers and closes the cluster.
    """

    def __init__(self, workers: int, address: str | None, stop: StopSignals):
        try:
            from dask.distributed import Client, LocalCluster, as_completed
        except ImportError as exc:
            raise RunError(
                "the dask executor needs dask.distributed: pip install 'simframe[dask]'"
            ) from exc
        self._stop = stop
        stop.deferred = True
        if address:
            self._cluster = None
            try:
                self._client = Client(address, timeout="20s")
            except OSError as exc:
                raise RunError(f"cannot reach the dask scheduler at {address}: {exc}") from exc
            self.workers = max(1, sum(self._client.nthreads().values()))
        else:
            with StopSignals.ignored(signal.SIGINT):
                self._cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
                )
            self._client = Client(self._cluster)
            self.workers = workers
        self._client.run(_single_threaded_blas)
        # The local cluster's worker processes, to end at once when the run is stopped.
        self._local_pids = list(self._client.run(os.getpid).values()) if self._cluster else []
        self._completed = as_completed()

    def submit(self, fn, job):
        # pure=False: equal arguments must not be deduplicated into one task.
        self._completed.add(self._client.submit(fn, job, pure=False))

    def next_result(self):
        """The next finished job's result; a stop signal since the last call raises here."""
        self._stop.check()
        while not self._completed.has_ready():
            time.sleep(POLL_S)
            self._stop.check()
        return next(self._completed).result()

    def close(self, abort: bool = False) -> None:
        """Stop the cluster; ``abort`` first kills a local cluster's workers, which would
        otherwise finish their trials and log the scheduler's departure as errors."""
        logger = logging.getLogger("distributed")
        level = logger.level
        if abort:
            self._completed.clear()
            logger.setLevel(logging.CRITICAL)  # the nannies' news of the killed workers
            for pid in self._local_pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        try:
            self._client.close()
            if self._cluster is not None:
                self._cluster.close()
        finally:
            logger.setLevel(level)


def make_executor(
    kind: str,
    workers: int,
    stop: StopSignals,
    incident: Incident,
    address: str | None = None,
) -> Executor:
    if kind == "dask":
        return DaskExecutor(workers, address, stop)
    if kind != "local":
        raise RunError(f"unknown executor {kind!r}; expected 'local' or 'dask'")
    return SerialExecutor() if workers == 1 else ProcessPoolExecutor(workers, stop, incident)
