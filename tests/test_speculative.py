"""Speculative decoding: the rejection rule is exact under masks (a toy model, statistically),
the naive truncation scheme is caught by the same test, greedy speculative output equals
plain greedy output (a tiny random model; the default model under the `model` marker)."""
from __future__ import annotations

import numpy as np
import pytest

import syncode
from syncode.generation import IncompleteGenerationError
from syncode.healing import heal_prompt
from syncode.speculative import Speculation, decode, prompt_lookup, sample, verify
from conftest import tiny_model

# A toy model over 4 tokens: next-token distributions by last token (row 4: the start), a
# different drafter, and a toy grammar (allowed next tokens by last token).
P = np.array([[.1, .2, .3, .4], [.4, .3, .2, .1], [.25, .25, .25, .25], [.7, .1, .1, .1], [.3, .1, .2, .4]])
Q = np.array([[.4, .1, .1, .4], [.1, .1, .1, .7], [.6, .2, .1, .1], [.1, .6, .2, .1], [.1, .5, .1, .3]])
ALLOWED = np.array([[0, 1, 1, 1], [1, 0, 0, 1], [1, 1, 1, 1], [1, 0, 1, 0], [1, 1, 1, 0]], dtype=bool)
SAMPLES = 100_000


def masked(table: np.ndarray, last: int) -> np.ndarray:
    row = np.where(ALLOWED[last], table[last], 0.0)
    return row / row.sum()


MP = np.stack([masked(P, c) for c in range(5)])
MQ = np.stack([masked(Q, c) for c in range(5)])


def exact_pairs() -> np.ndarray:
    """The distribution of the first two tokens under plain masked sampling."""
    first = masked(P, 4)
    return np.array([[first[a] * masked(P, a)[b] for b in range(4)] for a in range(4)])


def speculative_pairs(scheme: str, seed: int = 0) -> np.ndarray:
    """Empirical distribution of the first two tokens, drafting 2 tokens per step."""
    rng = np.random.default_rng(seed)
    counts = np.zeros((4, 4))
    for _ in range(SAMPLES):
        out: list[int] = []
        while len(out) < 2:
            last = out[-1] if out else 4
            draft, q_rows, ctx = [], [], last
            for _ in range(2):
                if scheme == "masked":  # the draft distribution is masked too: drafts are always valid
                    q = MQ[ctx]
                else:  # naive: an unmasked drafter, the draft truncated at its first invalid token
                    q = Q[ctx]
                d = sample(q, rng)
                if not ALLOWED[ctx, d]:
                    break
                draft.append(d)
                q_rows.append(q)
                ctx = d
            contexts = [last] + draft
            p = MP[contexts]
            accepted, token = verify(p, draft, np.stack(q_rows) if q_rows else None, rng)
            out += draft[:accepted] + [token]
        counts[out[0], out[1]] += 1
    return counts / SAMPLES


def total_variation(a: np.ndarray, b: np.ndarray) -> float:
    return 0.5 * float(np.abs(a - b).sum())


def test_speculative_sampling_matches_masked_sampling():
    assert total_variation(speculative_pairs("masked"), exact_pairs()) < 0.01


def test_naive_truncation_is_detected_as_biased():
    assert total_variation(speculative_pairs("naive"), exact_pairs()) > 0.05


