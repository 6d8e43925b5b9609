"""What native code writes to file descriptor 2, relayed in the command line's log format.

TensorFlow's C++ logging (absl) writes straight to fd 2, below Python's ``sys.stderr`` and its
logging. Where TensorFlow turns its oneDNN kernels on (some Intel CPUs; ``TF_ENABLE_ONEDNN_OPTS=1``
forces it anywhere), TensorFlow 2.21 prints at import, twice, lines that neither
``TF_CPP_MIN_LOG_LEVEL`` nor ``ABSL_MIN_LOG_LEVEL`` hide::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796423680.638458    5313 port.cc:153] oneDNN custom operations are on. ...

The command line (``forecaster.cli.logsetup.NativeStderr``) points fd 2 at a pipe read by this
module, run as a small process of its own, and writes Python's log records and tracebacks to a
copy of the original fd 2 directly. :class:`Relay` decides, line by line:

- a JSON object (a record from a child process logging JSON) is passed through as it is;
- a native log line (an absl/glog header ``I``/``W``/``E``/``F`` + ``mmdd hh:mm:ss.micros thread
  file:line]``, with the indented lines that continue it in the same write, or absl's "All log messages before
  absl::InitializeLog()" notice) is dropped at the default verbosity unless it is fatal (``F``);
  with ``-v`` it is shown: as it came in ``text`` mode, as a JSON record of the logger ``native``
  (``level`` from its letter, ``source`` such as ``port.cc:153``) in ``json`` mode;
- any other line (a native library's message, a child's traceback, "Fatal Python error") is always
  shown: as it came (``text``), or as a JSON record of the logger ``stderr`` at level ``WARNING``.

A process rather than a thread, so that nothing is lost when the main process dies of a fatal
error (``LOG(FATAL)``, an abort, a segfault): what it wrote is still in the pipe, and the relay
writes it out after it has gone. The relay runs in a session of its own (Ctrl-C at a terminal does
not reach it) and ignores SIGINT, SIGTERM and SIGHUP: it ends when every writer has closed the
pipe, so it never changes an exit code.

This module imports only the standard library: the relay runs it as a script (``python -I``).

Example
-------
>>> relay = Relay("json", verbose=False)
>>> relay.feed(b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
b''
>>> relay.feed(b'{"level": "INFO", "message": "kept"}\\nplain\\n').decode().splitlines()[0]
'{"level": "INFO", "message": "kept"}'
>>> import json; json.loads(Relay("json", verbose=False).feed(b"plain\\n"))["logger"]
'stderr'
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import signal
import sys

FORMATS = ("text", "json")

#: absl/glog's header: severity letter, mmdd, time, thread id, source file:line.
NATIVE_HEADER = re.compile(rb"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ ([^\s\]]+:\d+)\] ?")
#: absl's notice, printed before its logging is initialised.
ABSL_NOTICE = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
#: How a line that continues a native record starts (absl indents a fatal error's stack trace).
CONTINUATION = (b" ", b"\t")
LEVELS = {b"I": "INFO", b"W": "WARNING", b"E": "ERROR", b"F": "CRITICAL"}


class Relay:
    """Turns bytes read from fd 2 into the bytes to show (see the module docstring).

    ``feed`` takes any chunk (lines may be split across chunks); ``close`` flushes a last line
    without a newline. An indented line continues the native record before it only within one
    chunk (absl writes a message, stack trace included, with one write); any other line is a line
    of its own, so that a message written after a hidden native line is never hidden with it.
    """

    def __init__(self, fmt: str, verbose: bool) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"`fmt` must be one of {FORMATS}. Received: fmt={fmt!r}")
        self.fmt = fmt
        self.verbose = verbose
        self._partial = b""
        self._record: list | None = None  # [level, source, [lines]] of the native record being read

    def feed(self, chunk: bytes) -> bytes:
        data = self._partial + chunk
        *lines, self._partial = data.split(b"\n")
        out = [self._line(line) for line in lines]
        out.append(self._end_record())
        return b"".join(out)

    def close(self) -> bytes:
        rest, self._partial = self._partial, b""
        out = self._line(rest) if rest.strip() else b""
        return out + self._end_record()

    # ------------------------------------------------------------------ one line
    def _line(self, line: bytes) -> bytes:
        line = line.rstrip(b"\r")
        header = NATIVE_HEADER.match(line)
        if header or line.strip() == ABSL_NOTICE:
            shown = self._end_record()
            if header:
                self._record = [LEVELS[header.group(1)], header.group(2), [line[header.end():]], [line]]
            else:
                self._record = ["WARNING", b"absl", [line], [line]]
            return shown
        if self._record is not None and line.strip() and line.startswith(CONTINUATION):
            self._record[2].append(line)
            self._record[3].append(line)
            return b""
        shown = self._end_record()
        if not line.strip():
            return shown + (b"\n" if self.fmt == "text" else b"")
        if self.fmt == "text" or _is_json_object(line):
            return shown + line + b"\n"
        return shown + _json_record("WARNING", "stderr", line)

    def _end_record(self) -> bytes:
        record, self._record = self._record, None
        if record is None:
            return b""
        level, source, message, raw = record
        if not self.verbose and level != "CRITICAL":
            return b""
        if self.fmt == "text":
            return b"\n".join(raw) + b"\n"
        return _json_record(level, "native", b"\n".join(message), source=source.decode(errors="replace"))


def _is_json_object(line: bytes) -> bool:
    if not line.lstrip().startswith(b"{"):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _json_record(level: str, logger: str, message: bytes, **extra: str) -> bytes:
    """One line in the shape of ``forecaster.cli.logsetup.JsonFormatter``'s records."""
    payload = {
        "ts": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"),
        "level": level,
        "logger": logger,
        "message": message.decode("utf-8", errors="backslashreplace").rstrip(),
        **extra,
    }
    return json.dumps(payload, ensure_ascii=False).encode("utf-8") + b"\n"


def _write_all(fd: int, data: bytes) -> bool:
    """Write everything; False once the reader of ``fd`` is gone (the relay then only drains)."""
    while data:
        try:
            data = data[os.write(fd, data):]
        except InterruptedError:
            continue
        except OSError:
            return False
    return True


def run(fmt: str, verbose: bool, source: int = 0, target: int = 1) -> None:
    """Relay ``source`` (the pipe) to ``target`` (the original stderr) until end of file."""
    relay = Relay(fmt, verbose)
    alive = True
    while True:
        try:
            chunk = os.read(source, 65536)
        except InterruptedError:
            continue
        if not chunk:
            break
        out = relay.feed(chunk)
        if out and alive:
            alive = _write_all(target, out)
    out = relay.close()
    if out and alive:
        _write_all(target, out)


def main(argv: list[str]) -> int:
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    fmt, verbose = argv[0], argv[1] == "1"
    run(fmt, verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
