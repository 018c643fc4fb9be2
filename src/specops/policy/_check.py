"""``check_plan``: the policy step of ``specops plan`` (config -> bundle -> engine -> evaluate).

Policies, configuration and waivers are read from the work tree of the
repository (where CI checked out the reviewed branch), or with
``policy_ref`` from git at that ref: a pull request is then judged by the
policies of the branch it merges into, so it cannot weaken or waive its
way past them in the same change. The desired state they judge is the
estate the plan was made from, handed over by the pipeline (never read again).
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specops._errors import SpecOpsError
from specops._git import GitRepo
from specops.policy._bundle import load_bundle
from specops.policy._config import CONFIG_FILE, PolicyConfig, ProjectConfig, load_config
from specops.policy._context import build_context, load_context
from specops.policy._engine import EmbeddedEngine, PolicyEngine
from specops.policy._evaluate import DecisionCache, evaluate_plan
from specops.policy._model import PolicyReport
from specops.policy._waivers import load_waivers
from specops.spec import Estate

__all__ = ["PolicyOptions", "check_plan", "open_engine"]


@dataclass(slots=True)
class PolicyOptions:
    """What the command line says; ``None`` means "as the project configuration says"."""

    policies: list[str] | None = None
    config: str | None = None
    context: str | None = None
    waivers: str | None = None
    engine: str | None = None
    opa_url: str | None = None
    opa_token_env: str | None = None
    opa_push: bool | None = None
    timeout: float | None = None
    policy_ref: str | None = None  # read policies, configuration and waivers from git at this ref


def open_engine(config: PolicyConfig, options: PolicyOptions, root: Path) -> PolicyEngine | None:
    """The configured engine with the bundle loaded; ``None`` when the project has no policies."""
    explicit = options.policies is not None
    dirs = [Path(p) if Path(p).is_absolute() else root / p for p in (options.policies or config.paths)]
    if not explicit and not any(d.exists() for d in dirs):
        return None
    bundle = load_bundle(dirs, data=config.data, root=root)
    timeout = options.timeout or config.timeout_seconds
    engine_name = options.engine or ("opa" if options.opa_url else config.engine)
    if engine_name == "opa":
        from specops.policy._opa import OpaEngine

        url = options.opa_url or (config.opa.url if config.opa else None)
        if not url:
            raise SpecOpsError("the opa engine needs --opa-url (or policy.opa.url in specops.yaml)")
        token_env = options.opa_token_env or (config.opa.token_env if config.opa else None)
        push = options.opa_push if options.opa_push is not None else (config.opa.push if config.opa else True)
        return OpaEngine(bundle, url, token_env=token_env, push=push, timeout=timeout)
    return EmbeddedEngine(bundle, timeout=timeout)


def check_plan(
    plan: Any,
    options: PolicyOptions,
    *,
    estate: Estate,
    repo: GitRepo | None = None,
    repo_path: Path | str = ".",
    cache: DecisionCache | None = None,
) -> PolicyReport | None:
    """Evaluate the project's policies on ``plan`` (its document, or a ``Plan``) made from ``estate``.

    ``None`` when the project has no policies to evaluate.
    """
    repo = repo or GitRepo.discover(repo_path)
    with ExitStack() as scratch:
        root = repo.workdir
        config_path = Path(options.config) if options.config else None
        source = None
        if options.policy_ref is not None:
            root = Path(scratch.enter_context(tempfile.TemporaryDirectory(prefix="specops-policy-")))
            source = {"ref": options.policy_ref, "commit": _export_policies(repo, options, root)}
            config_path = root / options.config if options.config else None
        report = _check(plan, estate, options, repo, root, config_path, cache)
        if report is not None:
            report.source = source
        return report


def _export_policies(repo: GitRepo, options: PolicyOptions, dest: Path) -> str:
    """Copy what judges a plan (configuration, policy directories, data files, waivers) from git to ``dest``.

    Returns the commit they were read from.
    """
    from specops.policy._files import load_model

    ref = str(options.policy_ref)
    commit = repo.resolve(ref).commit
    for given in (options.config, options.waivers, *(options.policies or [])):
        if given and Path(given).is_absolute():
            raise SpecOpsError(
                f"--policy-ref {ref} reads policies from git, so {given} must be relative to the repository root"
            )
    config_file = options.config or CONFIG_FILE
    repo.export(commit, config_file, dest)
    # The raw configuration: load_config would read the data files, which are not exported yet.
    policy = ProjectConfig().policy
    if (dest / config_file).is_file():
        policy = load_model(dest / config_file, config_file, ProjectConfig, "project configuration")[0].policy
    for relative in [*(options.policies or policy.paths), options.waivers or policy.waivers, *policy.data_files]:
        if relative:
            repo.export(commit, relative, dest)
    return commit


def _check(
    plan: Any,
    estate: Estate,
    options: PolicyOptions,
    repo: GitRepo,
    root: Path,
    config_path: Path | None,
    cache: DecisionCache | None,
) -> PolicyReport | None:
    config, _ = load_config(root, config_path)
    engine = open_engine(config, options, root)
    if engine is None:
        return None
    try:
        waivers_file = options.waivers or config.waivers
        waivers = None
        if waivers_file:
            path = Path(waivers_file)
            path = path if path.is_absolute() else root / path
            waivers = load_waivers(path, _display(path, root))
        context_file = load_context(Path(options.context) if options.context else None)
        context = build_context(plan, repo, context_file)
        return evaluate_plan(
            plan, estate, engine, context,
            enforcement=dict(config.enforcement), waivers=waivers, cache=cache,
        )  # fmt: skip
    finally:
        engine.close()


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