def test_note_example_of_the_naive_bias():
    # p' = (.5, .5, 0), unmasked q = (.4, 0, .6): truncation samples (.7, .3), masking q gives (.5, .5).
    rng = np.random.default_rng(1)
    p = np.array([[.5, .5, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    q = np.array([.4, 0.0, .6])
    q_masked = np.array([1.0, 0.0, 0.0])
    naive, exact = np.zeros(3), np.zeros(3)
    for _ in range(50_000):
        if int(rng.choice(3, p=q)) == 2:  # invalid: truncated to an empty draft
            naive[verify(p[:1], [], None, rng)[1]] += 1
        else:
            accepted, token = verify(p, [0], q[None], rng)
            naive[0 if accepted else token] += 1
        accepted, token = verify(p, [0], q_masked[None], rng)
        exact[0 if accepted else token] += 1
    assert abs(naive[0] / naive.sum() - 0.7) < 0.01 and abs(exact[0] / exact.sum() - 0.5) < 0.01


def test_deterministic_drafts_greedy_and_lookup():
    rng = np.random.default_rng(0)
    p = np.eye(4)[[2, 1, 3]]  # greedy targets: 2, then 1, then 3
    assert verify(p, [2, 1], None, rng) == (2, 3)
    assert verify(p, [2, 0], None, rng) == (1, 1)
    assert verify(p, [0, 1], None, rng) == (0, 2)
    assert prompt_lookup([5, 6, 7, 8, 5, 6], ngram=3, k=2) == [7, 8]
    assert prompt_lookup([1, 2, 3], ngram=3, k=2) == []


@pytest.mark.parametrize("speculation", [Speculation(), Speculation(forced=False, ngram=1)], ids=["forced", "lookup"])
def test_greedy_speculative_equals_plain_greedy_tiny_model(speculation):
    model, tok, info = tiny_model()
    c = syncode.compile_grammar(syncode.Grammar.builtin("json"), info)
    ids = tok.encode('Here is {"a": [1, 2], "b": "c"} again: ', add_special_tokens=False)
    plain, _ = decode(model, ids, syncode.GrammarMatcher(c), info, max_new_tokens=30)
    spec, stats = decode(model, ids, syncode.GrammarMatcher(c), info, max_new_tokens=30, speculation=speculation)
    assert spec == plain and stats.forward_passes <= len(plain)
    # and the plain loop equals transformers' generate with the logits processor
    try:
        out = syncode.generate(model, 'Here is {"a": [1, 2], "b": "c"} again: ', tokenizer=tok, chat=False, heal=False,
                               max_new_tokens=30)
        hf = out.token_ids
    except IncompleteGenerationError as exc:
        hf = tok.encode(exc.text, add_special_tokens=False)
    assert info.decode(hf) == info.decode([t for t in plain if t not in info.stop_token_ids])


def test_greedy_with_a_draft_model_equals_plain_greedy():
    """A drafter other than the target: its masked greedy drafts are verified, the output is
    the target's own; the target drafting for itself has every draft accepted."""
    model, tok, info = tiny_model()
    drafter, _, _ = tiny_model(seed=1)
    c = syncode.compile_grammar(syncode.Grammar.builtin("json"), info)
    ids = tok.encode('Data: {"a": [1, 2], "b": "c"} and ', add_special_tokens=False)
    plain, _ = decode(model, ids, syncode.GrammarMatcher(c), info, max_new_tokens=30)
    other = Speculation(draft_model=drafter, forced=False)
    spec, stats = decode(model, ids, syncode.GrammarMatcher(c), info, max_new_tokens=30, speculation=other)
    assert spec == plain and stats.drafted > 0 and stats.accepted < stats.drafted
    itself = Speculation(draft_model=model, forced=False, draft_tokens=3)
    spec, stats = decode(model, ids, syncode.GrammarMatcher(c), info, max_new_tokens=30, speculation=itself)
    assert spec == plain and stats.accepted == stats.drafted > 0 and stats.forward_passes < len(plain) / 2
    try:  # generate(speculative=<a model>) drafts with that model
        text = syncode.generate(model, 'Data: {"a": [1, 2], "b": "c"} and ', tokenizer=tok, chat=False, heal=False,
                                grammar="json", max_new_tokens=30, speculative=drafter).text
    except IncompleteGenerationError as exc:
        text = exc.text
    assert text.encode() == info.decode([t for t in plain if t not in info.stop_token_ids])


def test_sampling_with_a_draft_model_stays_in_the_grammar_and_is_seeded():
    model, tok, info = tiny_model()
    drafter, _, _ = tiny_model(seed=1)
    c = syncode.compile_grammar(syncode.Grammar.builtin("json"), info)
    ids = tok.encode("Data: ", add_special_tokens=False)
    spec = Speculation(draft_model=drafter, forced=False)
    runs = [decode(model, ids, syncode.GrammarMatcher(c), info, max_new_tokens=25, temperature=1.0, seed=s,
                   speculation=spec)[0] for s in (7, 7, 8)]
    assert runs[0] == runs[1] != runs[2]
    for run in runs:
        m = syncode.GrammarMatcher(c)
        assert all(m.accept_token(t) for t in run)


def test_generate_heals_a_raw_prompt_and_leaves_the_healed_bytes_out():
    model, tok, info = tiny_model()
    grammar = "start: /[ a-z0-9]+/"
    c = syncode.compile_grammar(syncode.Grammar.from_lark(grammar), info)
    healing = heal_prompt(info, tok.encode("Answer: x = ", add_special_tokens=False), syncode.GrammarMatcher(c))
    assert healing.removed and healing.healed.endswith(b" ")
    out = syncode.generate(model, "Answer: x = ", tokenizer=tok, chat=False, grammar=grammar, max_new_tokens=6)
    full = info.decode(out.token_ids)
    assert full.startswith(healing.healed) and out.text.encode() == full[len(healing.healed):]
    assert out.decode_stats is not None and out.prompt_tokens == len(healing.kept)


# ------------------------------------------------------------------ the embedded default model
PROMPTS = [f"Describe {thing} as a JSON record." for thing in (
    "a cat", "a red car", "a city", "a book", "a planet", "a river", "a teacher", "a song", "a tree", "an apple",
    "a laptop", "a bridge", "a storm", "a museum", "a violin", "a robot", "a mountain", "a bakery", "a train", "a coin")]


@pytest.mark.model
def test_greedy_speculative_equals_plain_greedy_default_model():
    def text(**kwargs) -> str:
        try:
            return syncode.generate(prompt=prompt, grammar="json", max_new_tokens=12, **kwargs).text
        except IncompleteGenerationError as exc:
            return exc.text

    for prompt in PROMPTS:
        assert text(speculative=True) == text(), prompt
