"""Every rule's conda environment pins the same versions as pyproject.toml, holds what its script
imports, and finds the seedscope package of this checkout without installing it."""

import ast
import importlib.metadata as metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from conftest import DEMO, REPO, snakemake

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


# -- What the scripts import is in their rule's environment ---------------------------------------

RULE = re.compile(r"^rule (\w+):\n((?:[ \t]+.*\n|[ \t]*\n)*)", re.MULTILINE)


def rule_scripts() -> dict[str, tuple[str, Path]]:
    """Rule -> (conda env file name, script) for every rule that runs a script."""
    found = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for match in RULE.finditer(smk.read_text()):
            env = re.search(r'conda:\s*\n\s*"\.\./envs/([\w-]+\.yaml)"', match[2])
            script = re.search(r'script:\s*\n\s*"\.\./scripts/([\w-]+\.py)"', match[2])
            if env and script:
                found[match[1]] = (env[1], REPO / "scripts" / script[1])
    return found


def _module_file(name: str) -> Path | None:
    base = REPO.joinpath(*name.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.exists()), None)


def _imports(nodes, lazy: bool):
    """Absolute import names in ``nodes``; inside functions only when ``lazy``."""
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        if lazy or not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield from _imports(ast.iter_child_nodes(node), lazy)


DEFS = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def third_party_imports(script: Path) -> dict[str, set[str]]:
    """Top-level module -> files importing it, for the script and the seedscope code it runs.

    Follows the import-time imports of every seedscope module the script reaches, and the
    functions and classes the script uses, with the ones they use in turn (by name, within a
    module and through ``from seedscope... import``): their lazy imports run when called. Lazy
    imports in code the script never reaches belong to other rules.
    """
    external: dict[str, set[str]] = {}
    seen, todo = set(), [(script, None)]  # (file, None: its import time | a def in it)
    while todo:
        path, name = todo.pop()
        if path is None or (path, name) in seen:
            continue
        seen.add((path, name))
        tree = ast.parse(path.read_text())
        defs = {node.name: node for node in tree.body if isinstance(node, DEFS)}
        aliases = {  # local name -> (seedscope module, name in it)
            alias.asname or alias.name: (node.module, alias.name)
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.level == 0
            if (node.module or "").split(".")[0] == "seedscope"
            for alias in node.names
        }
        if name is not None and name not in defs and name in aliases:  # a re-export
            module, target = aliases[name]
            todo.append((_module_file(module), target))
        runs = path == script or name is not None  # code that runs, not just defines
        body = tree.body if name is None else [defs[name]] if name in defs else []
        for imported in _imports(body, lazy=runs):
            parts = imported.split(".")
            if parts[0] == "seedscope":  # the module and the packages above it
                todo += [
                    (_module_file(".".join(parts[:i])), None) for i in range(1, len(parts) + 1)
                ]
                if runs and len(parts) > 2 and not _module_file(imported):  # a def, imported
                    todo.append((_module_file(".".join(parts[:-1])), parts[-1]))  # to be used
            elif parts[0] not in sys.stdlib_module_names:
                external.setdefault(parts[0], set()).add(str(path.relative_to(REPO)))
        # names used by code that runs; at import time that is code outside defs (registries)
        walk = body if runs else [n for n in body if not isinstance(n, DEFS)]
        used = {n.id for node in walk for n in ast.walk(node) if isinstance(n, ast.Name)}
        for used_name in used:
            if used_name in defs:
                todo.append((path, used_name))
            elif used_name in aliases:
                module, target = aliases[used_name]
                if not _module_file(f"{module}.{target}"):
                    todo.append((_module_file(module), target))
    return external


def installed_closure(packages: set[str]) -> set[str]:
    """``packages`` and everything they require (without extras), from installed metadata."""
    closure, todo = set(), list(packages)
    while todo:
        name = _name(todo.pop())
        if name in closure:
            continue
        closure.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return closure


SCRIPTS = rule_scripts()


@pytest.mark.parametrize("rule", sorted(SCRIPTS))
def test_rule_env_has_what_its_script_imports(rule):
    env, script = SCRIPTS[rule]
    provided = installed_closure(set(env_pins(REPO / "envs" / env)))
    distributions = metadata.packages_distributions()
    missing = {
        module: sorted(where)
        for module, where in third_party_imports(script).items()
        if not {_name(d) for d in distributions.get(module, [module])} & provided
    }
    assert not missing, f"rule {rule}: envs/{env} lacks what these imports need: {missing}"


def test_the_import_check_sees_lazy_and_transitive_imports():
    # generate_shard.py imports torch only through seedscope; the check must follow it there
    imports = third_party_imports(REPO / "scripts" / "generate_shard.py")
    assert {"torch", "diffusers", "numpy"} <= set(imports)
    assert "seedscope" not in imports and "json" not in imports
    assert "torch" not in installed_closure({"pyyaml"})


def test_scripts_find_seedscope_without_it_being_installed(tmp_path):
    """A conda env has no seedscope: the script preamble Snakemake writes must find this checkout.

    Runs one small rule, keeps Snakemake's generated script, and runs its preamble in an isolated
    interpreter without site-packages (so the editable install is invisible), as a fresh env would.
    """
    probe = "import seedscope, sys; print(seedscope.__file__)\n"
    bare = tmp_path / "bare.py"
    bare.write_text(probe)
    isolated = [sys.executable, "-I", "-S"]  # no site-packages, no PYTHONPATH, no script folder
    assert subprocess.run([*isolated, bare], capture_output=True, cwd=tmp_path).returncode != 0
    target = "results/demo/prompts/synthetic.jsonl"
    snakemake(
        "--configfile", str(DEMO), "--cores", "1", "--skip-script-cleanup", target, cwd=tmp_path
    )
    (kept,) = (tmp_path / ".snakemake" / "scripts").glob("*make_prompt_set.py")
    preamble = kept.read_text().split("######## snakemake preamble end")[0]
    with_preamble = tmp_path / "with_preamble.py"
    with_preamble.write_text(preamble + "\n" + probe)
    result = subprocess.run(
        [*isolated, with_preamble], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert Path(result.stdout.strip()).resolve().is_relative_to(REPO.resolve() / "seedscope")
