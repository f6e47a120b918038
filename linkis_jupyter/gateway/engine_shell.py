"""Shell run types (shell, sh): bash, one process group per job, in the user's area.

stdout becomes a TEXT result set as it arrives; stderr lines go to the job's log as WARN. Kill,
and the end of the job, end the whole process group.
"""
from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time

from .engine_base import (
    ENGINE_NOT_AVAILABLE, SHELL_CODE_IS_WRONG, Control, EngineError, JobContext, LineLog, Results,
    TextSpool, has_exited, job_env, kill_group, killed_error, read_chunk, stage,
)


def run_shell(ctx: JobContext, control: Control) -> None:
    ctx.set_progress(0.0, [stage("shell", 1, 0, 1)])
    bash = shutil.which("bash")
    if bash is None:
        raise EngineError("The shell engine needs bash, and this machine has none on its PATH.",
                          ENGINE_NOT_AVAILABLE)
    ctx.workspace.mkdir(parents=True, exist_ok=True)
    fd, script = tempfile.mkstemp(prefix=f"linkis-{ctx.task_id}-", suffix=".sh")
    with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as f:
        f.write(ctx.code)
        if not ctx.code.endswith("\n"):
            f.write("\n")
    results = Results(ctx.result_dir)
    spool = TextSpool(results, f"shell-{ctx.task_id}")
    errors = LineLog(ctx.log, lambda line: "WARN")
    try:
        proc = subprocess.Popen([bash, script], cwd=ctx.workspace, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, env=job_env(ctx.workspace))
    except OSError as e:
        os.unlink(script)
        raise EngineError(f"bash could not be started: {e}", SHELL_CODE_IS_WRONG) from None
    ctx.log("INFO", f"Shell job running in bash (pid {proc.pid}) in {ctx.workspace}")
    control.on_stop = lambda: kill_group(proc.pid, signal.SIGTERM)
    assert proc.stdout is not None and proc.stderr is not None
    streams = {proc.stdout.fileno(): spool.feed, proc.stderr.fileno(): errors.feed}
    selector = selectors.DefaultSelector()
    for stream_fd in streams:
        selector.register(stream_fd, selectors.EVENT_READ)
    stopping_since: float | None = None
    drain_until: float | None = None
    try:
        while True:
            for key, _ in selector.select(0.1):
                data = read_chunk(key.fd)
                if data:
                    streams[key.fd](data)
                else:
                    selector.unregister(key.fd)
                    del streams[key.fd]
            now = time.monotonic()
            if control.stop_requested():
                if stopping_since is None:
                    stopping_since = now
                    kill_group(proc.pid, signal.SIGTERM)
                elif now - stopping_since > 0.3:
                    kill_group(proc.pid)
            if drain_until is None and has_exited(proc):
                # The job is over when bash is: what it left running in its group goes with it.
                kill_group(proc.pid)
                drain_until = now + 1.0
            if drain_until is not None and (not streams or now > drain_until):
                break
    finally:
        control.on_stop = None
        selector.close()
        if not has_exited(proc):
            kill_group(proc.pid)
        returncode = proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        os.unlink(script)
        errors.flush()
    try:
        if control.stop_requested():
            raise killed_error()
        if returncode != 0:
            reason = f"exit code {returncode}" if returncode > 0 else \
                f"killed by signal {-returncode}"
            ctx.log("ERROR", f"The shell job ended with {reason}.")
            last = f": {errors.last}" if errors.last else ""
            raise EngineError(f"shell code is wrong(shell代码错误): {reason}{last}",
                              SHELL_CODE_IS_WRONG)
        writer = spool.finish()
        if writer is not None:
            writer.close(results.next_path())
    finally:
        spool.abort()
        results.tidy(f"shell-{ctx.task_id}")
