"""Emulated devices on the other core: a forked process answering APDUs in shared memory.

In a real tap the device is another machine (the phone): its work shares neither the
reader's core nor its caches, and the reader waits on the radio. ``bench tap`` runs the
emulated devices that way when it can: :func:`devices_on_other_core` forks one process,
pins it to a core the reader does not use, and hands it each command through an
anonymous shared mapping. Both sides spin on a sequence word instead of sleeping (a pipe
makes the reader sleep and wake with cold caches in every exchange, which no radio
driver polling its front end would do), and the reader-side proxy's ``process`` keeps
the thread CPU time of the whole hand-off apart, as the in-process wrapper keeps the
device's own work apart: the figure is the reader's work, not its I/O wait.

The child dies with the bench: it asks the kernel for SIGKILL when its parent goes
(``prctl(PR_SET_PDEATHSIG)``), stays in the parent's process group, and the context
manager kills and reaps it on the way out, whatever happened. A child that dies or stops
answering makes the reader's side raise :class:`DeviceLost` instead of spinning forever.

The hand-off writes the data, then the sequence word (one aligned 8-byte store), and the
other side reads the word, then the data: correct under x86's store and load ordering,
which :func:`usable` requires (Python has no memory fences to offer elsewhere).
"""

from __future__ import annotations

import contextlib
import ctypes
import mmap
import os
import platform
import signal
import time
import traceback
from collections.abc import Iterator, Sequence
from time import thread_time_ns
from typing import Protocol

# Layout of the mapping, in 8-byte words: the reader's words (request sequence, device
# index, command length) and the device's words (answer sequence, answer length) sit on
# different cache lines, so each side's writes do not bounce the other's line.
_REQ_SEQ, _REQ_DEVICE, _REQ_LEN = 0, 1, 2
_ANS_SEQ, _ANS_LEN = 8, 9
_CAPACITY = 1 << 17  # bytes of command, and of answer (an extended APDU fits)
_REQ_DATA = 128
_ANS_DATA = _REQ_DATA + _CAPACITY
_SIZE = _ANS_DATA + _CAPACITY
_STOP = (1 << 64) - 1  # request sequence that tells the device process to leave

SPIN_BEFORE_NAP_NS = 2_000_000  # the device spins this long without a command, then naps
NAP_S = 0.0002  # between blocks of other paths it polls with short sleeps
GIVE_UP_S = 30.0  # the reader's side waits at most this long for one answer
_CHECK_EVERY = 1 << 14  # spins between looks at the clock and at the other process

_PR_SET_PDEATHSIG = 1
_X86 = frozenset({"x86_64", "amd64", "i386", "i686", "x86"})


class Responder(Protocol):
    def process(self, command: bytes) -> bytes: ...


class DeviceLost(RuntimeError):
    """The device process died or stopped answering."""


def usable(cores: set[int], reader_core: int) -> tuple[int | None, str | None]:
    """(the device's core, None) when the device can run beside the reader; else
    (None, why not)."""
    if not hasattr(os, "fork") or not hasattr(os, "sched_setaffinity"):
        return None, "no fork or CPU affinity on this platform"
    if platform.machine().lower() not in _X86:
        return None, f"the shared-memory hand-off relies on x86 ordering ({platform.machine()})"
    others = sorted(cores - {reader_core})
    if not others:
        return None, "one usable core"
    return others[0], None


