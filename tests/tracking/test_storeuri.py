"""Which store a run uses, and what makes two tracking URIs one store (the lock's key)."""

from __future__ import annotations

import os

import pytest

from forecaster.tracking.storeuri import resolve_tracking_uri, store_identity


def test_a_symlinked_directory_is_the_store_it_points_to(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store_link").symlink_to(tmp_path / "store", target_is_directory=True)
    real = store_identity(f"sqlite:///{tmp_path}/store/mlflow.db")
    assert store_identity(f"sqlite:///{tmp_path}/store_link/mlflow.db") == real
    assert real == "sqlite:///" + os.path.realpath(tmp_path / "store" / "mlflow.db")
    assert store_identity(f"file://{tmp_path}/store_link") == store_identity(str(tmp_path / "store"))


def test_a_symlinked_database_file_is_the_file_it_points_to(tmp_path):
    (tmp_path / "mlflow.db").write_bytes(b"")
    (tmp_path / "alias.db").symlink_to(tmp_path / "mlflow.db")
    assert store_identity(f"sqlite:///{tmp_path}/alias.db") == store_identity(f"sqlite:///{tmp_path}/mlflow.db")


def test_a_relative_path_is_the_absolute_one(tmp_path, monkeypatch):
    (tmp_path / "store").mkdir()
    monkeypatch.chdir(tmp_path)
    absolute = store_identity(f"sqlite:///{tmp_path}/store/mlflow.db")
    assert store_identity("sqlite:///store/mlflow.db") == absolute
    assert store_identity(resolve_tracking_uri("sqlite:///store/mlflow.db")) == absolute
    assert store_identity("mlruns") == store_identity(f"file://{tmp_path}/mlruns")


def test_dot_dot_segments_are_collapsed(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "store").mkdir()
    assert store_identity(f"sqlite:///{tmp_path}/a/b/../../store/./mlflow.db") == \
        store_identity(f"sqlite:///{tmp_path}/store/mlflow.db")


@pytest.mark.parametrize("uri", ["http://mlflow.example.com", "HTTP://MLflow.Example.COM:80/",
                                 "http://mlflow.example.com/", "http://mlflow.example.com:80"])
def test_server_uris_are_normalised(uri):
    assert store_identity(uri) == "http://mlflow.example.com"


def test_different_servers_stay_different():
    ids = {store_identity(u) for u in ("http://a.example.com", "https://a.example.com", "http://a.example.com:5000",
                                       "http://b.example.com", "http://a.example.com/other")}
    assert len(ids) == 5
    assert store_identity("https://A.example.com:443/base/") == "https://a.example.com/base"
    assert store_identity("postgresql://u:p@DB:5432/mlflow") == "postgresql://u:p@db/mlflow"
    assert store_identity("databricks") == "databricks"
