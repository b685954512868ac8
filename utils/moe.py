"""Mixture of experts, small enough to read: a router sends each token to its top-k expert feed-forward blocks."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


class Expert(nn.Module):
    """One feed-forward block, the same shape as a dense transformer layer's (SwiGLU, as in Llama and Mixtral)."""

    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.gate = nn.Linear(d_model, d_ff, bias=False)
        self.up = nn.Linear(d_model, d_ff, bias=False)
        self.down = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(nn.functional.silu(self.gate(x)) * self.up(x))


@dataclass
class Routing:
    """What the router did with a batch of tokens."""

    experts: torch.Tensor  # (tokens, top_k) chosen expert ids
    weights: torch.Tensor  # (tokens, top_k) mixing weights, summing to 1 per token
    probs: torch.Tensor  # (tokens, n_experts) the router's softmax

    def share_per_expert(self) -> torch.Tensor:
        """Fraction of token-to-expert assignments each expert received."""
        n = self.probs.shape[1]
        return torch.bincount(self.experts.flatten(), minlength=n).float() / self.experts.numel()

    @property
    def balance_loss(self) -> torch.Tensor:
        """Switch Transformer auxiliary loss: 1.0 when perfectly balanced, larger as tokens crowd onto few experts.

        f_i (share of assignments to expert i) times P_i (mean router probability for i), summed, times n: 1 when
        both are uniform (Fedus et al. 2021, Switch Transformer, eq. 4). Gradients reach the router through P_i."""
        return self.probs.shape[1] * (self.share_per_expert() * self.probs.mean(dim=0)).sum()


class MoELayer(nn.Module):
    """A router (one linear layer) picks top_k of n_experts per token; the output is their weighted sum."""

    def __init__(self, d_model: int, d_ff: int, n_experts: int = 8, top_k: int = 2):
        super().__init__()
        if not 1 <= top_k <= n_experts:
            raise ValueError(f"top_k must be between 1 and n_experts ({n_experts}), got {top_k}.")
        self.n_experts, self.top_k = n_experts, top_k
        self.router = nn.Linear(d_model, n_experts, bias=False)
        self.experts = nn.ModuleList(Expert(d_model, d_ff) for _ in range(n_experts))

    def route(self, x: torch.Tensor) -> Routing:
        """Router probabilities, each token's top-k experts and weights, and the load-balancing loss."""
        probs = self.router(x).softmax(dim=-1)
        weights, experts = probs.topk(self.top_k, dim=-1)
        return Routing(experts, weights / weights.sum(dim=-1, keepdim=True), probs)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Routing]:
        """x: (tokens, d_model). Each token runs through only its top_k experts."""
        routing = self.route(x)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            token_idx, slot = (routing.experts == e).nonzero(as_tuple=True)
            if len(token_idx):
                out[token_idx] += routing.weights[token_idx, slot, None] * expert(x[token_idx])
        return out, routing

    def parameter_counts(self) -> dict[str, int]:
        """Total parameters, and the parameters one token actually uses (router + top_k experts)."""
        router = sum(p.numel() for p in self.router.parameters())
        per_expert = sum(p.numel() for p in self.experts[0].parameters())
        return {"total": router + self.n_experts * per_expert, "active_per_token": router + self.top_k * per_expert}
