"""Tabular Q-learning and the value iteration it is checked against.

:class:`QLearning` is Watkins' Q-learning over a finite state and action set
with epsilon-greedy exploration:

``Q(s, a) <- Q(s, a) + alpha_n(s, a) * (r + discount * max_b Q(s', b) - Q(s, a))``

* **learning rate** - ``alpha_n = 1 / (1 + n) ** learning_decay`` where ``n``
  is the number of earlier updates of ``(s, a)`` (a polynomial rate; for
  ``learning_decay`` in (1/2, 1] it satisfies the Robbins-Monro conditions,
  and Even-Dar & Mansour (JMLR 2003) show it converges faster than ``1/n``),
  or a constant ``learning_rate`` when one is given (tracks a changing
  environment, converges only in mean);
* **exploration** - with probability ``epsilon_t`` a uniformly random
  allowed action, else the greedy one, where ``epsilon_t = final + (initial -
  final) * exp(-t / exploration_steps)`` decays with the number ``t`` of
  decisions taken; ``final > 0`` keeps visiting every pair, which the
  convergence of Q-learning needs;
* **terminal transitions** (``next_state=None``) bootstrap nothing.

With every state-action pair visited infinitely often, ``Q`` converges to the
optimal action values almost surely (Watkins & Dayan 1992), so the greedy
policy becomes optimal; :func:`value_iteration` computes those values for a
known MDP, which is how the tests check the learner.

Schedulers that learn this way discretise what they observe into the states
of such a table.
"""

from __future__ import annotations

import math

import numpy as np


class QLearning:
    """A Q-table learned from transitions, with epsilon-greedy exploration.

    Parameters
    ----------
    states, actions : int
        Sizes of the table.
    discount : float
        Weight of the next state's value, in [0, 1).
    learning_rate : float, optional
        Constant step; ``None`` (default) uses ``1 / (1 + n) ** learning_decay``.
    learning_decay : float
        Exponent of the visit-count step, in (1/2, 1].
    initial_epsilon, final_epsilon : float
        Exploration probability at the start and in the long run.
    exploration_steps : float
        Decisions over which epsilon decays by a factor e towards ``final_epsilon``.
    initial_value : float
        Starting value of every entry (optimistic values explore more).

    Attributes
    ----------
    q_ : numpy.ndarray
        (states, actions) action values.
    visits_ : numpy.ndarray
        (states, actions) updates made to each entry.
    decisions_ : int
        Decisions taken through :meth:`act`.
    """

    def __init__(
        self,
        states: int,
        actions: int,
        *,
        discount: float = 0.9,
        learning_rate: float | None = None,
        learning_decay: float = 0.8,
        initial_epsilon: float = 1.0,
        final_epsilon: float = 0.05,
        exploration_steps: float = 1_000.0,
        initial_value: float = 0.0,
    ) -> None:
        if states < 1 or actions < 1:
            raise ValueError("a Q-table needs at least one state and one action")
        if not 0.0 <= discount < 1.0:
            raise ValueError(f"discount must be in [0, 1), not {discount}")
        if learning_rate is not None and not 0.0 < learning_rate <= 1.0:
            raise ValueError(f"learning_rate must be in (0, 1], not {learning_rate}")
        if not 0.5 < learning_decay <= 1.0:
            raise ValueError(f"learning_decay must be in (0.5, 1], not {learning_decay}")
        if not 0.0 <= final_epsilon <= initial_epsilon <= 1.0:
            raise ValueError("epsilons must satisfy 0 <= final_epsilon <= initial_epsilon <= 1")
        if exploration_steps <= 0:
            raise ValueError("exploration_steps must be positive")
        self.states = int(states)
        self.actions = int(actions)
        self.discount = float(discount)
        self.learning_rate = learning_rate
        self.learning_decay = float(learning_decay)
        self.initial_epsilon = float(initial_epsilon)
        self.final_epsilon = float(final_epsilon)
        self.exploration_steps = float(exploration_steps)
        self.initial_value = float(initial_value)

    def reset(self, rng: np.random.Generator) -> QLearning:
        """Forget everything learned; draw exploration from ``rng``."""
        self.rng_ = rng
        self.q_ = np.full((self.states, self.actions), self.initial_value)
        self.visits_ = np.zeros((self.states, self.actions), dtype=np.int64)
        self.decisions_ = 0
        return self

    def epsilon(self) -> float:
        """Exploration probability of the next decision."""
        decay = math.exp(-self.decisions_ / self.exploration_steps)
        return self.final_epsilon + (self.initial_epsilon - self.final_epsilon) * decay

    def greedy(self, state: int, allowed: np.ndarray | None = None) -> int:
        """The allowed action of highest value in ``state`` (the lowest index among ties)."""
        row = self.q_[state]
        if allowed is None:
            return int(row.argmax())
        return int(allowed[row[allowed].argmax()])

    def act(self, state: int, allowed: np.ndarray | None = None) -> int:
        """An epsilon-greedy action in ``state`` among ``allowed`` (default: all)."""
        epsilon = self.epsilon()
        self.decisions_ += 1
        if self.rng_.random() < epsilon:
            if allowed is None:
                return int(self.rng_.integers(self.actions))
            return int(allowed[self.rng_.integers(len(allowed))])
        return self.greedy(state, allowed)

    def update(
        self,
        state: int,
        action: int,
        reward: float,
        next_state: int | None = None,
        allowed_next: np.ndarray | None = None,
    ) -> float:
        """Learn from one transition; returns the temporal-difference error.

        ``next_state=None`` marks a terminal transition (nothing is bootstrapped).
        """
        target = float(reward)
        if next_state is not None and self.discount > 0:
            row = self.q_[next_state]
            best = row.max() if allowed_next is None else row[allowed_next].max()
            target += self.discount * float(best)
        visits = self.visits_[state, action]
        if self.learning_rate is None:
            step = 1.0 / (1.0 + visits) ** self.learning_decay
        else:
            step = self.learning_rate
        error = target - self.q_[state, action]
        self.q_[state, action] += step * error
        self.visits_[state, action] = visits + 1
        return float(error)

    def policy(self) -> np.ndarray:
        """The greedy action of every state."""
        return self.q_.argmax(axis=1)


