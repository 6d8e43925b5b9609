"""``forecaster ui``: start the MLflow UI on the right store, print links to the runs views, stop cleanly.

The store is ``--tracking-uri``, else the pipeline file's ``tracking.tracking_uri`` (``--pipeline``),
else ``MLFLOW_TRACKING_URI`` or ``./mlflow.db``. Once the server answers, the link to each
experiment's machine-learning runs view (sorted by validation MAE) goes to stdout, one
``<experiment>\\t<url>`` per line; ``--open`` also opens it in a browser. The server's own output
is relayed through logging at debug level, errors as warnings (so ``--log-format json``
stays JSON). Ctrl-C or SIGTERM stops the
server's whole process group and exits 0, with no traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import threading
import time
from typing import Any, Callable

from forecaster.cli.exitcodes import EXIT_OK

logger = logging.getLogger("forecaster.cli")
server_logger = logging.getLogger("forecaster.cli.mlflow_server")

READY_TIMEOUT = 120.0


def run_ui(args: argparse.Namespace, load_config: Callable[..., Any], emit: Callable[[str], None]) -> int:
    from forecaster.tracking import resolve_tracking_uri, ui_command
    from forecaster.tracking.ui import base_url, experiment_links, is_loopback

    experiment = None
    config_uri = None
    if args.pipeline:
        cfg = load_config(args.pipeline, [], None)
        experiment, config_uri = cfg.experiment_name, cfg.tracking.tracking_uri
    uri = resolve_tracking_uri(args.tracking_uri or config_uri)
    if not is_loopback(args.host):
        logger.warning("The MLflow UI has no authentication: anyone who can reach %s:%d can read, change "
                       "and delete runs and registered models. Use --host 127.0.0.1 (the default) or "
                       "put an authenticating proxy in front of it.", args.host, args.port)
    base = base_url(args.host, args.port)
    links = experiment_links(uri, base, experiment)
    if experiment is not None and not links:
        logger.warning("The store %s holds no experiment %r yet: run the pipeline first", uri, experiment)

    command = ui_command(args.host, args.port, tracking_uri=uri)
    # Its own process group, so stopping it reaches the server's workers too (mlflow ui starts
    # uvicorn and job consumers); Ctrl-C or SIGTERM here is forwarded as SIGINT to the group.
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, errors="replace")
    logger.info("Started the MLflow UI at %s on %s (pid %d; Ctrl-C stops it)", base, uri, process.pid)
    logger.debug("MLflow UI command: %s", " ".join(command))
    stopping = threading.Event()
    relay = threading.Thread(target=_relay, args=(process.stdout, stopping), daemon=True)
    relay.start()

    def _interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        if _wait_ready(process, base):
            for link in links:
                emit(f"{link.name}\t{link.url}")
            target = links[0].url if len(links) == 1 else base
            logger.info("MLflow UI ready: %s%s%s", target,
                        "" if len(links) < 2 else f" ({len(links)} experiments, links on stdout)",
                        "" if args.open else " (--open opens it in a web browser)")
            if args.open:
                import webbrowser

                if not webbrowser.open(target):
                    logger.warning("No web browser found to open %s", target)
        code = process.wait()
        if code != 0:
            logger.error("The MLflow UI exited with code %d (its output is above)", code)
        return code
    except KeyboardInterrupt:
        stopping.set()
        _stop_group(process)
        logger.info("Stopped the MLflow UI")
        return EXIT_OK
    finally:
        signal.signal(signal.SIGTERM, previous)
        relay.join(timeout=2)


def _relay(stream: Any, stopping: threading.Event) -> None:
    """Log each line the server prints: at debug level (start-up and access lines), as a warning
    when it reports an error, and at debug level again once it is being stopped (shutdown chatter)."""
    for line in stream:
        text = line.rstrip()
        if not text:
            continue
        alarming = any(word in text for word in ("ERROR", "Traceback", "Error:", "CRITICAL"))
        level = logging.WARNING if alarming and not stopping.is_set() else logging.DEBUG
        server_logger.log(level, "%s", text)


def _wait_ready(process: subprocess.Popen, base: str) -> bool:
    """Poll ``<base>/health`` until it answers; False when the server exits or times out."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    if process.poll() is None:
        logger.warning("The MLflow UI did not answer on %s within %.0f s", base, READY_TIMEOUT)
    return False


def _stop_group(process: Any) -> None:
    """Stop a child's whole process group: SIGINT, then SIGTERM, then SIGKILL, each with a grace
    period. The group is the child's own (``start_new_session``), never this process's."""
    for sig, grace in ((signal.SIGINT, 15.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            process.poll()  # reap the leader, or its zombie keeps the group "alive"
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
    logger.warning("The MLflow UI (process group %d) did not stop", process.pid)
