"""Time our T5's forward pass against 🤗 transformers' on the same weights; write benchmarks/t5.md.

    python -m tools.benchmark_t5 [--threads N] [--rounds R] [--min-run-time SECONDS]

A chapter-sized T5 (V=250, D=64, Dkv=16, H=4, F=256, 2 encoder + 2 decoder layers, 32 buckets)
on a padded batch of B=32 inputs of up to S=24 tokens and targets of up to T=12. Ours is made
by :func:`attnbook.t5.from_huggingface`; both run in eval and inference mode with the same
thread count, the outputs are checked equal first, then timed in alternating rounds
(:func:`tools.benchmark_attention.median_times`). The target is ours ≤ 1.5 × 🤗's time.
"""

from __future__ import annotations

import argparse
import sys

import torch
import transformers

from attnbook.t5 import T5Config, from_huggingface
from tools.benchmark_attention import (
    Comparison,
    check_same_logits,
    compare_with_huggingface,
    huggingface_report,
    without_autograd,
)
from tools.project import ROOT

REPORT = ROOT / "benchmarks" / "t5.md"
TARGET = 1.5  # ours / 🤗, on the CPU
CONFIG = T5Config(vocab_size=250, d_model=64, d_kv=16, d_ff=256, num_layers=2, num_heads=4)
BATCH, SOURCE, TARGET_LENGTH = 32, 24, 12


def _hf_config(config: T5Config, attention: str) -> transformers.T5Config:
    return transformers.T5Config(
        vocab_size=config.vocab_size, d_model=config.d_model, d_kv=config.d_kv, d_ff=config.d_ff,
        num_layers=config.num_layers, num_heads=config.num_heads, dropout_rate=0.0,
        relative_attention_num_buckets=config.relative_attention_num_buckets,
        relative_attention_max_distance=config.relative_attention_max_distance,
        decoder_start_token_id=0, attn_implementation=attention)


def padded_batch() -> dict[str, torch.Tensor]:
    """Inputs of S/2 … S tokens and targets of T/2 … T (the first row full), padded with 0."""
    generator = torch.Generator().manual_seed(0)
    batch = {}
    for prefix, length in (("", SOURCE), ("decoder_", TARGET_LENGTH)):
        lengths = torch.randint(length // 2, length + 1, (BATCH,), generator=generator)
        lengths[0] = length
        mask = (torch.arange(length) < lengths[:, None]).long()  # (B, L)
        ids = torch.randint(2, CONFIG.vocab_size, (BATCH, length), generator=generator) * mask
        batch[f"{prefix}input_ids"], batch[f"{prefix}attention_mask"] = ids, mask
    batch["decoder_input_ids"][:, 0] = 0  # the start token (pad), a real token
    return batch


def rows() -> list[Comparison]:
    """With attention weights (🤗 eager, output_attentions) and without (ours fused, 🤗 SDPA)."""
    torch.manual_seed(0)
    eager = transformers.T5ForConditionalGeneration(_hf_config(CONFIG, "eager")).eval()
    sdpa = transformers.T5ForConditionalGeneration(_hf_config(CONFIG, "sdpa")).eval()
    sdpa.load_state_dict(eager.state_dict())
    ours = from_huggingface(eager)
    batch = padded_batch()

    def ours_weights():
        return ours(**batch).logits

    def ours_fused():
        return ours(**batch, need_weights=False).logits

    def theirs_weights():
        return eager(**batch, output_attentions=True).logits

    def theirs_fused():
        return sdpa(**batch).logits

    pairs = [(ours_weights, theirs_weights), (ours_fused, theirs_fused)]
    check_same_logits(pairs)
    model = (f"T5 (B={BATCH}, S={SOURCE}, T={TARGET_LENGTH}, D=64, Dkv=16, H=4, F=256, 2+2 layers, "
             f"V={CONFIG.vocab_size})")
    return [Comparison(model, "weights: ours vs 🤗 eager, output_attentions", "forward", *without_autograd(*pairs[0])),
            Comparison(model, "no weights: ours fused vs 🤗 SDPA", "forward", *without_autograd(*pairs[1]))]


def main(argv: list[str] | None = None) -> int:
    return compare_with_huggingface("benchmark_t5", __doc__, rows, report, REPORT, TARGET, argv)


METHOD = [  # what the report says was timed, after the machine and threads
    "- Work: one forward pass (encoder and decoder, logits) of `T5ForConditionalGeneration` in eval and "
    "inference mode, float32, the same weights on both sides (outputs checked equal first), over a padded "
    "batch: inputs of S/2 … S tokens, targets of T/2 … T.",
    "- Paths: *weights* = ours returning every attention weight (encoder self, decoder self, cross) vs 🤗 "
    "with `attn_implementation=\"eager\"` and `output_attentions=True`; *no weights* = ours with "
    "`need_weights=False` (`F.scaled_dot_product_attention`, the position bias passed as a float mask) "
    "vs 🤗's `attn_implementation=\"sdpa\"`.",
]


def report(measured: list, args: argparse.Namespace) -> str:
    title = "T5: our forward pass vs 🤗 transformers'"
    return "\n".join(huggingface_report(title, "benchmark_t5", args, METHOD, measured, TARGET))


if __name__ == "__main__":
    sys.exit(main())
