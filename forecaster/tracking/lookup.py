"""Check a ``models:/`` reference against the registry before loading it, naming what exists.

``models:/NAME@ALIAS`` and ``models:/NAME/VERSION`` that point at nothing fail with one line that
lists the registered models with their aliases (or the model's aliases and versions), instead of
MLflow's ``RESOURCE_DOES_NOT_EXIST`` traceback.

Example
-------
>>> parse_models_uri("models:/smoke@champion")
('smoke', 'champion', None)
>>> parse_models_uri("models:/smoke/3")
('smoke', None, '3')
>>> parse_models_uri("runs:/abc/model") is None
True
"""

from __future__ import annotations

import logging

from forecaster.errors import ConfigError

logger = logging.getLogger(__name__)

_PREFIX = "models:/"


def parse_models_uri(uri: str) -> tuple[str, str | None, str | None] | None:
    """``(name, alias, version)`` of a ``models:/`` URI, None for any other reference."""
    if not uri.startswith(_PREFIX):
        return None
    rest = uri[len(_PREFIX):].strip("/")
    if "@" in rest:
        name, alias = rest.rsplit("@", 1)
        return name, alias, None
    if "/" in rest:
        name, version = rest.rsplit("/", 1)
        return name, None, version
    return rest, None, None


def _is_logged_model(client, model_id: str) -> bool:
    """True when ``model_id`` names a logged model of the store (``models:/m-...`` in MLflow 3)."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_logged_model(model_id)
    except MlflowException:
        return False
    return True


def _describe(model) -> str:
    aliases = sorted(getattr(model, "aliases", None) or {})
    return f"{model.name} (aliases: {', '.join('@' + a for a in aliases) or 'none'})"


def check_model_reference(uri: str, tracking_uri: str | None = None, option: str = "--model") -> None:
    """Raise :class:`ConfigError` (exit 2) when a ``models:/`` URI names no model, alias or version.

    Other references (``runs:/``, a directory) are not checked here.
    """
    parsed = parse_models_uri(uri)
    if parsed is None:
        return
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    name, alias, version = parsed
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    store = tracking_uri or client.tracking_uri
    models = list(client.search_registered_models(max_results=1000))
    match = next((m for m in models if m.name == name), None)
    if match is None and alias is None and version is None and _is_logged_model(client, name):
        return  # models:/<model_id>: an MLflow 3 logged model, not a registered name
    if match is None:
        known = "; ".join(_describe(m) for m in sorted(models, key=lambda m: m.name)) or "none"
        raise ConfigError(
            f"{option} {uri!r}: no registered model named {name!r} in the store {store}. "
            f"Registered models: {known}. (Use --tracking-uri or --pipeline to pick another store.)"
        )
    aliases = sorted(getattr(match, "aliases", None) or {})
    if alias is not None and alias not in aliases:
        raise ConfigError(
            f"{option} {uri!r}: model {name!r} has no alias {alias!r}. Its aliases: "
            f"{', '.join('@' + a for a in aliases) or 'none'}; its versions: {_versions(client, name)}."
        )
    if version is not None:
        try:
            client.get_model_version(name, version)
        except MlflowException:
            raise ConfigError(
                f"{option} {uri!r}: model {name!r} has no version {version!r}. Its versions: "
                f"{_versions(client, name)}; its aliases: {', '.join('@' + a for a in aliases) or 'none'}."
            ) from None


def _versions(client, name: str) -> str:
    found = sorted((int(v.version) for v in client.search_model_versions(f"name = '{name}'")), reverse=True)
    return ", ".join(map(str, found)) or "none"


__all__ = ["check_model_reference", "parse_models_uri"]
