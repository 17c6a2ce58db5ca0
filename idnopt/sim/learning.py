"""Learned schedulers: training with Stable-Baselines3, inference in numpy, policy files.

:func:`train_scheduler` trains DQN (ASET's deep Q-learning) or PPO on a
:class:`~idnopt.sim.env.ServingEnv` and returns a :class:`LearnedScheduler`:
the trained network's weights (the Q-network for DQN, the policy network and
its action head for PPO) evaluated with numpy, so that simulating with a
trained agent needs neither torch nor Stable-Baselines3. At inference the
argmax runs over the targets that can serve the query's class (training has
no mask, see :mod:`~idnopt.sim.env`).

:func:`save_scheduler` writes the weights and what they were trained for
(targets, classes, observation size, algorithm, steps) to one ``.npz`` file,
atomically; :func:`load_scheduler` reads it back and refuses a file trained
for another system's targets or classes.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from idnopt.errors import InputError
from idnopt.sim.engine import SimulationParameters
from idnopt.sim.scheduling import Scheduler, encode_observation, observation_size
from idnopt.sim.system import ServingSystem

ALGORITHMS = ("dqn", "ppo")
ACTIVATIONS = {"relu": lambda x: np.maximum(x, 0.0), "tanh": np.tanh}
FORMAT = "idnopt-scheduler"
VERSION = 1

DQN_DEFAULTS: dict[str, Any] = {
    "learning_rate": 1e-3,
    "buffer_size": 50_000,
    "learning_starts": 1_000,
    "batch_size": 64,
    "gamma": 0.5,
    "train_freq": 4,
    "target_update_interval": 500,
    "exploration_fraction": 0.1,
    "exploration_final_eps": 0.02,
    "policy_kwargs": {"net_arch": [64, 64]},
}
"""DQN settings: per-query rewards are nearly immediate, so a short horizon (gamma 0.5)."""

PPO_DEFAULTS: dict[str, Any] = {
    "learning_rate": 3e-4,
    "n_steps": 1024,
    "batch_size": 128,
    "gamma": 0.5,
    "gae_lambda": 0.9,
    "ent_coef": 0.01,
    "policy_kwargs": {"net_arch": [64, 64]},
}
"""PPO settings, for comparison with DQN on the same environment."""


class LearnedScheduler(Scheduler):
    """A trained network as a scheduler: the best-scoring target that can serve the query.

    Parameters
    ----------
    weights : sequence of (numpy.ndarray, numpy.ndarray)
        ``(W, b)`` of each dense layer, input first; the last gives one score per target.
    activation : {"relu", "tanh"}
        Activation between layers.
    metadata : dict, optional
        What the network was trained for (algorithm, steps, targets, classes).
    """

    name = "aset"
    summary = "trained network (DQN or PPO), numpy inference"
    stateful = True

    def __init__(
        self,
        weights: Sequence[tuple[np.ndarray, np.ndarray]] = (),
        activation: str = "relu",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.weights = weights
        self.activation = activation
        self.metadata = metadata

    def prepare(self) -> None:  # noqa: D102
        system = self.view_.system
        if not self.weights:
            raise ValueError("a learned scheduler needs trained weights")
        check_compatible(self.metadata or {}, system, where="the learned scheduler")
        self.layers_ = [(np.asarray(w, float), np.asarray(b, float)) for w, b in self.weights]
        inputs = self.layers_[0][0].shape[1]
        if inputs != observation_size(system):
            raise ValueError(
                f"the network takes {inputs} inputs; this system's observation has "
                f"{observation_size(system)}"
            )
        self.activate_ = ACTIVATIONS[self.activation]
        self.masks_ = np.where(system.target_deployment >= 0, 0.0, -np.inf)

    def scores(self, observation: np.ndarray) -> np.ndarray:
        """The network's score of every target for one observation."""
        values = np.asarray(observation, dtype=float)
        for weight, bias in self.layers_[:-1]:
            values = self.activate_(weight @ values + bias)
        weight, bias = self.layers_[-1]
        return weight @ values + bias

    def choose(self, query: int) -> int:  # noqa: D102
        view = self.view_
        scores = self.scores(encode_observation(view, query))
        return int(np.argmax(scores + self.masks_[view.queries.klass[query]]))


def check_compatible(metadata: dict[str, Any], system: ServingSystem, *, where: str) -> None:
    """Refuse weights trained for other targets or classes than ``system``'s.

    Raises
    ------
    InputError
        Naming what differs.
    """
    for key, have in (("targets", system.targets), ("classes", system.classes.names)):
        trained = metadata.get(key)
        if trained is not None and tuple(trained) != tuple(have):
            raise InputError(
                f"{where} was trained for {key} {', '.join(trained)}; "
                f"this scenario has {', '.join(have)}"
            )


def _dense_layers(module) -> list[tuple[np.ndarray, np.ndarray]]:
    import torch

    layers = []
    for part in module.modules():
        if isinstance(part, torch.nn.Linear):
            layers.append(
                (part.weight.detach().cpu().numpy().copy(), part.bias.detach().cpu().numpy().copy())
            )
    return layers


