"""The execution layer without Ray: executor choice, the local executor, models as archive bytes."""

from __future__ import annotations

import io
import tarfile

import pytest

from forecaster.errors import ConfigError
from forecaster.execution import LocalExecutor, make_executor
from forecaster.comparison.tasks import pack_dir, unpack_dir


def test_make_executor_names_the_choices():
    with make_executor("local", jobs=2) as ex:
        assert isinstance(ex, LocalExecutor) and ex.jobs == 2 and not ex.distributed
    with pytest.raises(ConfigError, match="--executor must be one of local, ray; received 'dask'"):
        make_executor("dask")


def test_local_map_runs_in_order_and_reports_each_result():
    seen = []
    outcomes = LocalExecutor().map(lambda shared, item: shared * item, 3, [1, 2, 5], names=["a", "b", "c"],
                                   on_result=lambda o: seen.append(o.name))
    assert [o.value for o in outcomes] == [3, 6, 15] and seen == ["a", "b", "c"]
    assert not any(o.failed for o in outcomes) and outcomes[0].worker == {}


def test_a_saved_directory_round_trips_as_bytes(tmp_path):
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "settings.json").write_text('{"a": 1}')
    (src / "sub" / "weights.npz").write_bytes(b"\x00\x01binary")
    out = unpack_dir(pack_dir(src), tmp_path / "back")
    assert (out / "settings.json").read_text() == '{"a": 1}'
    assert (out / "sub" / "weights.npz").read_bytes() == b"\x00\x01binary"


def test_an_archive_escaping_its_directory_is_refused(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    with pytest.raises(tarfile.OutsideDestinationError):
        unpack_dir(buffer.getvalue(), tmp_path / "dest")
    assert not (tmp_path / "escaped.txt").exists()
