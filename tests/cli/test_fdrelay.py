"""Native stderr (fd 2) relayed in the log format: the relay's rules, and the real command line with a
module that writes to fd 2 at the C level while a command runs (no dependence on the CPU: the lines
TensorFlow prints where its oneDNN kernels are on are written by hand, through libc)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from forecaster.cli.fdrelay import Relay

ROOT = Path(__file__).resolve().parents[2]
NOTICE = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
ONEDNN = b"I0000 00:00:1796423680.638458    5313 port.cc:153] oneDNN custom operations are on. You may see...\n"
FATAL = b"F0000 00:00:1796423680.638459    5313 check.cc:7] Check failed: x == y\n    @ 0x7f00 stack frame\n"


def test_json_mode_hides_native_notices_and_wraps_other_text():
    relay = Relay("json", verbose=False)
    out = relay.feed(NOTICE + ONEDNN + b"plain text from C\n" + b'{"level": "INFO", "logger": "child"}\n')
    out += relay.feed(b"a half ") + relay.feed(b"line") + relay.close()
    records = [json.loads(line) for line in out.splitlines()]
    assert records[1] == {"level": "INFO", "logger": "child"}  # a JSON line passes through as it is
    assert [(r["level"], r["logger"], r["message"]) for r in (records[0], records[2])] == [
        ("WARNING", "stderr", "plain text from C"), ("WARNING", "stderr", "a half line")]
    assert len(records) == 3
    assert records[0]["ts"].endswith("+00:00")


def test_json_mode_with_verbose_shows_native_lines_as_records():
    records = [json.loads(line) for line in Relay("json", verbose=True).feed(NOTICE + ONEDNN).splitlines()]
    assert [(r["level"], r["logger"], r["source"]) for r in records] == [
        ("WARNING", "native", "absl"), ("INFO", "native", "port.cc:153")]
    assert records[1]["message"].startswith("oneDNN custom operations are on.")


def test_text_mode_hides_native_lines_unless_verbose_and_never_a_fatal_one():
    quiet = Relay("text", verbose=False)
    assert quiet.feed(NOTICE + ONEDNN + b"plain text from C\n" + FATAL) == b"plain text from C\n" + FATAL
    assert Relay("text", verbose=True).feed(NOTICE + ONEDNN) == NOTICE + ONEDNN


def test_a_fatal_native_line_keeps_its_stack_trace_in_json():
    (record,) = [json.loads(line) for line in Relay("json", verbose=False).feed(FATAL).splitlines()]
    assert record["level"] == "CRITICAL" and record["source"] == "check.cc:7"
    assert record["message"] == "Check failed: x == y\n    @ 0x7f00 stack frame"


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="`fmt` must be one of"):
        Relay("xml", verbose=False)


# A command run by the real CLI in a child process; when the command imports forecaster.data, a
# module "imported during the run" writes TensorFlow's oneDNN lines and other text to fd 2 through
# libc, and (``abort``) a fatal line before the process aborts.
DRIVER = r'''
import ctypes, os, sys
libc = ctypes.CDLL(None)
MODE = sys.argv[1]

def cwrite(data):
    libc.write(2, data, len(data))

class NoisyImport:
    fired = False
    def find_spec(self, name, path=None, target=None):
        if name == "forecaster.data" and not NoisyImport.fired:
            NoisyImport.fired = True
            for _ in range(2):
                cwrite(NOTICE + ONEDNN)
            cwrite(b"plain text from C\n")
            if MODE == "abort":
                cwrite(FATAL)
                os.abort()
        return None

NOTICE, ONEDNN, FATAL = NOTICE_, ONEDNN_, FATAL_
sys.meta_path.insert(0, NoisyImport())
fd2 = os.fstat(2)
from forecaster.cli import main
code = main(sys.argv[2:])
after = os.fstat(2)
print("RESTORED", (after.st_dev, after.st_ino) == (fd2.st_dev, fd2.st_ino) and getattr(sys.stderr, "original", sys.stderr) is sys.__stderr__)
sys.exit(code)
'''.replace("NOTICE_, ONEDNN_, FATAL_", f"{NOTICE!r}, {ONEDNN!r}, {FATAL!r}")


def run_cli(tmp_path: Path, mode: str, *args: str) -> subprocess.CompletedProcess:
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    shutil.copy(ROOT / "data" / "seattle_weather.csv", tmp_path / "weather.csv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "MLFLOW_"))}
    env["FORECASTER_STATE_DIR"] = str(tmp_path / "state")
    return subprocess.run([sys.executable, str(driver), mode, *args], cwd=tmp_path, env=env, check=False,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("source", "code"), [("weather.csv", 0), ("missing.csv", 3)])
def test_json_logs_stay_json_when_native_code_writes_to_fd2(tmp_path, source, code):
    done = run_cli(tmp_path, "run", "--log-format", "json", "data", "check", source)
    assert done.returncode == code, done.stderr  # exit codes unchanged
    assert done.stdout.splitlines()[-1] == "RESTORED True"  # fd 2 and sys.stderr put back after the command
    records = [json.loads(line) for line in done.stderr.splitlines()]  # every line is JSON
    native = [r for r in records if r["logger"] in ("stderr", "native")]
    assert [(r["logger"], r["message"]) for r in native] == [("stderr", "plain text from C")]
    assert records[-1]["level"] == ("ERROR" if code else "INFO")


def test_text_logs_show_no_native_line_by_default_and_show_them_with_verbose(tmp_path):
    done = run_cli(tmp_path, "run", "data", "check", "weather.csv")
    assert done.returncode == 0, done.stderr
    assert "absl::InitializeLog" not in done.stderr and "port.cc" not in done.stderr
    assert "plain text from C" in done.stderr and "checking target column(s)" in done.stderr
    verbose = run_cli(tmp_path, "run", "-v", "data", "check", "weather.csv")
    assert verbose.stderr.count("absl::InitializeLog") == 2 and verbose.stderr.count("port.cc:153]") == 2


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_fatal_error_is_not_lost_when_the_process_dies(tmp_path, fmt):
    done = run_cli(tmp_path, "abort", "--log-format", fmt, "data", "check", "weather.csv")
    assert done.returncode == -6  # SIGABRT, as without the relay
    assert "Check failed: x == y" in done.stderr and "plain text from C" in done.stderr
    if fmt == "json":
        assert all(json.loads(line) for line in done.stderr.splitlines())
