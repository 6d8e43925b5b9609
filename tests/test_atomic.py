"""Atomic writes: the final file is complete or absent, never partial."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from forecaster.atomic import atomic_output, atomic_write_bytes, atomic_write_text


def test_write_text_and_bytes_create_parents(tmp_path):
    target = tmp_path / "a" / "b" / "out.txt"
    atomic_write_text(target, "héllo\n")
    assert target.read_text(encoding="utf-8") == "héllo\n"
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert os.listdir(target.parent) == ["out.txt"]


def test_final_file_has_umask_mode_not_mkstemp_0600(tmp_path):
    target = atomic_write_text(tmp_path / "x.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask


def test_temp_is_hidden_in_same_directory_and_ends_tmp(tmp_path):
    target = tmp_path / "forecast.csv"
    with atomic_output(target) as tmp:
        assert tmp.parent == target.parent
        assert tmp.name.startswith(".forecast.csv.") and tmp.name.endswith(".tmp")
        tmp.write_text("a\n")
    with atomic_output(tmp_path / "plot.png", suffix=".png") as tmp:
        assert tmp.name.startswith(".plot.png.") and tmp.name.endswith(".tmp.png")
        tmp.write_bytes(b"png")


def test_writer_raising_midway_leaves_no_partial_file(tmp_path):
    target = tmp_path / "forecast.csv"
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_output(target) as tmp:
            with open(tmp, "w") as fh:
                fh.write("series_id,timestamp\nA,2024")
            raise RuntimeError("disk on fire")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_previous_file(tmp_path):
    target = atomic_write_text(tmp_path / "f.csv", "old complete content\n")
    with pytest.raises(ValueError):
        with atomic_output(target) as tmp:
            tmp.write_text("new, partial")
            raise ValueError("boom")
    assert target.read_text() == "old complete content\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.csv"]


def test_pandas_csv_through_atomic_output(tmp_path):
    frame = pd.DataFrame({"step": [1, 2], "forecast": [0.5, 1.5]})
    target = tmp_path / "out" / "f.csv"
    with atomic_output(target) as tmp:
        frame.to_csv(tmp, index=False)
    pd.testing.assert_frame_equal(pd.read_csv(target), frame)


def test_killed_writer_leaves_only_a_hidden_temp(tmp_path):
    target = tmp_path / "forecast.csv"
    script = textwrap.dedent(
        f"""
        import sys, time
        from forecaster.atomic import atomic_output
        with atomic_output({str(target)!r}) as tmp:
            with open(tmp, "w") as fh:
                fh.write("series_id,timestamp,step\\n" * 1000)
                fh.flush()
                print("writing", flush=True)
                time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert not target.exists()
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".") and leftovers[0].endswith(".tmp")
    # The next run simply writes the file.
    atomic_write_text(target, "complete\n")
    assert target.read_text() == "complete\n"


def test_atomic_directory_replaces_on_success_and_keeps_the_old_one_on_failure(tmp_path):
    import pytest

    from forecaster.atomic import atomic_directory

    target = tmp_path / "model"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("one")
    assert (target / "a.txt").read_text() == "one"
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as tmp:
            (tmp / "a.txt").write_text("two")
            raise RuntimeError("killed mid-way")
    assert (target / "a.txt").read_text() == "one"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary directory left
