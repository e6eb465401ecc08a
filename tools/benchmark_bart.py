"""Time our BART's forward pass against 🤗 transformers' on the same weights; write benchmarks/bart.md.

    python -m tools.benchmark_bart [--threads N] [--rounds R] [--min-run-time SECONDS] [--profile]

One model, chapter 9's size: ``Bart`` with d_model 64, 2 encoder + 2 decoder layers, 4 heads,
feed-forward 256, V = 300, 64 positions, on a batch of B = 32 (corrupted input, original) pairs
of lengths about 40 / 40 (between 30 and 40 real tokens, padded on the right, masks on both sides).
Each row runs ours (made by :func:`attnbook.bart.from_huggingface`) and 🤗's
``BartForConditionalGeneration`` with the same weights, the same batch, eval and inference mode and
the same thread count, checks that the logits agree, then times them in alternating rounds
(:func:`tools.benchmark_attention.median_times`). The target is ours ≤ 1.5 × 🤗's time.
``--profile`` prints the costliest operators of both sides, then exits.
"""

from __future__ import annotations

import argparse
import sys

import torch
import transformers

from attnbook.bart import BartConfig, from_huggingface
from tools.benchmark_attention import (
    Comparison,
    check_same_logits,
    compare_with_huggingface,
    huggingface_report,
    without_autograd,
)
from tools.project import ROOT

REPORT = ROOT / "benchmarks" / "bart.md"
TARGET = 1.5  # ours / 🤗, on the CPU
CONFIG = BartConfig(vocab_size=300, d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
                    decoder_attention_heads=4, encoder_ffn_dim=256, decoder_ffn_dim=256, max_position_embeddings=64)
BATCH, SOURCE, TARGET_LENGTH = 32, 40, 40
MODEL = (f"Bart (B={BATCH}, S={SOURCE}, T={TARGET_LENGTH}, D=64, H=4, 2+2 layers, F=256, "
         f"V={CONFIG.vocab_size})")


def _hf_config(config: BartConfig, attention: str) -> transformers.BartConfig:
    return transformers.BartConfig(
        vocab_size=config.vocab_size, d_model=config.d_model, encoder_layers=config.encoder_layers,
        decoder_layers=config.decoder_layers, encoder_attention_heads=config.encoder_attention_heads,
        decoder_attention_heads=config.decoder_attention_heads, encoder_ffn_dim=config.encoder_ffn_dim,
        decoder_ffn_dim=config.decoder_ffn_dim, max_position_embeddings=config.max_position_embeddings,
        dropout=0.0, attn_implementation=attention)


def padded_pairs() -> dict[str, torch.Tensor]:
    """Inputs and decoder inputs (B, ·) with 30 to 40 real tokens each, padded on the right, and their masks."""
    generator = torch.Generator().manual_seed(0)
    batch = {}
    for name, mask_name, length in (("input_ids", "attention_mask", SOURCE),
                                    ("decoder_input_ids", "decoder_attention_mask", TARGET_LENGTH)):
        lengths = torch.randint(30, length + 1, (BATCH,), generator=generator)
        lengths[0] = length
        mask = (torch.arange(length) < lengths[:, None]).long()  # (B, L)
        ids = torch.randint(4, CONFIG.vocab_size, (BATCH, length), generator=generator)
        batch[name] = ids.masked_fill(mask == 0, CONFIG.pad_token_id)
        batch[mask_name] = mask
    batch["decoder_input_ids"][:, 0] = CONFIG.decoder_start_token_id
    return batch


def rows() -> list[Comparison]:
    """With attention weights (🤗 eager) and without (ours fused, 🤗 SDPA)."""
    torch.manual_seed(0)
    eager = transformers.BartForConditionalGeneration(_hf_config(CONFIG, "eager")).eval()
    sdpa = transformers.BartForConditionalGeneration(_hf_config(CONFIG, "sdpa")).eval()
    sdpa.load_state_dict(eager.state_dict())
    ours = from_huggingface(eager)
    batch = padded_pairs()

    def ours_weights():
        return ours(**batch).logits

    def ours_fused():
        return ours(**batch, need_weights=False).logits

    def theirs_weights():
        return eager(**batch, output_attentions=True, use_cache=False).logits

    def theirs_fused():
        return sdpa(**batch, use_cache=False).logits

    pairs = [(ours_weights, theirs_weights), (ours_fused, theirs_fused)]
    check_same_logits(pairs)
    return [Comparison(MODEL, "weights: ours vs 🤗 eager, output_attentions", "forward", *without_autograd(*pairs[0])),
            Comparison(MODEL, "no weights: ours fused vs 🤗 SDPA", "forward", *without_autograd(*pairs[1]))]


def main(argv: list[str] | None = None) -> int:
    return compare_with_huggingface("benchmark_bart", __doc__, rows, report, REPORT, TARGET, argv, profile_rows=rows)


METHOD = [  # what the report says was timed, after the machine and threads
    "- Work: one teacher-forced forward pass of `BartForConditionalGeneration` (encoder, decoder, tied "
    "output layer and `final_logits_bias`) in eval and inference mode, float32, the same weights on both "
    "sides (logits checked equal first), over a batch padded on the right in the encoder and the decoder "
    "(30 to 40 real tokens per row, both masks passed; 🤗 with `use_cache=False`).",
    "- Paths: *weights* = ours returning every layer's attention weights (encoder self, decoder self, "
    "cross) vs 🤗 with `attn_implementation=\"eager\"` and `output_attentions=True`; *no weights* = ours "
    "with `need_weights=False` (`F.scaled_dot_product_attention`) vs 🤗's default "
    "`attn_implementation=\"sdpa\"`.",
]


def report(measured: list, args: argparse.Namespace) -> str:
    title = "BART: our forward pass vs 🤗 transformers'"
    return "\n".join([*huggingface_report(title, "benchmark_bart", args, METHOD, measured, TARGET), COSTS, ""])


COSTS = """\
Where the time goes (`--profile`, one thread, 10 calls per side; single profiles on a shared machine are
noisy, so these are proportions, not timings). Both sides spend most of it in the same operators: the
matrix products of the projections, the feed-forward networks and the tied output layer (`addmm`, `mm`),
GELU, softmax or the fused attention kernel, LayerNorm. What differs:

- *weights*: chapter 5's explicit softmax masks with `torch.where` (the masked scores, then the guard that
  gives zero weights to a query that may attend to nothing) and more head-splitting copies, about a fifth
  of our time; 🤗's eager path adds a float mask to the scores instead.
- *no weights*: both sides call the same kernel (`_scaled_dot_product_flash_attention_for_cpu`) for all
  three attentions; ours passes boolean masks built once per call ((B, 1, 1, S) for the source, the
  causal mask and the decoder's padding as (B, 1, T, T)), 🤗 builds its masks with more operators
  (`bitwise_and`, `where`) and runs more Python per layer."""


if __name__ == "__main__":
    sys.exit(main())
