"""The house's rules, checked on the code itself: no package reaches into another's private
modules, one settings schema feeds the CLI, farm.toml and specs, actors stay adapters."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("farm", "actors", "kernels", "catalogs", "benchmarks")


def _modules():
    for top in (*PACKAGES, "tests"):
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield path, ".".join(parts), path.name == "__init__.py"


def _owner(dotted: str) -> str | None:
    """The package that owns ``dotted`` if it names a private module (``a.b._c`` -> ``a.b``)."""
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def _imports(path: Path, module: str, is_package: bool):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # `from pkg import _private_module`
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield node.lineno, f"{target}.{alias.name}"


def test_no_package_imports_another_packages_private_modules():
    ours = set(PACKAGES)
    bad = []
    for path, module, is_package in _modules():
        for line, target in _imports(path, module, is_package):
            if target.split(".")[0] not in ours:
                continue
            owner = _owner(target)
            if owner is None:
                continue
            if module == owner or module.startswith(owner + "."):
                continue
            bad.append(f"{path.relative_to(ROOT)}:{line} imports {target} (private to {owner})")
    assert not bad, "\n".join(bad)


def test_the_boundary_check_can_fail(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("from farm.media._encode import X264_PRESETS\nfrom farm.media import _probe\nimport actors._metrics\n")
    found = [t for _, t in _imports(probe, "farm.render._probe", False) if _owner(t) not in (None, "farm.render")]
    assert found == ["farm.media._encode", "farm.media._probe", "actors._metrics"]


def test_actors_only_adapt_farm_to_ray():
    """An actor imports farm's public packages and its own modules, nothing with logic of
    its own kind: no catalogs (the driver is the only writer), no SQL."""
    for path in (ROOT / "actors").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "import catalogs" not in text and "from catalogs" not in text, path.name
        assert "duckdb" not in text and "SELECT " not in text, path.name


def test_sql_lives_in_catalogs():
    """Statements against the farm's catalog are written in catalogs/ only (the SQLite peer
    of the catalog benchmark speaks to its own database)."""
    offenders = []
    for top in ("farm", "actors", "benchmarks"):
        for path in (ROOT / top).rglob("*.py"):
            if path.name == "catalog.py" and top == "benchmarks":
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if ".execute(" in line or ".sql(" in line:
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


# -- one settings schema ---------------------------------------------------------------------


def test_cli_defaults_and_choices_come_from_the_settings_schema():
    from farm.cli import build_parser
    from farm.settings import SCHEMA, option

    parser = build_parser()
    mashup = parser._subparsers._group_actions[0].choices["mashup"]
    by_dest = {a.dest: a for a in mashup._actions}
    pairs = {"layout": "layout", "fit": "fit", "fade": "fade_s", "music_volume": "music_volume", "fps": "fps",
             "preset": "preset", "crf": "crf", "encoder": "encoder"}
    for dest, key in pairs.items():
        opt = option("render", key)
        assert by_dest[dest].default == opt.default, dest
        if by_dest[dest].choices is not None:
            assert tuple(by_dest[dest].choices) == opt.choices, dest
    assert {o.key for o in SCHEMA["render"]} >= set(pairs.values())


def test_spec_settings_and_farm_toml_share_defaults():
    from farm.jobs import MashupSpec
    from farm.settings import SCHEMA, Settings, config_template

    spec_defaults = {f.name: f.default for f in dataclasses.fields(MashupSpec)}
    settings = Settings()
    template = config_template()
    for section, opts in SCHEMA.items():
        for opt in opts:
            assert getattr(getattr(settings, section), opt.key) == opt.default, (section, opt.key)
            assert f"# {opt.key} = " in template, (section, opt.key)
            if section == "render" and opt.key in spec_defaults:
                assert spec_defaults[opt.key] == opt.default, opt.key


@pytest.mark.parametrize("key,value,message,toml", [
    ("layout", "diagonal", "Invalid layout ('diagonal'). Supported: vertical, horizontal.", "is not allowed"),
    ("fade_s", 11.0, "Invalid fade (11.0). Supported: 0 to 10 seconds.", None),
    ("fade_s", float("nan"), "Invalid fade (nan). Supported: 0 to 10 seconds.", "must be 0 or more"),
    ("crf", 60, "Invalid crf (60). Supported: whole numbers from 0 to 51.", None),
    ("fps", 0, "Invalid fps (0). Supported: whole numbers from 1 to 120.", "must be more than 0"),
    ("preset", "warp", "Invalid preset ('warp'). Supported: ultrafast,", "is not allowed"),
])  # fmt: skip
def test_one_validator_for_specs_and_farm_toml(tmp_path, key, value, message, toml):
    """Specs check every bound; farm.toml checks choices and lower bounds when it is read
    (an upper bound, as before, when a job is made from it)."""
    from farm.errors import InputError
    from farm.jobs import MashupSpec
    from farm.settings import Settings

    with pytest.raises(InputError) as err:
        MashupSpec(mains=("a.mp4",), template="t.mp4", output="o.mp4", **{key: value})
    assert str(err.value).startswith(message)
    path = tmp_path / "farm.toml"
    text = f'"{value}"' if isinstance(value, str) else ("nan" if value != value else repr(value))
    path.write_text(f"[render]\n{key} = {text}\n")
    if toml is None:
        assert getattr(Settings.load(path).render, key) == value
    else:
        with pytest.raises(InputError, match=f"farm.toml: render.{key}.* {toml}"):
            Settings.load(path)
