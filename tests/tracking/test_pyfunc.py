"""Tests of forecaster.tracking.pyfunc_model: a real RNNForecaster logged as pyfunc, used elsewhere.

The model is loaded in a fresh Python process (as a consumer would) and, in the slow test,
served by ``mlflow models serve`` and queried over REST on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from forecaster.config import TrackingConfig
from forecaster.estimator import RNNForecaster
from forecaster.errors import ConfigError, ModelFileError
from forecaster.tracking import (
    artifact_root_for,
    configure,
    get_or_create_experiment,
    load_forecaster_from_uri,
    log_forecaster_model,
)
from forecaster._version import __version__
from forecaster.tracking.pyfunc_model import MODEL_CODE_FILE, pinned_requirements

COLUMNS = ["series_id", "timestamp", "step", "forecast", "lower", "upper"]
LOOKBACK, HORIZON = 12, 3
DATA = {"path": "weather.csv", "timestamp_column": "Date Time", "target": ["T (degC)"], "frequency": "1h"}


def _raw(n: int = 240) -> pd.DataFrame:
    """Raw rows as a file holds them: a text timestamp column and numeric columns."""
    t = np.arange(n)
    return pd.DataFrame({
        "Date Time": pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M:%S"),
        "T (degC)": 10 + 3 * np.sin(t / 4),
        "p (mbar)": 1000 + np.cos(t / 7),
    })


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    root = tmp_path_factory.mktemp("pyfunc")
    raw = _raw()
    # an ensemble of two networks (training.ensemble: 2): every served path loads both members
    model = RNNForecaster(target=["T (degC)"], lookback=LOOKBACK, horizon=HORIZON, units=4, epochs=1,
                          batch_size=64, data=DATA, ensemble=2).fit(raw.rename(columns={"Date Time": "timestamp"})
                                                        .assign(timestamp=lambda d: pd.to_datetime(d["timestamp"])))
    model_dir = model.save(root / "saved")
    uri = configure(TrackingConfig(tracking_uri=f"sqlite:///{root}/mlflow.db"))
    mlflow.set_experiment(experiment_id=get_or_create_experiment("pyfunc-test", artifact_root_for(uri)))
    history = raw.tail(2 * LOOKBACK).reset_index(drop=True)
    with mlflow.start_run() as run:
        model_uri = log_forecaster_model(model_dir, input_example=history)
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    return {"model_uri": model_uri, "run_id": run.info.run_id, "history": history, "env": env, "root": root,
            "model": model}


def test_logged_model_has_signature_example_pins_and_code(logged):
    info = mlflow.models.get_model_info(logged["model_uri"])
    assert [c.name for c in info.signature.inputs.inputs] == ["Date Time", "T (degC)", "p (mbar)"]
    assert [c.name for c in info.signature.outputs.inputs] == COLUMNS
    assert info.saved_input_example_info is not None
    local = mlflow.artifacts.download_artifacts(logged["model_uri"], dst_path=str(logged["root"] / "dl"))
    requirements = open(os.path.join(local, "requirements.txt")).read().split()
    assert set(pinned_requirements()) <= set(requirements)
    assert any(r.startswith("tensorflow-cpu==") for r in requirements)
    assert f"forecaster=={__version__}" in requirements
    # models from code: the logged python_model is forecaster's own small file; no package copy
    assert not os.path.exists(os.path.join(local, "code"))
    assert open(os.path.join(local, "model_code.py"), "rb").read() == MODEL_CODE_FILE.read_bytes()
    flavor = info.flavors["python_function"]
    assert "python_model" not in flavor and flavor["config"] == {"forecaster_version": __version__}
    saved = sorted(p.name for p in (Path(local) / "artifacts" / "saved").iterdir())
    assert saved == ["arrays.npz", "forecaster.json", "model.keras", "model_1.keras"]  # the two members
    logged_model = MlflowClient().get_logged_model(info.model_id)
    assert logged_model.source_run_id == logged["run_id"]
    assert logged_model.artifact_location.startswith((logged["root"] / "mlartifacts").as_uri())


def test_load_and_predict_in_a_fresh_process(logged):
    script = (
        "import json, sys, mlflow, pandas as pd\n"
        "history = pd.read_json(sys.stdin, orient='split')\n"
        "out = mlflow.pyfunc.load_model(sys.argv[1]).predict(history)\n"
        "print(json.dumps({'columns': list(out.columns), 'timestamps': [str(t) for t in out['timestamp']],\n"
        "                  'steps': out['step'].tolist(), 'ok': bool(((out.lower <= out.forecast)"
        " & (out.forecast <= out.upper)).all())}))\n"
    )
    history = logged["history"]
    done = subprocess.run(
        [sys.executable, "-c", script, logged["model_uri"]], input=history.to_json(orient="split"),
        capture_output=True, text=True, env=logged["env"], timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["columns"] == COLUMNS
    assert result["steps"] == [1, 2, 3]
    last = pd.Timestamp(history["Date Time"].iloc[-1])
    assert [pd.Timestamp(t) for t in result["timestamps"]] == [last + pd.Timedelta(hours=k) for k in (1, 2, 3)]
    assert result["ok"]


def test_log_into_an_ended_run_keeps_its_status(logged):
    client = MlflowClient()
    run = client.create_run(client.get_run(logged["run_id"]).info.experiment_id)
    client.set_terminated(run.info.run_id, "FAILED")
    saved = logged["root"] / "saved"
    uri = log_forecaster_model(saved, input_example=logged["history"], run_id=run.info.run_id)
    assert uri.startswith("models:/")
    assert client.get_run(run.info.run_id).info.status == "FAILED"


def test_load_forecaster_from_a_registered_alias(logged):
    mlflow.register_model(logged["model_uri"], "pyfunc-demo")
    MlflowClient().set_registered_model_alias("pyfunc-demo", "champion", "1")
    model = load_forecaster_from_uri("models:/pyfunc-demo@champion")
    assert isinstance(model, RNNForecaster)
    out = model.forecast(logged["history"])
    assert list(out.columns) == COLUMNS
    assert len(model.models_) == 2  # the ensemble's mean, as the fitted model forecast it
    pd.testing.assert_frame_equal(out, logged["model"].forecast(logged["history"]))
    with pytest.raises(ConfigError, match="model 'models:/nope@champion' was not found in the MLflow store"):
        load_forecaster_from_uri("models:/nope@champion")


def test_input_example_must_be_a_dataframe(logged):
    with pytest.raises(ValueError, match="`input_example` must be a non-empty DataFrame of raw history"):
        log_forecaster_model(logged["root"] / "saved", input_example=pd.DataFrame())


# ------------------------------------------------------------------ no code from artifacts


class _Payload:
    """Unpickling it creates the marker file: what a writer to a shared store could plant."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _object_npz(marker: Path) -> bytes:
    """A real .npz whose array is an object array holding the payload (numpy pickles it)."""
    import io

    buffer = io.BytesIO()
    np.savez(buffer, quantiles=np.array([_Payload(marker)], dtype=object))
    return buffer.getvalue()