def _warm_start(model, weights: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
    """Copy saved Q-network weights into a new DQN model (online and target networks)."""
    import torch

    layers = [m for m in model.q_net.q_net.modules() if isinstance(m, torch.nn.Linear)]
    shapes = [tuple(layer.weight.shape) for layer in layers]
    saved = [tuple(np.shape(weight)) for weight, _ in weights]
    if shapes != saved:
        raise InputError(f"the saved network has layers {saved}; the network to train has {shapes}")
    with torch.no_grad():
        for layer, (weight, bias) in zip(layers, weights):
            layer.weight.copy_(torch.as_tensor(np.asarray(weight), dtype=layer.weight.dtype))
            layer.bias.copy_(torch.as_tensor(np.asarray(bias), dtype=layer.bias.dtype))
    model.q_net_target.load_state_dict(model.q_net.state_dict())


def _extract(model, algorithm: str) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    if algorithm == "dqn":
        return _dense_layers(model.q_net.q_net), "relu"
    policy = model.policy
    layers = _dense_layers(policy.mlp_extractor.policy_net) + _dense_layers(policy.action_net)
    return layers, "tanh"


def train_scheduler(
    make_env: Callable[[], Any],
    system: ServingSystem,
    *,
    algorithm: str = "dqn",
    steps: int = 20_000,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
    settings: dict[str, Any] | None = None,
    initial: LearnedScheduler | None = None,
) -> LearnedScheduler:
    """Train an agent on ``make_env()`` and return it as a scheduler.

    Parameters
    ----------
    make_env : callable
        Builds the :class:`~idnopt.sim.env.ServingEnv` to train on.
    system : ServingSystem
        The environment's system (recorded in the scheduler's metadata).
    algorithm : {"dqn", "ppo"}
        Stable-Baselines3 algorithm.
    steps : int
        Environment steps (queries decided) of training.
    seed : int
        Seed of the algorithm and of the environment.
    progress : callable, optional
        ``progress(fraction)`` during training.
    settings : dict, optional
        Overrides of :data:`DQN_DEFAULTS` or :data:`PPO_DEFAULTS`.
    initial : LearnedScheduler, optional
        A trained DQN scheduler to continue from: its Q-network's weights
        start the new model (exploration, replay buffer and optimiser start
        afresh). PPO cannot continue: its file holds no value network.

    Returns
    -------
    LearnedScheduler
        The trained network with its metadata; ``metadata["curve"]`` has one
        row per training episode (decisions so far, then the environment's
        episode summary: mean response time and accuracy).
    """
    if algorithm not in ALGORITHMS:
        raise InputError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
    import torch
    from stable_baselines3 import DQN, PPO
    from stable_baselines3.common.callbacks import BaseCallback

    torch.set_num_threads(1)
    env = make_env()
    env.reset(seed=seed)
    options = dict(DQN_DEFAULTS if algorithm == "dqn" else PPO_DEFAULTS)
    options.update(settings or {})
    if algorithm == "dqn":
        options["learning_starts"] = min(options["learning_starts"], max(steps // 10, 1))
        model = DQN("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **options)
        if initial is not None:
            _warm_start(model, initial.weights)
    else:
        options["n_steps"] = min(options["n_steps"], max(steps, options["batch_size"]))
        if initial is not None:
            raise InputError(
                "a saved PPO policy cannot be trained further (its file holds no value "
                "network); train from scratch or use it as it is"
            )
        model = PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **options)

    curve: list[dict[str, float]] = []

    class Report(BaseCallback):
        def _on_step(self) -> bool:
            if progress is not None and self.num_timesteps % 500 == 0:
                progress(min(self.num_timesteps / steps, 1.0))
            for info in self.locals.get("infos", ()):
                if info.get("summary"):
                    curve.append({"decisions": float(self.num_timesteps), **info["summary"]})
            return True

    model.learn(total_timesteps=int(steps), callback=Report())
    if progress is not None:
        progress(1.0)
    weights, activation = _extract(model, algorithm)
    metadata = {
        "algorithm": algorithm,
        "steps": int(steps) + int((initial.metadata or {}).get("steps", 0) if initial else 0),
        "seed": int(seed),
        "targets": list(system.targets),
        "classes": list(system.classes.names),
        "level": system.level,
        "observation": observation_size(system),
        "curve": curve,
    }
    return LearnedScheduler(weights=weights, activation=activation, metadata=metadata)


DEFAULT_TRAIN_STEPS = 20_000
"""Decisions of training of a learned policy when neither steps nor a policy file are given."""

TRAINING_SEED_OFFSET = 1_000_003
"""Added to a run's seed for its training episodes (they never replay the measured queries)."""


class LearningParameters(SimulationParameters):
    """Simulation options of a family with learned policies (``idnopt simulate`` flags)."""

    train_steps: int | None = Field(
        None,
        ge=0,
        description="decisions of training of a learned policy (default 20000 unless loaded)",
    )
    save_policy: Path | None = Field(None, description="write the trained policy here")
    load_policy: Path | None = Field(None, description="read the trained policy from this file")
    algorithm: Literal["dqn", "ppo"] = Field(
        "dqn", description="deep learner (ppo: Stable-Baselines3 PPO, for comparison)"
    )
    episode: float = Field(10.0, gt=0, description="seconds of arrivals per training episode")

    def training_steps(self) -> int:
        """Decisions to train: ``train_steps``, else none after a load, else the default."""
        if self.train_steps is not None:
            return self.train_steps
        return 0 if self.load_policy is not None else DEFAULT_TRAIN_STEPS


def obtain_scheduler(
    make_env: Callable[[], Any],
    system: ServingSystem,
    parameters: LearningParameters,
    *,
    policy: str,
    progress: Callable[[float], None] | None = None,
    facts: dict[str, float] | None = None,
) -> LearnedScheduler:
    """A learned scheduler read from ``load_policy``, trained further, saved to ``save_policy``.

    Parameters
    ----------
    make_env, system
        As for :func:`train_scheduler`.
    parameters : LearningParameters
        The run's options: steps (:meth:`LearningParameters.training_steps`;
        with a loaded DQN network, training continues from its weights),
        files, algorithm, and the seed (training uses it plus
        :data:`TRAINING_SEED_OFFSET`).
    policy : str
        The policy's name, for the error when there is nothing to run.
    progress : callable, optional
        ``progress(fraction)`` during training.
    facts : dict, optional
        Receives ``training_seconds`` and ``training_steps`` when it trains.

    Raises
    ------
    InputError
        When there is neither a file to load nor training to do, or the file
        was trained for another system or algorithm.
    """
    import time

    load_policy, algorithm = parameters.load_policy, parameters.algorithm
    steps = parameters.training_steps()
    scheduler = None
    if load_policy is not None:
        scheduler = load_scheduler(load_policy)
        check_compatible(scheduler.metadata or {}, system, where=str(load_policy))
    if steps:
        if scheduler is not None:
            trained = (scheduler.metadata or {}).get("algorithm", algorithm)
            if trained != algorithm:
                raise InputError(
                    f"{load_policy} holds a {trained} policy; it cannot be trained further "
                    f"with {algorithm}",
                    path=load_policy,
                )
        started = time.perf_counter()
        scheduler = train_scheduler(
            make_env,
            system,
            algorithm=algorithm,
            steps=steps,
            seed=parameters.seed + TRAINING_SEED_OFFSET,
            progress=progress,
            initial=scheduler,
        )
        if facts is not None:
            facts["training_seconds"] = time.perf_counter() - started
            facts["training_steps"] = float(steps)
    if scheduler is None:
        raise InputError(f"policy {policy!r} needs train_steps > 0 or a load_policy file")
    if parameters.save_policy is not None:
        save_scheduler(scheduler, parameters.save_policy)
    return scheduler


def save_scheduler(scheduler: LearnedScheduler, path: str | Path) -> Path:
    """Write a learned scheduler to ``path`` (``.npz``), atomically."""
    arrays: dict[str, np.ndarray] = {}
    for index, (weight, bias) in enumerate(scheduler.weights):
        arrays[f"w{index}"] = np.asarray(weight)
        arrays[f"b{index}"] = np.asarray(bias)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "activation": scheduler.activation,
        "layers": len(scheduler.weights),
        "metadata": scheduler.metadata or {},
    }
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    return write_npz(path, **arrays)


def write_npz(path: str | Path, **arrays: np.ndarray) -> Path:
    """Write ``arrays`` to ``path`` (``.npz`` added when missing) atomically; returns the path.

    Raises
    ------
    InputError
        When the folder does not exist.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    if not path.parent.is_dir():
        raise InputError("folder does not exist", path=path.parent)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npz")
    os.close(handle)
    try:
        np.savez(temporary, **arrays)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def load_scheduler(path: str | Path) -> LearnedScheduler:
    """Read a learned scheduler written by :func:`save_scheduler`.

    Raises
    ------
    InputError
        When the file is missing, not a scheduler file or of another version.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("policy file not found", path=path)
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode("utf-8"))
            if header.get("format") != FORMAT:
                raise InputError(
                    f"not an idnopt scheduler file (format {header.get('format')!r})", path=path
                )
            if header.get("version") != VERSION:
                raise InputError(
                    f"scheduler file version {header.get('version')!r}; "
                    f"this idnopt reads version {VERSION}",
                    path=path,
                )
            weights = [
                (data[f"w{index}"].copy(), data[f"b{index}"].copy())
                for index in range(int(header["layers"]))
            ]
    except InputError:
        raise
    except (OSError, ValueError, KeyError) as error:
        raise InputError(f"cannot read the policy file ({error})", path=path) from None
    return LearnedScheduler(
        weights=weights, activation=header["activation"], metadata=header.get("metadata") or {}
    )
