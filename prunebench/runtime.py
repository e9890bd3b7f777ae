"""Process set-up shared by every pipeline step: logging, threads, one-line failures."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from .errors import InputError
from .plugins import load_plugins, workflow_plugins


def setup(log_path: str | None = None, threads: int = 1) -> None:
    """Log to `log_path` (and stderr) and cap CPU threads for torch and BLAS.

    The BLAS already loaded (numpy's, by the time a workflow script imports prunebench) is capped through
    threadpoolctl; the environment caps child processes and torch, which is imported later by the steps
    that need it (scoring, selection and the report do not pay for importing it); a torch imported
    before this call gets them directly (the result of a training depends on them).
    """
    from threadpoolctl import threadpool_limits

    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        handlers=handlers, force=True)
    logging.raiseExceptions = False  # a log line that cannot be written (a full disk) must not add a traceback
    threads = max(1, int(threads))
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(threads)
    threadpool_limits(threads)
    if "torch" in sys.modules:  # imported already (a caller that validated a config): it read the old variables
        sys.modules["torch"].set_num_threads(threads)


SHELLS = {"bash", "sh", "dash", "zsh"}


def _parent(pid: int) -> tuple[int, str] | None:
    """(parent pid, command name) of `pid` from /proc, or None when it is gone or there is no /proc."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    name, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
    return int(fields[1]), name


def end_with_launcher(poll_seconds: float = 2.0) -> None:
    """End this process (SIGTERM) when the process that launched it dies, as a killed Snakemake's jobs
    would otherwise train on as orphans. The launcher is the parent, or the parent's parent when the
    parent is a shell (`bash -c` around the job); an orphan is adopted by init or a subreaper."""
    me = _parent(os.getpid())
    if me is None:  # no /proc: not Linux
        return
    watched = [os.getpid()]
    parent = _parent(me[0])
    if parent is not None and parent[1] in SHELLS:
        watched.append(me[0])
    parents = {pid: _parent(pid) for pid in watched}
    expected = {pid: parent[0] for pid, parent in parents.items() if parent is not None}  # a shell gone already:
    # this process's own parent has changed too, which the watch sees

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if any((_parent(pid) or (None,))[0] != launcher for pid, launcher in expected.items()):
                logging.getLogger(__name__).error("the workflow that started this job is gone: stopping")
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, daemon=True, name="end-with-launcher").start()


def process_seconds() -> float | None:
    """Seconds since this process started (from /proc; None without it): its start-up, read when a step begins."""
    try:
        stat = open("/proc/self/stat").read()
    except OSError:
        return None
    ticks = int(stat[stat.rindex(")") + 2:].split()[19])  # field 22, starttime: clock ticks after boot
    return time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")


STEP_LINE = "step %s took %.3f s; the process had started %.3f s before it"  # benchmarks/job_overhead.py reads it


def run_step(step, log_path: str | None, threads: int = 1, /, **kwargs) -> None:
    """Run one pipeline step as a workflow job's whole process, which ends with it; a known failure ends the
    process with one line naming what is wrong.

    `threads` sets up the process; a step that takes its own `threads` gets it among `kwargs`.
    The config's plugin modules (named by the workflow's environment) are imported first. The log's
    last line says how long the step took, and how long the process ran before it (interpreter, imports)."""
    setup(log_path, threads)
    end_with_launcher()
    logger = logging.getLogger(step.__module__)
    try:
        load_plugins(workflow_plugins())
        started, tick = process_seconds(), time.perf_counter()
        step(**kwargs)
    except InputError as err:  # bad input: one line; anything else is a bug and keeps its traceback
        logger.error("%s: %s", step.__name__, err)
        sys.exit(1)
    if started is not None:
        logger.info(STEP_LINE, step.__name__, time.perf_counter() - tick, started)
    # The step's files are written and closed: end the process here. The interpreter's own teardown of the
    # thousands of modules torch loads took 0.5-1 s per job (measured), which jobs of seconds paid every time.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
