"""Every rule's conda environment pins the same versions as pyproject.toml, so they cannot drift."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import REPO

PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^;\s]+)$")


def _name(package: str) -> str:
    return re.sub(r"[-_.]+", "-", package).lower()


def pins(requirements: list[str], where: str) -> dict[str, str]:
    """Package -> version of requirements that must all be pinned with ``==``."""
    found = {}
    for requirement in requirements:
        match = PIN.match(requirement)
        assert match, f"{where}: {requirement!r} is not pinned with =="
        found[_name(match[1])] = match[2]
    return found


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return pins(requirements, "pyproject.toml")


def env_pins(path: Path) -> dict[str, str]:
    env = yaml.safe_load(path.read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return pins(pip, path.name)


ENVS = sorted((REPO / "envs").glob("*.yaml"))


@pytest.mark.parametrize("env", ENVS, ids=[e.stem for e in ENVS])
def test_env_pins_match_pyproject(env):
    project = pyproject_pins()
    for package, version in env_pins(env).items():
        assert package in project, f"{env.name} pins {package} but pyproject.toml does not"
        assert version == project[package], (
            f"{env.name} pins {package}=={version}, pyproject.toml {project[package]}"
        )
    assert "python=3.11" in yaml.safe_load(env.read_text())["dependencies"]


def test_every_rule_uses_an_existing_env():
    rules = "\n".join(p.read_text() for p in (REPO / "rules").glob("*.smk"))
    named = set(re.findall(r'conda:\s*\n\s*"\.\./envs/([a-z_-]+\.yaml)"', rules))
    assert named, "no rule names a conda environment"
    assert named <= {e.name for e in ENVS}
    assert rules.count("conda:") == len(re.findall(r"^rule \w+:", rules, flags=re.MULTILINE))
