"""dimple/sampling.py: token choice and confidence of one decoding iteration."""

import pytest
import torch

from dimple.sampling import choose_tokens


def _general(logits, forbid):
    """The unshortened recipe: rule the forbidden ids out of the logits, softmax again, take the argmax."""
    ruled = logits.clone()
    ruled[:, list(forbid)] = float("-inf")
    x0 = torch.softmax(ruled, dim=-1).argmax(dim=-1)
    return x0


@pytest.mark.parametrize("forbid", [(), (3,), (0, 7, 11)])
def test_greedy_choice_is_the_argmax_with_forbidden_ids_ruled_out(forbid):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 50, generator=g) * 4
    logits[::4, 7] = 30.0  # a forbidden id is the model's favourite in a quarter of the rows
    confidence, x0, probs = choose_tokens(logits, "maskgit_plus", forbid=forbid)
    assert torch.equal(x0, _general(logits, forbid))
    assert not any(int(t) in forbid for t in x0)
    # the score reads the model's own distribution, forbidden mass included
    torch.testing.assert_close(probs, torch.softmax(logits, dim=-1))
    torch.testing.assert_close(confidence, torch.softmax(logits, dim=-1).gather(-1, x0[:, None]).squeeze(-1))


def test_a_filtered_or_sampled_choice_still_takes_the_general_path():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(8, 50, generator=g)
    _, _, probs = choose_tokens(logits, "maskgit_plus", top_k=5, use_original_confidence=False)
    assert int((probs > 0).sum(dim=-1).max()) == 5  # scored on the filtered distribution
    _, x0, _ = choose_tokens(logits, "maskgit_plus", temperature=1.0, forbid=(4,),
                             generator=torch.Generator().manual_seed(2))
    assert 4 not in x0.tolist()
