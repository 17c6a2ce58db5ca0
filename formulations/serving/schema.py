"""The serving scenario schema: clusters, deployments, applications and their arrivals.

A scenario is a network (nodes, links with optional jitter, a model catalog
whose numbers are inline or come from profiles, as in every network family)
plus what the serving simulator needs:

* ``cloud`` - the node that serves every application's task (the ``cloud``
  policy's target and the repository of the ``placement`` allocation);
* ``deployments`` - model instances per node: replicas, batching (largest
  batch, longest wait, extra time per extra query), queue limit;
* ``applications`` - a task asked at one or more ingresses with a rate each,
  an end-to-end ``deadline``, a ``min_accuracy``, input and result sizes, the
  coefficient of variation of service times and an arrival process
  (``poisson``, ``mmpp``, ``diurnal``, ``schedule`` or ``trace``; an ingress
  may override its application's process, which is how load shifts between
  ingresses);
* ``report_interval`` - how often clusters report their load to the
  ingresses' schedulers (the staleness of what they see; 0 for exact loads).

Example::

    kind: serving
    cloud: cloud
    report_interval: 50 ms
    nodes:
      - {name: cloud, tier: cloud, hardware: h100}
      - {name: edge-1, tier: edge, hardware: t4}
      - {name: access-1, tier: access}
    links:
      - {source: access-1, target: edge-1, latency: 1 ms, bandwidth: 1 Gbit/s, jitter: 0.2 ms}
      - {source: edge-1, target: cloud, latency: 15 ms, bandwidth: 10 Gbit/s}
    models:
      - {name: resnet18, task: classify, accuracy: 0.698, latency: {t4: 2 ms, h100: 0.5 ms}}
    deployments:
      - {node: edge-1, model: resnet18, replicas: 2}
      - {node: cloud, model: resnet18, replicas: 8, batch: 8, max_wait: 2 ms}
    applications:
      - name: ar
        task: classify
        deadline: 25 ms
        min_accuracy: 0.65
        ingresses: [{node: access-1, rate: 400 req/s}]
        arrivals: {process: mmpp, levels: [1, 3], sojourn: [2 s, 200 ms]}
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr

from idnopt.errors import InputError, format_location
from idnopt.instance import Link, Name, NetworkInstance, Problem, Strict, unknown_name
from idnopt.units import Megabytes, Milliseconds, RequestsPerSecond

TRACE_PROCESS = "trace"


class ServingLink(Link):
    """A link with an optional mean jitter (ms, exponential, added on each traversal)."""

    jitter: Annotated[Milliseconds, Field(ge=0)] = 0.0


class PoissonArrivals(Strict):
    """Poisson arrivals at the ingress rates."""

    process: Literal["poisson"] = "poisson"


class MmppArrivals(Strict):
    """Markov-modulated Poisson arrivals: the rate times a level that jumps after sojourns.

    Attributes
    ----------
    levels : list of float
        Rate multiplier of each state (the chain starts in the first).
    sojourn : list of float
        Mean time in each state (ms); the next state is drawn among the others.
    """

    process: Literal["mmpp"]
    levels: list[Annotated[float, Field(ge=0)]] = Field(min_length=2)
    sojourn: list[Annotated[Milliseconds, Field(gt=0)]] = Field(min_length=2)


class DiurnalArrivals(Strict):
    """A sinusoidal rate ``rate * (1 + amplitude * sin(2 pi (t / period - phase)))``."""

    process: Literal["diurnal"]
    amplitude: Annotated[float, Field(ge=0, le=1)] = 0.5
    period: Annotated[Milliseconds, Field(gt=0)] = 86_400_000.0
    phase: float = 0.0


class Step(Strict):
    """From time ``at`` on, the rate is multiplied by ``scale``."""

    at: Annotated[Milliseconds, Field(ge=0)]
    scale: Annotated[float, Field(ge=0)]


class ScheduledArrivals(Strict):
    """Poisson arrivals whose rate is multiplied by piecewise-constant steps."""

    process: Literal["schedule"]
    steps: list[Step] = Field(min_length=1)


class TraceArrivals(Strict):
    """Arrival times replayed from a CSV file (``time`` in ms, ``application``, ``ingress``)."""

    process: Literal["trace"]
    file: str = Field(min_length=1)


Arrivals = Annotated[
    PoissonArrivals | MmppArrivals | DiurnalArrivals | ScheduledArrivals | TraceArrivals,
    Field(discriminator="process"),
]


class Ingress(Strict):
    """Where an application's queries enter, at what rate, optionally with its own process."""

    node: Name
    rate: Annotated[RequestsPerSecond, Field(ge=0)] | None = None
    arrivals: Arrivals | None = None