class OtherCoreDevice:
    """The reader's side of one emulated device in the device process.

    ``process`` (also ``transmit`` and ``transceive``) sends one command and returns the
    answer; ``spent_ns`` and ``calls`` hold the thread CPU time of those hand-offs, which
    the bench takes off the reader's figure.
    """

    def __init__(self, link: _Link, index: int) -> None:
        self._link = link
        self._index = index
        self.spent_ns = 0
        self.calls = 0

    def process(self, command: bytes) -> bytes:
        start = thread_time_ns()
        link = self._link
        n = len(command)
        if n > _CAPACITY:
            raise ValueError(f"command of {n} bytes is longer than the hand-off buffer")
        link.mem[_REQ_DATA : _REQ_DATA + n] = command
        words = link.words
        words[_REQ_DEVICE] = self._index
        words[_REQ_LEN] = n
        seq = link.seq = link.seq + 1
        words[_REQ_SEQ] = seq  # published: the device may start
        spins = 0
        while words[_ANS_SEQ] != seq:
            spins += 1
            if spins == _CHECK_EVERY:
                spins = 0
                link.check()
        m = words[_ANS_LEN]
        answer = link.mem[_ANS_DATA : _ANS_DATA + m]
        self.spent_ns += thread_time_ns() - start
        self.calls += 1
        return answer

    transmit = process
    transceive = process


class _Link:
    """The parent's handle on the mapping and the device process."""

    def __init__(self, mem: mmap.mmap, pid: int) -> None:
        self.mem = mem
        self.words = memoryview(mem).cast("Q")
        self.pid = pid
        self.seq = 0
        self._since = 0.0
        self._since_seq = -1

    def check(self) -> None:
        """Raise DeviceLost when the device process is gone or has not answered in time
        (by the wall clock: thread time stands still while this thread is descheduled)."""
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid:
            self.pid = 0
            raise DeviceLost(f"the device process ended (wait status {status})")
        now = time.monotonic()
        if self._since_seq != self.seq:
            self._since_seq, self._since = self.seq, now
        elif now - self._since > GIVE_UP_S:
            raise DeviceLost(f"no answer from the device process in {GIVE_UP_S:.0f} s")


def _die_with_parent(parent: int) -> None:
    """Ask for SIGKILL when the parent ends (Linux); leave at once if it already has."""
    with contextlib.suppress(OSError, AttributeError):  # no such call: the finally kill
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)


def _serve(mem: mmap.mmap, devices: Sequence[Responder], core: int, parent: int) -> None:
    _die_with_parent(parent)
    os.sched_setaffinity(0, {core})
    words = memoryview(mem).cast("Q")
    seen = 0
    idle_since = time.monotonic_ns()
    spins = 0
    while True:
        seq = words[_REQ_SEQ]
        if seq == seen:
            spins += 1
            if spins == _CHECK_EVERY:  # rarely: leave when orphaned, nap when long idle
                spins = 0
                if os.getppid() != parent:
                    return
                if time.monotonic_ns() - idle_since > SPIN_BEFORE_NAP_NS:
                    time.sleep(NAP_S)
                    spins = _CHECK_EVERY - 1  # look again after the next poll
            continue
        if seq == _STOP:
            return
        command = bytes(mem[_REQ_DATA : _REQ_DATA + words[_REQ_LEN]])
        answer = devices[words[_REQ_DEVICE]].process(command)
        m = len(answer)
        if m > _CAPACITY:
            raise ValueError(f"answer of {m} bytes is longer than the hand-off buffer")
        mem[_ANS_DATA : _ANS_DATA + m] = answer
        words[_ANS_LEN] = m
        words[_ANS_SEQ] = seq  # published: the reader may read
        seen = seq
        idle_since = time.monotonic_ns()


@contextlib.contextmanager
def devices_on_other_core(
    devices: Sequence[Responder], core: int
) -> Iterator[list[OtherCoreDevice]]:
    """Fork a process that runs ``devices`` pinned to ``core``; yield their proxies.

    The devices' state lives in the child from here on (what they learn in a tap stays
    there). On exit the child is killed and reaped.
    """
    mem = mmap.mmap(-1, _SIZE)  # anonymous and shared: the child sees the same pages
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the device process: never returns into the caller's stack
        code = 1
        try:
            _serve(mem, devices, core, parent)
            code = 0
        except BaseException:  # noqa: BLE001 - the child reports any failure, then leaves
            traceback.print_exc()
        finally:
            os._exit(code)
    link = _Link(mem, pid)
    try:
        yield [OtherCoreDevice(link, i) for i in range(len(devices))]
    finally:
        if link.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        link.words.release()
        mem.close()
