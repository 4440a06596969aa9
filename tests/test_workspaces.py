"""workspaces: one browser's models and jobs in memory, per token, forgotten when idle or past
the bounds, never while a job runs."""

import torch

from dense_attention.server import workspaces


def test_workspaces_are_per_token_and_forget_old_ones():
    spaces = workspaces.Workspaces(ttl=60, limit=2)
    a, b = spaces.get("a"), spaces.get("b")
    assert a is spaces.get("a") and a is not b and a.models is not b.models
    a.models["m"] = object()
    assert "m" not in b.models
    spaces.get("c")  # over the limit: the least recently used ("b") goes
    assert len(spaces) == 2 and spaces.get("a") is a and spaces.get("b") is not b
    old = spaces.get("old")
    old.touched -= 61
    spaces.get("a")
    assert spaces.get("old") is not old


def test_a_flood_of_empty_sessions_never_evicts_a_workspace_with_models():
    spaces = workspaces.Workspaces(ttl=60, limit=3)
    keeper = spaces.get("keeper")
    keeper.models["m"] = torch.nn.Linear(2, 2)
    for k in range(20):  # cookie-less visits: a new token each
        spaces.get(f"visitor{k}")
    assert len(spaces) == 3 and spaces.get("keeper") is keeper


def test_models_past_the_byte_bound_evict_the_least_recently_used_idle_workspace():
    spaces = workspaces.Workspaces(ttl=60, limit=100, max_model_bytes=6000)
    first, second = spaces.get("first"), spaces.get("second")
    first.models["m"] = torch.nn.Linear(999, 1)  # 1,000 floats: 4,000 bytes
    second.models["m"] = torch.nn.Linear(999, 1)
    assert first.model_bytes() == 4000
    spaces.get("second")  # 8,000 bytes > 6,000: the least recently used holder goes
    assert spaces.get("first") is not first and spaces.get("second") is second