class Application(Strict):
    """An inference application: one task, its requirements and its demand.

    Attributes
    ----------
    name : str
        Application name (metrics are reported per application).
    task : str
        Task the models must solve.
    deadline : float
        End-to-end deadline in ms (network both ways, waiting and service).
    min_accuracy : float
        Least accuracy of a model whose answers count as accurate.
    input, result : float
        Sizes (MB) of a query and of its answer on the network.
    service_cv : float
        Coefficient of variation of service times (0: deterministic, 1: exponential).
    ingresses : list of Ingress
        Entry nodes and their rates.
    arrivals : Arrivals
        Arrival process of every ingress without its own.
    """

    name: Name
    task: Name
    deadline: Annotated[Milliseconds, Field(gt=0)]
    min_accuracy: Annotated[float, Field(ge=0, le=1)] = 0.0
    input: Annotated[Megabytes, Field(ge=0)] = 0.1
    result: Annotated[Megabytes, Field(ge=0)] = 0.001
    service_cv: Annotated[float, Field(ge=0)] = 0.0
    ingresses: list[Ingress] = Field(min_length=1)
    arrivals: Arrivals = Field(default_factory=PoissonArrivals)


class Deployment(Strict):
    """Replicas of one model at one node, with their batching and queue.

    Attributes
    ----------
    node, model : str
        Where and what.
    replicas : int
        Identical servers.
    batch : int
        Largest batch (1: no batching).
    max_wait : float
        Longest wait (ms) of the oldest query for a batch to fill.
    batch_cost : float
        Extra service time per additional query in a batch, as a fraction of
        the single-query latency.
    queue_limit : int, optional
        Most waiting queries; arrivals beyond are dropped (unlimited when omitted).
    """

    node: Name
    model: Name
    replicas: Annotated[int, Field(ge=1)] = 1
    batch: Annotated[int, Field(ge=1)] = 1
    max_wait: Annotated[Milliseconds, Field(ge=0)] = 0.0
    batch_cost: Annotated[float, Field(ge=0)] = 0.1
    queue_limit: Annotated[int, Field(ge=0)] | None = None


