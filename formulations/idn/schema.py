"""The IDN instance schema and its cross-checks (see ``THEORY.md`` for the model)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import networkx as nx
from pydantic import Field

from idnopt.errors import InputError, format_location
from idnopt.instance import NetworkInstance, Problem, unknown_name


class IdnInstance(NetworkInstance):
    """An inference delivery network: nodes with model-memory budgets and a repository.

    Attributes
    ----------
    repository : str
        The node that always hosts a model for every task (usually the cloud).
    alpha : float
        Weight of the accuracy loss in the cost, in ms per unit of accuracy
        (cost = 2·path latency + inference latency + alpha·(1 − accuracy)); at most 1e9.
    capacity : {"per_request", "shared"}
        ``per_request``: each request class sees a server's full throughput (the
        paper's gain); ``shared``: request classes share it (flow model).
    repository_models : list of str, optional
        Models the repository hosts (default: every model it has a latency for).
    """

    kind: Literal["idn"]
    repository: str
    alpha: float = Field(default=0.0, ge=0, le=1e9)
    capacity: Literal["per_request", "shared"] = "per_request"
    repository_models: list[str] | None = None

    def cross_check(self, *, profiles_resolved: bool = False) -> list[Problem]:
        """Network checks plus repository, model and reachability checks.

        Numbers that the ``profiles`` section supplies (memory, accuracy, the
        repository hardware's latencies) are checked by :meth:`resolve` once the
        profiles are read (``profiles_resolved=True``), not before.

        Parameters
        ----------
        profiles_resolved : bool
            Whether the numbers of the ``profiles`` section are already filled in.

        Returns
        -------
        list of Problem
            (location, message) pairs; empty when the instance is consistent.
        """
        problems = super().cross_check()
        if problems:
            return problems
        pending = bool(self.profiles) and not profiles_resolved
        nodes = {node.name: node for node in self.nodes}
        if self.repository not in nodes:
            return [(("repository",), unknown_name("node", self.repository, nodes))]
        for index, model in enumerate(self.models if not pending else []):
            if model.memory is None:
                problems.append(
                    (("models", index, "memory"), f"model {model.name!r} needs a memory size (MB)")
                )
            if model.accuracy is None:
                problems.append(
                    (
                        ("models", index, "accuracy"),
                        f"model {model.name!r} needs an accuracy in [0, 1]",
                    )
                )
        for index, node in enumerate(self.nodes):
            if node.name != self.repository and node.memory > 0 and node.hardware is None:
                problems.append(
                    (
                        ("nodes", index, "hardware"),
                        f"node {node.name!r} has a memory budget but no hardware to run models on",
                    )
                )
        repository = nodes[self.repository]
        if repository.hardware is None:
            problems.append(
                (
                    ("nodes", self.node_names.index(self.repository), "hardware"),
                    "the repository needs a hardware name to run its models",
                )
            )
            return problems
        latencies_pending = pending and repository.hardware in self.profiles
        hosted = self.hosted_by_repository()
        for index, name in enumerate(self.repository_models or []):
            model = next((m for m in self.models if m.name == name), None)
            if model is None:
                problems.append(
                    (("repository_models", index), unknown_name("model", name, self.model_names))
                )
            elif model.latency_on(repository.hardware) is None and not latencies_pending:
                problems.append(
                    (
                        ("repository_models", index),
                        f"model {name!r} has no latency on the repository's hardware "
                        f"{repository.hardware!r}; add it to the model's latency or a profile",
                    )
                )
        tasks_at_repository = {m.task for m in self.models if m.name in hosted}
        graph = self.graph()
        for index, request in enumerate(self.requests):
            if request.task not in tasks_at_repository and not latencies_pending:
                problems.append(
                    (
                        ("requests", index, "task"),
                        f"no model for task {request.task!r} runs at the repository "
                        f"{self.repository!r}; the repository must serve every task",
                    )
                )
            if request.path is None and not nx.has_path(graph, request.ingress, self.repository):
                problems.append(
                    (
                        ("requests", index, "ingress"),
                        f"ingress {request.ingress!r} has no route to the repository "
                        f"{self.repository!r}; add a link or give an explicit path",
                    )
                )
            if request.path is not None and request.path[-1] != self.repository:
                problems.append(
                    (
                        ("requests", index, "path"),
                        f"path must end at the repository {self.repository!r}",
                    )
                )
        return problems

    def resolve(self, base: Path | None) -> IdnInstance:
        """Fill numbers from the ``profiles`` files, then check what needed them.

        Parameters
        ----------
        base : Path, optional
            Folder that relative profile paths are relative to.

        Returns
        -------
        IdnInstance
            The instance with the profiled numbers filled in.

        Raises
        ------
        InputError
            On the first problem the profiled numbers reveal.
        """
        resolved = super().resolve(base)
        if self.profiles:
            problems = resolved.cross_check(profiles_resolved=True)
            if problems:
                location, message = problems[0]
                raise InputError(
                    message, location=format_location(location), more=len(problems) - 1
                )
        return resolved

    def hosted_by_repository(self) -> list[str]:
        """Names of the models the repository hosts."""
        hardware = next(n.hardware for n in self.nodes if n.name == self.repository)
        if self.repository_models is not None:
            return list(self.repository_models)
        return [m.name for m in self.models if hardware and m.latency_on(hardware) is not None]
