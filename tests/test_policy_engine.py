"""The embedded engine is prepared once per process and bundle, and each engine is its own."""

from __future__ import annotations

import threading
from pathlib import Path

import orjson
import pytest

from specops.policy import _engine
from specops.policy._bundle import PolicyLoadError, load_bundle
from specops.policy._engine import EmbeddedEngine, PolicyEngineError


def write_policy(directory: Path, name: str, body: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_text(
        f"# METADATA\n# title: Test rule\n# custom:\n#   id: T-{name[:4]}\n#   severity: low\n"
        f"package test.{name.removesuffix('.rego')}\n\nimport rego.v1\n\n{body}\n",
        encoding="utf-8",
    )


def count_prepares(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = _engine._prepare

    def counting(bundle: object) -> object:
        calls.append(getattr(bundle, "hash", ""))
        return real(bundle)  # type: ignore[arg-type]

    monkeypatch.setattr(_engine, "_prepare", counting)
    return calls


def test_a_bundle_is_parsed_once_and_engines_do_not_share_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_policy(tmp_path / "p", "echo.rego", 'deny contains sprintf("saw %v", [input.n]) if input.n > 1')
    bundle = load_bundle([tmp_path / "p"], root=tmp_path)
    calls = count_prepares(monkeypatch)
    first, second = EmbeddedEngine(bundle), EmbeddedEngine(bundle)
    assert calls == [bundle.hash]
    # Interleaved: an input set on one engine never answers for the other.
    assert first.evaluate(orjson.dumps({"n": 2}))["test.echo"]["deny"] == ["saw 2"]
    assert second.evaluate(orjson.dumps({"n": 1}))["test.echo"]["deny"] == []
    assert first.evaluate(orjson.dumps({"n": 3}))["test.echo"]["deny"] == ["saw 3"]
    # Another bundle (a changed source) is prepared on its own.
    write_policy(tmp_path / "p", "echo.rego", 'deny contains sprintf("now %v", [input.n]) if input.n > 1')
    changed = load_bundle([tmp_path / "p"], root=tmp_path)
    assert EmbeddedEngine(changed).evaluate(orjson.dumps({"n": 2}))["test.echo"]["deny"] == ["now 2"]
    assert calls == [bundle.hash, changed.hash]


def test_a_bundle_that_fails_to_load_fails_every_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_policy(tmp_path / "p", "nope.rego", 'deny contains msg if {\n\tinput.never\n\tmsg := crypto.x509.parse_and_verify_certificates("x")\n}')
    bundle = load_bundle([tmp_path / "p"], root=tmp_path)
    calls = count_prepares(monkeypatch)
    for _ in range(2):
        with pytest.raises(PolicyLoadError, match=r"crypto\.x509"):
            EmbeddedEngine(bundle)
    assert len(calls) == 2


def test_a_runtime_error_in_a_cloned_engine_still_fails_closed(tmp_path: Path) -> None:
    write_policy(tmp_path / "p", "div.rego", 'deny contains "never" if { 1 / input.zero == 1 }')
    bundle = load_bundle([tmp_path / "p"], root=tmp_path)
    EmbeddedEngine(bundle)  # prepares it
    with pytest.raises(PolicyEngineError, match="divide by zero"):
        EmbeddedEngine(bundle).evaluate(orjson.dumps({"zero": 0}))


def test_each_thread_prepares_its_own_engine_and_a_borrowed_one_denies(tmp_path: Path) -> None:
    """regorus engines panic when used from another thread: each thread gets its own prepared
    engine, and an engine handed to another thread fails closed with a message, not a panic."""
    write_policy(tmp_path / "p", "echo.rego", 'deny contains sprintf("saw %v", [input.n]) if input.n > 1')
    bundle = load_bundle([tmp_path / "p"], root=tmp_path)
    here = EmbeddedEngine(bundle)
    seen: dict[str, object] = {}

    def elsewhere() -> None:
        seen["own"] = EmbeddedEngine(bundle).evaluate(orjson.dumps({"n": 2}))["test.echo"]["deny"]
        try:
            here.evaluate(orjson.dumps({"n": 2}))
        except PolicyEngineError as exc:
            seen["borrowed"] = str(exc)

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join()
    assert seen["own"] == ["saw 2"]
    assert "made in another thread" in str(seen["borrowed"])
    assert here.evaluate(orjson.dumps({"n": 3}))["test.echo"]["deny"] == ["saw 3"]