def value_iteration(
    transition: np.ndarray,
    reward: np.ndarray,
    discount: float,
    *,
    tolerance: float = 1e-10,
    max_iterations: int = 100_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal action values and policy of a finite MDP.

    Parameters
    ----------
    transition : numpy.ndarray
        (states, actions, states) probabilities ``P(s' | s, a)``; rows sum to 1.
    reward : numpy.ndarray
        (states, actions) expected reward of taking ``a`` in ``s``.
    discount : float
        In [0, 1).
    tolerance : float
        Stop when the values move less than this (sup norm).
    max_iterations : int
        Iteration cap.

    Returns
    -------
    tuple
        ``(q, policy)``: (states, actions) optimal action values and the
        greedy action of each state.

    Raises
    ------
    ValueError
        If the shapes disagree, a row is not a distribution or ``discount`` is out of range.
    """
    transition = np.asarray(transition, dtype=float)
    reward = np.asarray(reward, dtype=float)
    states, actions = reward.shape
    if transition.shape != (states, actions, states):
        raise ValueError(f"transition must be {(states, actions, states)}, not {transition.shape}")
    if not np.allclose(transition.sum(axis=2), 1.0) or (transition < 0).any():
        raise ValueError("every transition row must be a probability distribution")
    if not 0.0 <= discount < 1.0:
        raise ValueError(f"discount must be in [0, 1), not {discount}")
    value = np.zeros(states)
    q = reward.copy()
    for _ in range(max_iterations):
        q = reward + discount * transition @ value
        updated = q.max(axis=1)
        if np.abs(updated - value).max() < tolerance:
            value = updated
            break
        value = updated
    q = reward + discount * transition @ value
    return q, q.argmax(axis=1)
