"""Tabular Q-learning converges to the optimum value iteration computes."""

from __future__ import annotations

import numpy as np
import pytest

from idnopt.online.tabular import QLearning, value_iteration


def random_mdp(seed: int, states: int = 4, actions: int = 3):
    """A random MDP whose optimal actions are separated by a clear margin."""
    rng = np.random.default_rng(seed)
    for _ in range(1000):
        transition = rng.dirichlet(np.ones(states), size=(states, actions))
        reward = rng.uniform(0.0, 1.0, size=(states, actions))
        q, policy = value_iteration(transition, reward, 0.7)
        ordered = np.sort(q, axis=1)
        if (ordered[:, -1] - ordered[:, -2]).min() > 0.1:
            return transition, reward, q, policy
    raise AssertionError("no well-separated MDP drawn")


def learn(transition, reward, discount, steps, seed, noise=0.2):
    """Run Q-learning on the MDP's simulator for ``steps`` transitions."""
    rng = np.random.default_rng(seed)
    states, actions = reward.shape
    learner = QLearning(states, actions, discount=discount, exploration_steps=steps / 5)
    learner.reset(np.random.default_rng(seed + 1))
    state = 0
    for _ in range(steps):
        action = learner.act(state)
        following = int(rng.choice(states, p=transition[state, action]))
        sample = reward[state, action] + noise * rng.standard_normal()
        learner.update(state, action, sample, following)
        state = following
    return learner


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_q_learning_finds_the_optimal_policy_of_value_iteration(seed):
    transition, reward, q_star, policy = random_mdp(seed)
    learner = learn(transition, reward, 0.7, 60_000, seed)
    assert np.array_equal(learner.policy(), policy)
    assert np.abs(learner.q_ - q_star).max() < 0.15 * np.abs(q_star).max()


def test_value_iteration_satisfies_the_bellman_optimality_equation():
    transition, reward, q, _ = random_mdp(5)
    assert np.allclose(q, reward + 0.7 * transition @ q.max(axis=1), atol=1e-8)


def test_value_iteration_on_a_chain_with_a_known_answer():
    # two states; action 1 in state 0 moves to the rewarding absorbing state 1
    transition = np.zeros((2, 2, 2))
    transition[0, 0, 0] = 1.0
    transition[0, 1, 1] = 1.0
    transition[1, :, 1] = 1.0
    reward = np.array([[0.0, 0.0], [1.0, 1.0]])
    q, policy = value_iteration(transition, reward, 0.5)
    assert policy[0] == 1
    assert q[1, 0] == pytest.approx(2.0)  # 1 / (1 - 0.5)
    assert q[0, 1] == pytest.approx(1.0)  # 0.5 * 2


def test_exploration_respects_the_allowed_actions_and_decays():
    learner = QLearning(1, 5, initial_epsilon=1.0, final_epsilon=0.0, exploration_steps=10)
    learner.reset(np.random.default_rng(0))
    allowed = np.array([1, 3])
    picks = {learner.act(0, allowed) for _ in range(200)}
    assert picks <= {1, 3}
    assert learner.epsilon() < 1e-6


def test_a_terminal_transition_bootstraps_nothing():
    learner = QLearning(2, 1, discount=0.9, learning_rate=1.0).reset(np.random.default_rng(0))
    learner.q_[1, 0] = 100.0
    learner.update(0, 0, 1.0, None)
    assert learner.q_[0, 0] == 1.0
    learner.update(0, 0, 1.0, 1)
    assert learner.q_[0, 0] == pytest.approx(91.0)


def test_same_seed_same_table():
    transition, reward, _, _ = random_mdp(0)
    first = learn(transition, reward, 0.7, 2_000, 3)
    second = learn(transition, reward, 0.7, 2_000, 3)
    assert np.array_equal(first.q_, second.q_)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"discount": 1.0},
        {"learning_rate": 0.0},
        {"learning_decay": 0.5},
        {"initial_epsilon": 0.1, "final_epsilon": 0.2},
        {"exploration_steps": 0},
    ],
)
def test_invalid_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        QLearning(2, 2, **kwargs)
