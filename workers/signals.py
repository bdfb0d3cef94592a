"""The worker's SIGTERM handling during populate (see :mod:`workers.worker`, Signals)."""

from __future__ import annotations

import contextlib
import signal


@contextlib.contextmanager
def keep_our_sigterm_handler():
    """During populate, keep the worker's SIGTERM handler instead of DataJoint's (which marks the job 'error')."""
    from datajoint import autopopulate

    if getattr(autopopulate, "signal", None) is not signal:  # another DataJoint layout: rely on the fallback
        yield
        return

    class _Signal:
        def __getattr__(self, name):
            return getattr(signal, name)

        @staticmethod
        def signal(signum, handler):
            if signum == signal.SIGTERM:
                return signal.getsignal(signum)
            return signal.signal(signum, handler)

    autopopulate.signal = _Signal()
    try:
        yield
    finally:
        autopopulate.signal = signal