class ServingInstance(NetworkInstance):
    """A serving scenario for the millisecond-scale simulator.

    The ``requests`` list of network instances is not used: demand is given
    per application.
    """

    kind: Literal["serving"]
    cloud: Name
    report_interval: Annotated[Milliseconds, Field(ge=0)] = 50.0
    links: list[ServingLink] = Field(default_factory=list)
    deployments: list[Deployment] = Field(min_length=1)
    applications: list[Application] = Field(min_length=1)

    _folder: Path | None = PrivateAttr(default=None)

    @property
    def folder(self) -> Path | None:
        """Folder of the instance file (where relative trace files are looked up)."""
        return self._folder

    def cross_check(self, *, profiles_resolved: bool = False) -> list[Problem]:
        """Network checks plus cloud, deployment and application checks."""
        problems = super().cross_check()
        if problems:
            return problems
        if self.requests:
            problems.append(
                (
                    ("requests",),
                    "serving scenarios give their demand under 'applications' "
                    "(task, deadline, ingresses with rates); remove 'requests'",
                )
            )
        nodes = {node.name: node for node in self.nodes}
        models = {model.name: model for model in self.models}
        pending = bool(self.profiles) and not profiles_resolved
        if self.cloud not in nodes:
            problems.append((("cloud",), unknown_name("node", self.cloud, nodes)))
        seen: dict[tuple[str, str], int] = {}
        for index, deployment in enumerate(self.deployments):
            where = ("deployments", index)
            if deployment.node not in nodes:
                problems.append((where + ("node",), unknown_name("node", deployment.node, nodes)))
                continue
            if deployment.model not in models:
                problems.append(
                    (where + ("model",), unknown_name("model", deployment.model, models))
                )
                continue
            key = (deployment.node, deployment.model)
            if key in seen:
                problems.append(
                    (
                        where,
                        f"second deployment of {key[1]!r} on {key[0]!r} (first at "
                        f"deployments[{seen[key]}]); raise its replicas instead",
                    )
                )
            seen.setdefault(key, index)
            hardware = nodes[deployment.node].hardware
            if hardware is None:
                problems.append(
                    (
                        where + ("node",),
                        f"node {deployment.node!r} has no hardware to run models on",
                    )
                )
                continue
            if models[deployment.model].latency_on(hardware) is None and not (
                pending and hardware in self.profiles
            ):
                problems.append(
                    (
                        where + ("model",),
                        f"model {deployment.model!r} has no latency on hardware {hardware!r} "
                        f"of node {deployment.node!r}; add it to the model or a profile",
                    )
                )
        problems += self._check_applications(nodes, models, pending)
        return problems

    def _check_applications(self, nodes, models, pending: bool) -> list[Problem]:
        problems: list[Problem] = []
        names: dict[str, int] = {}
        deployed_tasks = {models[d.model].task for d in self.deployments if d.model in models}
        at_cloud = {
            models[d.model].task
            for d in self.deployments
            if d.node == self.cloud and d.model in models
        }
        graph = self.graph()
        for index, application in enumerate(self.applications):
            where = ("applications", index)
            if application.name in names:
                problems.append(
                    (
                        where + ("name",),
                        f"duplicate application name {application.name!r} "
                        f"(first at applications[{names[application.name]}])",
                    )
                )
            names.setdefault(application.name, index)
            if application.task not in deployed_tasks:
                problems.append(
                    (
                        where + ("task",),
                        unknown_name(
                            "task", application.task, deployed_tasks, "no deployment solves"
                        ),
                    )
                )
            elif application.task not in at_cloud and self.cloud in nodes:
                problems.append(
                    (
                        where + ("task",),
                        f"the cloud {self.cloud!r} deploys no model for task "
                        f"{application.task!r}; it must serve every application",
                    )
                )
            if application.min_accuracy > 0 and not pending:
                for d in self.deployments:
                    model = models.get(d.model)
                    if (
                        model is not None
                        and model.task == application.task
                        and (model.accuracy is None)
                    ):
                        problems.append(
                            (
                                where + ("min_accuracy",),
                                f"model {model.name!r} has no accuracy to compare with "
                                "min_accuracy; give it one",
                            )
                        )
                        break
            used: set[str] = set()
            for position, ingress in enumerate(application.ingresses):
                spot = where + ("ingresses", position)
                if ingress.node not in nodes:
                    problems.append((spot + ("node",), unknown_name("node", ingress.node, nodes)))
                    continue
                if ingress.node in used:
                    problems.append((spot + ("node",), f"ingress {ingress.node!r} listed twice"))
                used.add(ingress.node)
                process = (ingress.arrivals or application.arrivals).process
                if ingress.rate is None and process != TRACE_PROCESS:
                    problems.append(
                        (
                            spot + ("rate",),
                            "an ingress needs a rate unless its arrivals replay a trace",
                        )
                    )
                if self.cloud in nodes and not _reaches(graph, ingress.node, self.cloud):
                    problems.append(
                        (
                            spot + ("node",),
                            f"ingress {ingress.node!r} has no route to the cloud {self.cloud!r}",
                        )
                    )
            for process, spot in _processes(application, where):
                if isinstance(process, MmppArrivals) and len(process.levels) != len(
                    process.sojourn
                ):
                    problems.append((spot + ("sojourn",), "give one mean sojourn per level"))
                if isinstance(process, ScheduledArrivals):
                    times = [step.at for step in process.steps]
                    if times != sorted(times):
                        problems.append((spot + ("steps",), "steps must be in increasing time"))
        return problems

    def resolve(self, base: Path | None) -> ServingInstance:
        """Fill numbers from the ``profiles`` files, then check what needed them."""
        resolved = super().resolve(base)
        if self.profiles:
            problems = resolved.cross_check(profiles_resolved=True)
            if problems:
                location, message = problems[0]
                raise InputError(
                    message, location=format_location(location), more=len(problems) - 1
                )
        if resolved is self:
            resolved = self.model_copy()
        resolved._folder = None if base is None else Path(base)
        for index, application in enumerate(resolved.applications):
            for process, spot in _processes(application, ("applications", index)):
                if isinstance(process, TraceArrivals):
                    path = Path(process.file)
                    if not path.is_absolute() and base is not None:
                        path = Path(base) / path
                    if not path.is_file():
                        raise InputError(
                            f"arrival trace {process.file!r} not found (looked in {path.parent})",
                            location=format_location(spot + ("file",)),
                        )
        return resolved


def _processes(application: Application, where: tuple) -> list[tuple[object, tuple]]:
    found = [(application.arrivals, where + ("arrivals",))]
    for position, ingress in enumerate(application.ingresses):
        if ingress.arrivals is not None:
            found.append((ingress.arrivals, where + ("ingresses", position, "arrivals")))
    return found


def _reaches(graph, source: str, target: str) -> bool:
    import networkx as nx

    return source == target or (source in graph and nx.has_path(graph, source, target))


def instance_to_dict(instance: ServingInstance) -> dict:
    """Plain data of a scenario, as written in a file (quantities in base units)."""
    data = instance.model_dump(mode="json", exclude_defaults=True, exclude={"requests"})
    data["kind"] = instance.kind
    for index, application in enumerate(instance.applications):
        # the process name is the discriminator: always written, even at its default
        entry = data["applications"][index]
        entry["arrivals"] = application.arrivals.model_dump(mode="json")
        for position, ingress in enumerate(application.ingresses):
            if ingress.arrivals is not None:
                entry["ingresses"][position]["arrivals"] = ingress.arrivals.model_dump(mode="json")
    order = [
        "kind",
        "name",
        "description",
        "cloud",
        "report_interval",
        "profiles",
        "nodes",
        "links",
        "models",
        "deployments",
        "applications",
    ]
    return {key: data[key] for key in order if key in data}
