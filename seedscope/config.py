"""Validating a config against ``schemas/config.schema.yaml`` and deriving what the DAG needs.

``validate_config`` fills in the schema's defaults and stops at the first bad key with a message
naming it, its value and what is allowed. The helpers below turn a valid config into seed
blocks and per-model prompt sets, the same way for the Snakefile and the CLI.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from seedscope.errors import ConfigError

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"


def _with_defaults(cls):
    """A validator class that writes each property's default into the instance."""
    validate_properties = cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(cls, {"properties": set_defaults})


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    where = f"config key {_key(error.absolute_path)}"
    if error.validator == "additionalProperties" and isinstance(
        error.schema.get("properties"), dict
    ):
        allowed = ", ".join(sorted(error.schema["properties"]))
        return f"{where}: {error.message}; allowed keys are: {allowed}"
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not allowed; choose one of {error.validator_value}"
    if error.validator == "pattern" and error.validator_value == "^[A-Za-z0-9_-]+$":
        return f"{where}: {error.instance!r} may only contain letters, digits, '_' and '-'"
    return f"{where}: {error.message}"


def load_schema(path: str | Path = SCHEMA) -> dict[str, Any]:
    """The config schema as a dict."""
    return yaml.safe_load(Path(path).read_text())


def run_dir(config: dict[str, Any]) -> str:
    """Where this run's outputs go: ``<results_dir>/<run>``."""
    return f"{config['results_dir']}/{config['run']}"


def captioner_path(config: dict[str, Any]) -> str:
    """The LLaVA model id or folder that captions COCO images."""
    captioner = config["coco"]["captioner"]
    return f"{run_dir(config)}/models/captioner" if captioner["tiny"] else captioner["model"]


def canonical(value: Any) -> Any:
    """``value`` with every dict's keys sorted, recursively.

    Snakemake decides whether params changed by comparing their ``repr``; sorting keys makes
    that independent of the order in which a config file happens to list them.
    """
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def apply_schema(config: dict[str, Any], schema_path: str | Path = SCHEMA) -> dict[str, Any]:
    """Check ``config`` against the schema and fill its defaults (in place); return it.

    Raises ``ConfigError`` naming the first bad key, its value and the allowed values. The
    schema is the one source of every default.
    """
    schema = load_schema(schema_path)
    cls = _with_defaults(jsonschema.validators.validator_for(schema))
    errors = sorted(cls(schema).iter_errors(config), key=lambda e: (len(e.absolute_path), e.path))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise ConfigError(_describe(best) + f"  (schema: {schema_path})")
    return config
