"""The lessons as data: one record a lesson, in the order the Lessons panel shows them.

Owns what each lesson says and runs: its example (image, question, template),
the runs it compares (each a set of decoding settings over the model's
defaults; the second may be a branch of the first), its two or three sentences, the prediction it asks for with its
choices, and its "why" texts, one per outcome. It holds no numbers about the
model: every number a lesson shows is read from its runs, and which choice is
right and which "why" is shown are decided by comparing the runs
(app/lessons/logic.py, the JUDGES table). It knows nothing of Gradio or of
the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The runs' names: `first` is always the baseline, `second` the variation the lesson is about.
FASTER, SAME, SLOWER = "fewer", "the same", "more"
PASS_CHOICES = (FASTER, SAME, SLOWER)


@dataclass(frozen=True)
class Lesson:
    key: str  # stable name (tests, logs)
    title: str  # shown after "Lesson N:"
    image: str  # a file of assets/examples
    question: str  # what is asked about it
    explain: str  # two or three sentences, before the prediction
    predict: str  # the question the viewer answers before the run
    choices: tuple[str, ...]  # the offered answers; the judge names the right one from the runs
    judge: str  # key of logic.JUDGES: compares the runs -> (right choice, why key)
    runs: tuple[tuple[str, dict], ...]  # (label, settings over the model's defaults); the first is the baseline
    why: dict = field(default_factory=dict)  # why key -> text with {placeholders} filled from the runs' facts
    template: str = ""  # a structure prior for the second run ("" = none)
    branch_after: int = 0  # > 0: the second run is a branch of the first, from its canvas after this many passes


LESSONS: tuple[Lesson, ...] = (
    Lesson(
        key="canvas", title="The masked canvas",
        image="objects_0.png", question="Describe the image.",
        explain="The answer starts as a row of masked slots, all of them at once. The model reads the picture, the "
                "question and every slot together (its attention is bidirectional: each slot sees the slots to its "
                "right too), and each forward pass commits the slots it is sure of.",
        predict="In the first forward pass, which slots get committed?",
        choices=("only the first one, as a chatbot writes", "slots anywhere in the answer, several at once"),
        judge="first_pass",
        runs=(("threshold 0.9", {}),),
        why={"anywhere": "The first pass committed {first_count} slot(s) at once, the furthest at position "
                         "{first_last} of {length}: nothing forced it to go left to right. The whole answer took "
                         "{a_nfe} forward passes.",
             "left": "This time the first pass committed only the leftmost slot: the model was sure of nothing "
                     "else yet. The whole answer took {a_nfe} forward passes."},
    ),
    Lesson(
        key="threshold", title="Confident decoding and the threshold",
        image="objects_0.png", question="Describe the image.",
        explain="Each pass commits every masked slot whose confidence (the probability of its best token) is above "
                "the threshold; if none is, a schedule picks a few. A lower threshold lets more slots through per "
                "pass.",
        predict="At threshold 0.5, how many forward passes will the answer take, compared with threshold 0.9?",
        choices=PASS_CHOICES, judge="passes",
        runs=(("threshold 0.9", {"alg_p_threshold": 0.9}), ("threshold 0.5", {"alg_p_threshold": 0.5})),
        why={FASTER: "At 0.5 more slots cleared the bar in each pass: {b_nfe} passes against {a_nfe} "
                     "({b_tpf} tokens per pass against {a_tpf}).",
             SAME: "Both took {a_nfe} passes: every slot the model committed was already above 0.9 when it was "
                   "committed, so lowering the bar let nothing through earlier.",
             SLOWER: "At 0.5 it took {b_nfe} passes against {a_nfe}: an early commit at the lower bar changed what "
                     "the other slots expected, and they needed longer to settle."},
    ),
    Lesson(
        key="at_once", title="Why not commit everything at once?",
        image="objects_0.png", question="Describe the image.",
        explain="One pass could fill every slot with its best guess. But each slot guesses on its own: where an "
                "answer can be said in several forms (another object order, another wording), slot 3 may pick one "
                "form and slot 7 another.",
        predict="With a single forward pass (every slot committed at once), will the answer be the same as with "
                "confident decoding?",
        choices=("the same answer", "a different answer"), judge="same_text",
        runs=(("confident decoding", {}), ("everything in one pass", {"steps": 1})),
        why={"same": "The same: \u201c{a_text}\u201d. Confident decoding took {a_nfe} passes here, and the one "
                     "pass's best guesses at every slot already belonged to one form of the answer.",
             "different": "One pass gave \u201c{b_text}\u201d; confident decoding, in {a_nfe} passes, gave "
                          "\u201c{a_text}\u201d. Committing only the sure slots lets each later pass see them and "
                          "keep to one form."},
    ),
    Lesson(
        key="prefill", title="Prefilling: speed against exactness",
        image="objects_0.png", question="Describe the image.",
        explain="The prompt (picture and question) is the longest part of the input and never changes. Prefilling "
                "keeps its keys and values from the first pass and feeds only the answer afterwards. It is an "
                "approximation: the kept prompt saw an all-mask answer. Here the schedule alone decides (threshold "
                "off, 8 steps), so there are several passes to save.",
        predict="With prefilling on, will the answer be the same as with prefilling off?",
        choices=("the same answer", "a different answer"), judge="prefill",
        runs=(("prefilling off", {"prefill": False, "alg_p_threshold": 0.0, "steps": 8}),
              ("prefilling on", {"prefill": True, "alg_p_threshold": 0.0, "steps": 8})),
        why={"same": "The same answer in {b_nfe} passes. {speed}",
             "different": "The answer changed (\u201c{a_text}\u201d without, \u201c{b_text}\u201d with): the cached "
                          "prompt had seen an all-mask answer, and that was enough to tip a slot. {speed}"},
    ),
    Lesson(
        key="structure", title="Structure priors: format and length",
        image="objects_2.png", question="What is at the center?",
        template="Color: <mask:3>. Shape: <mask:3>.<eos>",
        explain="A structure prior writes fixed text into the canvas before decoding: the model only fills the "
                "masked slots between, and the template sets the answer's length. Here: "
                "\u201cColor: \u2592\u2592\u2592. Shape: \u2592\u2592\u2592.\u201d",
        predict="With the template, how many forward passes will the answer take, compared with a free answer?",
        choices=PASS_CHOICES, judge="structure",
        runs=(("free answer", {}), ("with the template", {})),
        why={FASTER: "{b_nfe} passes against {a_nfe}: the template's fixed words were already there, so fewer "
                     "slots ({b_masked} of {b_length}, against {a_length}) were left to decide. Answer: "
                     "\u201c{b_text}\u201d.",
             SAME: "{a_nfe} passes either way; the template left {b_masked} of its {b_length} slots to decide, the "
                   "free answer {a_length}, and the fixed words stayed exactly as written: \u201c{b_text}\u201d.",
             SLOWER: "{b_nfe} passes against {a_nfe}: the fixed words are an unusual frame for this answer, so the "
                     "{b_masked} slots between them took longer to settle. Answer: \u201c{b_text}\u201d."},
    ),
    Lesson(
        key="blocks", title="Blocks against fully parallel decoding",
        image="objects_0.png", question="Describe the image.",
        explain="Semi-autoregressive decoding (LLaDA, MMaDA) cuts the canvas into blocks decoded left to right: "
                "diffusion inside a block, one block after another. A block starts only when the one before it "
                "has no mask left.",
        predict="With blocks of 8 slots, how many forward passes will the answer take, compared with the whole "
                "canvas at once?",
        choices=PASS_CHOICES, judge="passes",
        runs=(("whole canvas", {"max_new_tokens": 24, "steps": 24, "skip_padding": True}),
              ("blocks of 8", {"max_new_tokens": 24, "steps": 24, "skip_padding": True, "block_length": 8})),
        why={FASTER: "Blocks took {b_nfe} passes against {a_nfe}: finishing the left block first settled the rest "
                     "sooner.",
             SAME: "Both took {a_nfe} passes: the answer needed that many passes anyway, and each block was "
                   "finished within them.",
             SLOWER: "Blocks took {b_nfe} passes against {a_nfe}: at least one pass per block with a mask in it "
                     "({b_blocks} blocks needed a pass), because block k+1 waits for block k."},
    ),
    Lesson(
        key="autoregressive", title="Diffusion against one token at a time",
        image="objects_0.png", question="Describe the image.",
        explain="A chatbot writes one token per forward pass, left to right. The same model can decode that way "
                "too (the \u201cautoregressive\u201d order: one slot a pass, the leftmost masked one). Diffusion "
                "may commit many slots in one pass.",
        predict="One token at a time: how many forward passes, compared with confident decoding?",
        choices=PASS_CHOICES, judge="passes",
        runs=(("confident decoding", {"max_new_tokens": 24, "steps": 24, "skip_padding": True}),
              ("one token a pass", {"max_new_tokens": 24, "steps": 24, "skip_padding": True, "alg": "autoregressive",
                                    "alg_p_threshold": 0.0})),
        why={FASTER: "One token a pass took {b_nfe} passes against {a_nfe}: here confident decoding spent passes "
                     "on slots it was unsure of.",
             SAME: "Both took {a_nfe} passes: confident decoding committed about one slot per pass on this answer.",
             SLOWER: "One token a pass took {b_nfe} passes for its {b_tokens} answer tokens; confident decoding "
                     "took {a_nfe} ({a_tpf} tokens per pass): that is the speed-up parallel decoding buys."},
    ),
    Lesson(
        key="branch", title="Branching: the path a decode takes",
        image="objects_0.png", question="Describe the image.",
        explain="A pass never takes back a slot it committed, so each pass narrows what the rest of the answer "
                "can be. The studio can go back to any step and decode on from the canvas as it was there, with "
                "other settings: a branch. Here the first run decodes at threshold 0.9, and the branch takes its "
                "canvas after the first pass and finishes it at threshold 0.5.",
        predict="Will the branch end with the same answer as the run it left?",
        choices=("the same answer", "a different answer"), judge="branch", branch_after=1,
        runs=(("threshold 0.9", {"alg_p_threshold": 0.9}),
              ("branch after pass 1, at 0.5", {"alg_p_threshold": 0.5})),
        why={"same": "The same: \u201c{a_text}\u201d. The branch kept the {b_given} slot(s) that pass 1 had "
                     "committed (the padding after the answer counts) and decided the other {b_masked} in {b_nfe} "
                     "more passes at 0.5, where the original took {a_later} at 0.9: the kept slots had already "
                     "fixed the answer's form.",
             "different": "The branch ended \u201c{b_text}\u201d, the original \u201c{a_text}\u201d. Both share "
                          "the {b_given} slot(s) pass 1 committed (the padding after the answer counts); at 0.5 "
                          "the branch decided the other {b_masked} "
                          "in {b_nfe} more passes (the original took {a_later}), and a slot let through early "
                          "changed what the others expected.",
             "done": "Pass 1 had already committed every slot, so the branch had nothing left to decide: both "
                     "end \u201c{a_text}\u201d. Try it on a question whose answer takes several passes."},
    ),
)