def _yaml_tag(marker: Path) -> bytes:
    return f"flavors: !!python/object/apply:builtins.open ['{marker}', 'w']\n".encode()


#: (file inside the logged model, what is planted, words of the error). Every file forecaster
#: reads from a logged model is here; the code file is compared, never run.
PLANTED = [
    ("artifacts/saved/forecaster.json", lambda m: pickle.dumps(_Payload(m)), "forecaster.json: not valid JSON"),
    ("artifacts/saved/arrays.npz", lambda m: pickle.dumps(_Payload(m)), "arrays.npz: not a numpy .npz archive"),
    ("artifacts/saved/arrays.npz", _object_npz, "arrays.npz: not a numpy .npz archive"),
    ("artifacts/saved/model.keras", lambda m: pickle.dumps(_Payload(m)), "model.keras: not a valid Keras model file"),
    ("model_code.py", lambda m: f"open({str(m)!r}, 'w')\n".encode(), "code file model_code.py is not forecaster's own"),
    ("MLmodel", lambda m: pickle.dumps(_Payload(m)), "MLmodel is not a valid MLmodel YAML file"),
    ("MLmodel", _yaml_tag, "MLmodel is not a valid MLmodel YAML file"),
]
PLANTED_IDS = ["state-json", "state-npz", "state-npz-object", "keras", "code-file", "mlmodel", "mlmodel-yaml-tag"]


