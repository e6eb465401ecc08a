"""Exercises: the checkers readers call and the reference solutions they are checked against.

One module per chapter holds that chapter's references and checkers; the
checkers are re-exported here, so a notebook writes
``from attnbook.exercises import check_softmax``.
"""

from attnbook.exercises.bahdanau import (
    check_additive_scores,
    check_masked_additive_attention,
)
from attnbook.exercises.bart_t5 import (
    check_raw_length_for,
    check_relative_position_bucket,
    check_span_corruption,
    check_text_infilling,
)
from attnbook.exercises.bert import (
    check_mask_tokens,
    check_mlm_loss,
    check_nsp_pairs,
    check_predict_masking,
)
from attnbook.exercises.checking import EXERCISES, ExerciseFailed
from attnbook.exercises.getting_started import check_softmax
from attnbook.exercises.gpt import (
    check_attend_with_cache,
    check_copy_model_perplexity,
    check_padded_next_token_loss,
    check_top_k_probabilities,
    check_top_p_probabilities,
)
from attnbook.exercises.multi_head import check_attention_cost, check_head_contributions
from attnbook.exercises.query_key_value import (
    check_masked_attention,
    check_score_variance,
    check_self_attention_mask,
)
from attnbook.exercises.scaling import (
    check_data_parallel_loss,
    check_rank_batches,
    check_ring_all_reduce,
)
from attnbook.exercises.seq2seq import (
    check_beam_search,
    check_greedy,
    check_padded_cross_entropy,
)
from attnbook.exercises.tokens import check_encode_word, check_merge_step, check_to_jamo
from attnbook.exercises.transformer import (
    check_decoder_masks,
    check_label_smoothed_loss,
    check_transformer_parameter_count,
)

__all__ = [
    "EXERCISES",
    "ExerciseFailed",
    "check_additive_scores",
    "check_attend_with_cache",
    "check_attention_cost",
    "check_beam_search",
    "check_copy_model_perplexity",
    "check_data_parallel_loss",
    "check_decoder_masks",
    "check_encode_word",
    "check_greedy",
    "check_head_contributions",
    "check_label_smoothed_loss",
    "check_mask_tokens",
    "check_masked_additive_attention",
    "check_masked_attention",
    "check_merge_step",
    "check_mlm_loss",
    "check_nsp_pairs",
    "check_padded_cross_entropy",
    "check_padded_next_token_loss",
    "check_predict_masking",
    "check_rank_batches",
    "check_raw_length_for",
    "check_relative_position_bucket",
    "check_ring_all_reduce",
    "check_score_variance",
    "check_self_attention_mask",
    "check_softmax",
    "check_span_corruption",
    "check_text_infilling",
    "check_to_jamo",
    "check_top_k_probabilities",
    "check_top_p_probabilities",
    "check_transformer_parameter_count",
]
