"""Children of `crm up` end when it ends, even if it is killed without a chance to stop them.

The launcher names itself in CRM_LAUNCHER_PID; each child asks the kernel (Linux prctl
PR_SET_PDEATHSIG) for SIGTERM when its parent dies. Done in the child at start, not with
subprocess's preexec_fn, which is unsafe in a parent that runs threads (gRPC's do)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1


def exit_with_launcher() -> None:
    launcher = os.environ.get("CRM_LAUNCHER_PID", "")
    if not launcher.isdigit():
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(launcher):  # the launcher died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    # `python -m crm_platform.parent PROGRAM ARGS...`: the same, for a program that is not ours
    # (nats-server); the request survives exec.
    import sys

    exit_with_launcher()
    os.execv(sys.argv[1], sys.argv[1:])