@pytest.fixture()
def model_files(logged):
    """The logged model's files in the store, put back as they were after the test."""
    from mlflow.utils.file_utils import local_file_uri_to_path

    info = mlflow.models.get_model_info(logged["model_uri"])
    where = Path(local_file_uri_to_path(MlflowClient().get_logged_model(info.model_id).artifact_location))
    backup = logged["root"] / "pristine"
    if not backup.exists():
        shutil.copytree(where, backup)
    yield where
    shutil.rmtree(where)
    shutil.copytree(backup, where)


@pytest.mark.parametrize(("relative", "plant", "words"), PLANTED, ids=PLANTED_IDS)
def test_load_model_refuses_a_planted_payload_and_runs_nothing(logged, model_files, tmp_path, relative, plant, words):
    import forecaster

    marker = tmp_path / "pwned"
    (model_files / relative).write_bytes(plant(marker))
    with pytest.raises(ModelFileError, match=re.escape(words)):
        forecaster.load_model(logged["model_uri"])
    assert not marker.exists()


@pytest.mark.parametrize(("relative", "plant", "words"), [PLANTED[0], PLANTED[4]], ids=["state-json", "code-file"])
def test_cli_forecast_refuses_a_planted_payload(logged, model_files, tmp_path, relative, plant, words):
    marker, data, out = tmp_path / "pwned", tmp_path / "weather.csv", tmp_path / "forecast.csv"
    _raw().to_csv(data, index=False)
    # a champion in a shared store, as a scheduled job or an analyst names it
    version = mlflow.register_model(logged["model_uri"], "pyfunc-planted").version
    MlflowClient().set_registered_model_alias("pyfunc-planted", "champion", version)
    (model_files / relative).write_bytes(plant(marker))
    done = subprocess.run(
        [sys.executable, "-m", "forecaster", "forecast", "--model", "models:/pyfunc-planted@champion",
         "--data", str(data), "--output", str(out)], capture_output=True, text=True, env=logged["env"], timeout=300,
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert words in done.stderr and "Traceback" not in done.stderr
    assert not marker.exists() and not out.exists()


def test_a_model_logged_by_another_forecaster_version_is_refused(logged, model_files):
    path = model_files / "MLmodel"
    meta = yaml.safe_load(path.read_text())
    meta["flavors"]["python_function"]["config"]["forecaster_version"] = "0.0.1"
    path.write_text(yaml.safe_dump(meta))
    message = f"this model was logged by forecaster '0.0.1', but forecaster '{__version__}' is installed"
    with pytest.raises(ModelFileError, match=re.escape(message)):
        load_forecaster_from_uri(logged["model_uri"])
    with pytest.raises(Exception, match=re.escape(message)):  # a consumer's pyfunc load, in this process
        mlflow.pyfunc.load_model(logged["model_uri"])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_mlflow_models_serve_answers_a_rest_request(logged):
    port = _free_port()
    mlflow_cli = os.path.join(os.path.dirname(sys.executable), "mlflow")
    server = subprocess.Popen(
        [mlflow_cli, "models", "serve", "-m", logged["model_uri"], "--env-manager", "local",
         "--host", "127.0.0.1", "--port", str(port)],
        # The server runs `uvicorn` by name: the venv's bin directory must be on PATH.
        env={**logged["env"], "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.stderr.read().decode()[-3000:]
            try:
                with urllib.request.urlopen(f"{base}/ping", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            assert time.monotonic() < deadline, "the model server did not answer /ping within 90 s"
            time.sleep(0.5)
        body = json.dumps({"dataframe_split": json.loads(logged["history"].to_json(orient="split"))})
        request = urllib.request.Request(f"{base}/invocations", data=body.encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as reply:
            predictions = pd.DataFrame(json.loads(reply.read())["predictions"])
        assert list(predictions.columns) == COLUMNS
        assert predictions["step"].tolist() == [1, 2, 3]
    finally:
        _stop(server)


def _stop(server: subprocess.Popen) -> None:
    """Stop the server's whole process group (it forks uvicorn), forcefully after 20 s."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, None)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            break
        try:
            server.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    server.stderr.close()


PRE_PACKAGES = Path(__file__).parent / "fixtures" / "pyfunc-0.1.0-before-packages"


def _input_example(model_dir: Path) -> pd.DataFrame:
    example = json.loads((model_dir / "input_example.json").read_text())
    return pd.DataFrame(example["data"], columns=example["columns"])


def test_a_model_logged_before_the_regrouping_still_serves():
    """A model logged by 0.1.0 with the flat top floor (commit fdb6cea): its ``model_code.py`` names
    ``forecaster.tracking.pyfunc_model``, the one module path a logged model stores. MLflow's own
    loader runs that file, and forecaster's loader (which compares it, never runs it) reads the
    saved forecaster: both give the forecast the model gave when it was logged."""
    assert (PRE_PACKAGES / "model_code.py").read_bytes() == MODEL_CODE_FILE.read_bytes()
    expected = pd.read_csv(PRE_PACKAGES.parent / "pyfunc-0.1.0-expected_forecast.csv")
    served = mlflow.pyfunc.load_model(str(PRE_PACKAGES)).predict(_input_example(PRE_PACKAGES))
    ours = load_forecaster_from_uri(str(PRE_PACKAGES)).forecast(_input_example(PRE_PACKAGES))
    for forecast in (served, ours):
        assert forecast["step"].tolist() == expected["step"].tolist()
        for column in ("forecast", "lower", "upper"):
            np.testing.assert_allclose(forecast[column].to_numpy(), expected[column].to_numpy(), rtol=1e-6)


def test_a_known_future_model_serves_from_the_request_timestamps(logged, tmp_path):
    """features.known_future: the pyfunc model (fresh process) and ``forecaster forecast`` compute the
    target steps' calendar from the request's timestamps and the saved frequency, like in-process."""
    raw = _raw()
    model = RNNForecaster(target=["T (degC)"], lookback=LOOKBACK, horizon=HORIZON, units=4, epochs=1, batch_size=64,
                          data=DATA, lag_gradient_every=0, features={"known_future": ["hour_of_day", "day_of_year"]}
                          ).fit(raw.rename(columns={"Date Time": "timestamp"})
                                .assign(timestamp=lambda d: pd.to_datetime(d["timestamp"])))
    saved = model.save(tmp_path / "saved")
    history = raw.iloc[-2 * LOOKBACK - 5:-5].reset_index(drop=True)  # an origin that is not the training end
    expected = model.forecast(history)
    with mlflow.start_run():
        uri = log_forecaster_model(saved, input_example=history)
    info = mlflow.models.get_model_info(uri)
    assert [c.name for c in info.signature.inputs.inputs] == ["Date Time", "T (degC)", "p (mbar)"]
    script = ("import sys, mlflow, pandas as pd\n"
              "history = pd.read_json(sys.stdin, orient='split')\n"
              "mlflow.pyfunc.load_model(sys.argv[1]).predict(history).to_json(sys.argv[2], orient='split')\n")
    done = subprocess.run([sys.executable, "-c", script, uri, str(tmp_path / "served.json")],
                          input=history.to_json(orient="split"), capture_output=True, text=True,
                          env=logged["env"], timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    served = pd.read_json(tmp_path / "served.json", orient="split")
    np.testing.assert_allclose(served["forecast"], expected["forecast"], rtol=1e-5)
    history.to_csv(tmp_path / "history.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "forecaster", "forecast", "--model", str(saved), "--data",
                           str(tmp_path / "history.csv"), "--output", str(tmp_path / "out.csv")],
                          capture_output=True, text=True, env=logged["env"], timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = pd.read_csv(tmp_path / "out.csv")
    assert pd.to_datetime(out["timestamp"]).tolist() == expected["timestamp"].tolist()
    np.testing.assert_allclose(out["forecast"], expected["forecast"], rtol=1e-5)
