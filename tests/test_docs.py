"""Structure enforced by tests: every setting, CLI command and error code is documented,
and the README starts with the two commands."""

from __future__ import annotations

import re
from pathlib import Path

import click
from pydantic import BaseModel

from zdrgate import errors
from zdrgate.cli import main
from zdrgate.config import Settings
from zdrgate.policy import Reason
from zdrgate.protocols.errors import ErrorKind

ROOT = Path(__file__).resolve().parents[1]


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def setting_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys.extend(setting_keys(annotation, f"{prefix}{name}."))
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_every_setting_is_documented() -> None:
    doc = read("docs/configuration.md")
    for key in setting_keys(Settings):
        if key == "providers":
            continue
        section, _, name = key.rpartition(".")
        assert f"`{name}`" in doc and f"[{section}]" in doc, key


def commands(group: click.Group, prefix: str = "zdrgate") -> list[str]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.extend(commands(command, f"{prefix} {name}"))
        else:
            found.append(f"{prefix} {name}")
    return found


def test_every_cli_command_is_in_the_readme() -> None:
    readme = read("README.md")
    for command in commands(main):
        assert command in readme, command


def error_codes() -> set[str]:
    codes = {cls.code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.GatewayError) and cls.code}
    for path in (ROOT / "src" / "zdrgate").rglob("*.py"):
        codes.update(re.findall(r'code="([a-z_]+)"', path.read_text(encoding="utf-8")))
        codes.update(re.findall(r'^\s+code = "([a-z_]+)"', path.read_text(encoding="utf-8"), re.M))
    return codes


def test_every_error_code_and_reason_is_documented() -> None:
    doc = read("docs/api.md")
    for code in error_codes() | {k.value for k in ErrorKind} | {r.value for r in Reason}:
        assert f"`{code}`" in doc, code


def test_readme_starts_with_the_two_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", read("README.md"), re.S)
    assert "zdrgate serve" in blocks[0]
    assert blocks[1].strip() == "bash scripts/test"
    assert "bash scripts/test" in read(".ci/run")


def test_every_toml_example_in_the_docs_is_a_valid_config() -> None:
    """The config examples in README.md and docs/ are what the gateway accepts."""
    import tomllib  # noqa: PLC0415

    from zdrgate.config import parse_settings  # noqa: PLC0415

    examples = 0
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"```toml\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
            parse_settings(tomllib.loads(block), source=path.name)
            examples += 1
    assert examples >= 10
