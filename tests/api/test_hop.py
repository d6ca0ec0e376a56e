"""The worker hop (otpd.api.hop, issue #12): what starlette's run_in_threadpool guaranteed and
the request path relies on still holds with the dedicated thread pool."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from otpd.api.hop import run_in_worker

REQUEST = contextvars.ContextVar("request", default="none")


def test_the_function_runs_in_another_thread_with_the_callers_context() -> None:
    """The audit events read the request's context (id, caller) in the worker thread."""

    async def main() -> tuple[str, int]:
        REQUEST.set("r-1")
        return await run_in_worker(lambda: (REQUEST.get(), threading.get_ident()))

    seen, thread = asyncio.run(main())
    assert seen == "r-1"
    assert thread != threading.get_ident()


def test_arguments_and_errors_pass_through() -> None:
    def divide(a: int, *, by: int) -> float:
        return a / by

    async def main() -> float:
        assert await run_in_worker(divide, 6, by=3) == 2
        return await run_in_worker(divide, 1, by=0)

    with pytest.raises(ZeroDivisionError):
        asyncio.run(main())


def test_a_cancelled_request_ends_only_after_its_running_function_returned() -> None:
    """A write must not go on behind a request that already ended (shutdown then closes the
    store): as with anyio, cancelling waits for the function."""
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def write() -> None:
        started.set()
        release.wait(10)
        finished.append(True)

    async def main() -> None:
        task = asyncio.ensure_future(run_in_worker(write))
        while not started.is_set():
            await asyncio.sleep(0.001)
        task.cancel()
        await asyncio.sleep(0.05)  # time enough for a task that does not wait to end
        assert not task.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert finished == [True]

    asyncio.run(main())
