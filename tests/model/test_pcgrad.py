"""PCGrad: projection only on conflict, never in place."""

from __future__ import annotations

import pytest
import torch

from plantpulse.model.moe.pcgrad import pcgrad_backward, project_conflicting

pytestmark = pytest.mark.usefixtures("one_thread")


def test_non_conflicting_gradients_are_untouched():
    g1, g2 = torch.tensor([1.0, 2.0, 0.0]), torch.tensor([0.5, 0.0, 3.0])
    out, report = project_conflicting([g1, g2])
    assert report.conflicts == 0
    torch.testing.assert_close(out[0], g1)
    torch.testing.assert_close(out[1], g2)
    assert out[0] is not g1  # new tensors


def test_conflicting_component_is_removed_and_inputs_are_not_mutated():
    g1, g2 = torch.tensor([1.0, 1.0]), torch.tensor([-1.0, 0.0])
    before1, before2 = g1.clone(), g2.clone()
    out, report = project_conflicting([g1, g2])
    assert report.conflicts == 2
    torch.testing.assert_close(out[0], torch.tensor([0.0, 1.0]))  # g1 minus its part along g2
    torch.testing.assert_close(out[1], torch.tensor([-0.5, 0.5]))  # g2 minus its part along g1
    assert torch.dot(out[0], g2) >= -1e-7 and torch.dot(out[1], g1) >= -1e-7
    torch.testing.assert_close(g1, before1)
    torch.testing.assert_close(g2, before2)


def test_three_tasks_only_conflicting_pairs_project(seed):
    g = [torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), torch.tensor([-1.0, 0.0, 1.0])]
    out, report = project_conflicting(g, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out[1], g[1])  # orthogonal to both: untouched
    assert report.conflicts == 2  # (0, 2) and (2, 0)
    assert torch.dot(out[0], g[2]) >= -1e-7


def test_pcgrad_backward_sets_parameter_grads(seed):
    w = torch.nn.Parameter(torch.tensor([1.0, 1.0]))
    l1 = (w * torch.tensor([1.0, 1.0])).sum()  # grad (1, 1)
    l2 = (w * torch.tensor([-1.0, 0.0])).sum()  # grad (-1, 0): conflicts
    report = pcgrad_backward([l1, l2], [w])
    assert report.conflicts == 2
    torch.testing.assert_close(w.grad, torch.tensor([-0.5, 1.5]))
