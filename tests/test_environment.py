"""The install: torchvision really imports, and environment.yml matches pyproject.toml."""

import re
import tomllib
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")  # not on every machine (the GPU image), and only needed here

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}  # PyPI name -> conda-forge name where they differ


def _parse(spec: str) -> tuple[str, str]:
    name, bound = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(.*)", spec.strip()).groups()
    return name.lower(), bound.replace(" ", "")


def test_torchvision_imports_and_its_operators_load():
    import torch
    import torchvision

    boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    keep = torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8]), 0.5)
    assert keep.tolist() == [0]


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_specs = project["dependencies"] + project["optional-dependencies"]["test"]
    expected = {CONDA_NAMES.get(n, n): b for n, b in map(_parse, pip_specs)}
    expected["python"] = project["requires-python"]

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = dict(_parse(d) for d in env["dependencies"] if isinstance(d, str) and d != "pip")
    assert conda == expected


def test_dependencies_are_lower_bounds_not_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + project["optional-dependencies"]["test"]
    assert all(_parse(s)[1].startswith(">=") for s in specs), specs
    torch_bound = dict(map(_parse, specs))["torch"]
    assert torch_bound == ">=2.14"  # anything admitting 2.13 picks a wheel torchvision rejects
