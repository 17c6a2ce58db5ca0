"""A Gymnasium environment over the fast serving engine: one step per query.

Each step decides the query at the head of the arrivals: the observation is
what its ingress sees (:func:`~idnopt.sim.scheduling.encode_observation`:
per target the estimated backlog, the measured round trip and the service
time, in deadlines of the query's class, then the one-hot class), the action
is a target (a node for ASET, a deployment - tier x model variant - with
``level="deployment"``), and the simulation then runs until the next query
arrives. An episode is one draw of queries; it ends after the last one, once
every query in flight has finished.

Rewards (``reward``):

* ``"predicted"`` (default) - 1 when the query, as dispatched, will be served
  within its deadline by an accurate enough model, judged at dispatch from the
  exact state of its deployment (queries queued there and on their way); a
  later query that overtakes it in the network, or a batch that closes early,
  can make the real outcome differ. Immediate, so each action gets its own
  credit.
* ``"completed"`` - the number of queries whose answers came back on time and
  accurate since the previous step (the realised outcome, delayed);
* ``"response"`` - minus the query's predicted response time plus
  ``accuracy_penalty`` ms per accuracy point below its class's floor
  (:func:`~idnopt.sim.outcome.penalised_response`), in deadlines of its
  class and at most :data:`~idnopt.sim.scheduling.OBSERVATION_CLIP`; a
  query sent where it cannot be served costs the clip. The offloading
  objective: fast answers, accuracy as a soft floor.

Every metric of the simulator uses realised outcomes, whatever the reward.
All randomness comes from the environment's ``np_random``: each episode's
queries are drawn by ``sample(self.np_random)``.

Stable-Baselines3's DQN has no action masking: a target that cannot serve
the query's class is a legal action whose query is dropped (reward 0, or
minus the clip with ``"response"``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from idnopt.sim.fast import Engine
from idnopt.sim.outcome import Outcome, penalised_response
from idnopt.sim.scheduling import (
    OBSERVATION_CLIP,
    SchedulingView,
    cost_reward,
    encode_observation,
    observation_size,
)
from idnopt.sim.system import ServingSystem
from idnopt.sim.workload import Queries

REWARDS = ("predicted", "completed", "response")


class ServingEnv(gym.Env):
    """Per-query scheduling of a :class:`~idnopt.sim.system.ServingSystem`.

    Parameters
    ----------
    system : ServingSystem
        The simulated system (its targets are the actions).
    sample : callable
        ``sample(rng) -> Queries``: one episode's queries, drawn from ``rng``
        (the environment passes its ``np_random``).
    reward : {"predicted", "completed", "response"}
        See the module notes.
    accuracy_penalty : float
        ms per accuracy point below the class's floor (``reward="response"``).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        system: ServingSystem,
        sample: Callable[[np.random.Generator], Queries],
        *,
        reward: str = "predicted",
        accuracy_penalty: float = 0.0,
    ) -> None:
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}, not {reward!r}")
        self.system = system
        self.sample = sample
        self.reward_kind = reward
        self.accuracy_penalty = float(accuracy_penalty)
        self.observation_space = spaces.Box(
            low=0.0,
            high=OBSERVATION_CLIP,
            shape=(observation_size(system),),
            dtype=np.float32,
        )
        self.action_space = spaces.Discrete(system.num_targets)
        self._engine: Engine | None = None
        self._view: SchedulingView | None = None
        self._queries: Queries | None = None
        self._query = 0
        self._completed = 0.0
        self._success = system.deployments.accuracy[None, :] >= (
            system.classes.min_accuracy[:, None] - 1e-12
        )

    def _on_return(self, query: int, success: bool) -> None:
        self._completed += float(success)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Draw a new episode's queries and observe the first one."""
        super().reset(seed=seed)
        for _ in range(100):
            queries = self.sample(self.np_random)
            if len(queries):
                break
        else:
            raise RuntimeError("the environment's sampler drew no query in 100 episodes")
        feedback = self._on_return if self.reward_kind == "completed" else None
        self._engine = Engine(
            self.system,
            queries,
            observe_state=True,
            feedback=feedback,
            track_inflight=self.reward_kind in ("predicted", "response"),
        )
        self._view = SchedulingView(self.system, queries, self._engine)
        self._queries = queries
        self._query = 0
        self._completed = 0.0
        self._engine.advance(float(queries.time[0]))
        return encode_observation(self._view, 0), {"query": 0}

    def step(
        self, action: int | np.integer
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Send the current query to target ``action`` and run to the next query."""
        engine, queries = self._engine, self._queries
        if engine is None or queries is None:
            raise RuntimeError("call reset() before step()")
        query = self._query
        target = int(action)
        klass = int(queries.klass[query])
        index = int(self.system.target_deployment[klass, target])
        reward = 0.0
        classes = self.system.classes
        if self.reward_kind == "response":
            reward = -OBSERVATION_CLIP
        if self.reward_kind != "completed" and index >= 0:
            response = engine.predict_finish(query, index) - queries.time[query]
            if self.reward_kind == "predicted":
                on_time = response <= classes.deadline[klass] + 1e-9
                reward = float(on_time and self._success[klass, index])
            else:
                cost = penalised_response(
                    response,
                    self.system.deployments.accuracy[index],
                    classes.min_accuracy[klass],
                    self.accuracy_penalty,
                )
                reward = cost_reward(cost, classes.deadline[klass])
        engine.dispatch(query, target)
        self._query = query + 1
        terminated = self._query >= len(queries)
        if terminated:
            engine.drain()
            observation = encode_observation(self._view, query)
        else:
            engine.advance(float(queries.time[self._query]))
            observation = encode_observation(self._view, self._query)
        if self.reward_kind == "completed":
            reward, self._completed = self._completed, 0.0
        info = {"query": query, "target": target, "deployment": index}
        if terminated:
            info["summary"] = self.summary()
        return observation, reward, terminated, False, info

    def summary(self) -> dict[str, float]:
        """The episode so far: queries, mean cost and response (ms), accuracy of served ones."""
        outcome, queries = self.outcome, self._queries
        if outcome is None or queries is None:
            return {}
        served = outcome.served
        if not served.any():
            return {"queries": float(len(queries))}
        response = (outcome.finish - queries.time)[served]
        accuracy = self.system.deployments.accuracy[outcome.deployment[served]]
        summary = {"queries": float(len(queries))}
        if self.reward_kind == "response":
            floors = self.system.classes.min_accuracy[queries.klass[served]]
            cost = penalised_response(response, accuracy, floors, self.accuracy_penalty)
            summary["cost_ms"] = float(cost.mean())
        summary["response_ms"] = float(response.mean())
        summary["accuracy"] = float(accuracy.mean())
        return summary

    @property
    def outcome(self) -> Outcome | None:
        """Outcome of the current episode so far (complete once it terminated)."""
        return None if self._engine is None else self._engine.outcome

    @property
    def queries(self) -> Queries | None:
        """Queries of the current episode."""
        return self._queries
