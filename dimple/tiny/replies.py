"""What Dimple-Tiny says outside its world: greetings, thanks, questions about itself, off-world questions.

Owns the texts a visitor may send that no scene can answer, split into the
ones training sees and the ones held out for evaluation, and the one short,
honest reply each kind gets (never an empty answer, never invented objects).
It also owns the reply to an image that is not from the world. It knows
nothing of images, tokenizers or models.
"""

from __future__ import annotations

import random

from . import language

TEXTS: dict[str, dict[str, list[str]]] = {
    "greeting": {
        "train": ["hello", "hi", "hey", "Hello!", "Hi there", "hey there!", "good morning", "Good afternoon!",
                  "greetings", "hello there", "Hi!", "hey, hello", "morning!", "hello dimple", "hi, how are you?",
                  "how are you?", "Hello, how are you doing?", "what's up?", "yo", "heya", "hey hey", "hello friend",
                  "hi dimple", "hey buddy", "good day", "sup", "hi, nice to meet you", "hello again", "hi hi",
                  "hey, good to see you", "hello, anyone there?", "greetings, friend"],
        "heldout": ["good evening", "hiya!", "Howdy", "hey, how is it going?"],
    },
    "thanks": {
        "train": ["thanks", "thank you", "Thank you!", "thanks a lot", "great, thanks", "ok thanks", "thank you so much",
                  "Thanks!", "nice, thank you", "perfect, thanks!", "thx", "thank you very much",
                  "much appreciated", "thanks, that helps", "ty", "thanks buddy", "wonderful, thanks",
                  "cool, thank you", "great job, thank you", "thanks again", "that was helpful, thanks"],
        "heldout": ["cheers, thanks!", "many thanks", "awesome, thank you"],
    },
    "self": {
        "train": ["who are you?", "what are you?", "What can you do?", "what is your name?", "are you a robot?",
                  "What do you know?", "what can I ask you?", "are you human?", "Who made you?", "help",
                  "what are you good at?", "How do you work?", "what is dimple?", "introduce yourself",
                  "describe yourself", "what's your purpose?", "what is your job?", "who built you?",
                  "what kind of model are you?", "what are you able to do?", "explain what you do",
                  "who am I talking to?", "what questions can you answer?", "what is your name, please?"],
        "heldout": ["tell me about yourself", "what should I ask?", "what's your name"],
    },
    "offworld": {
        "train": ["What is the capital of France?", "Write a poem.", "What's the weather like today?",
                  "Tell me a joke.", "What is 2 + 2?", "Who is the president?", "Translate hello into Spanish.",
                  "Write some Python code.", "How do I bake bread?", "What time is it?", "What is the meaning of life?",
                  "Recommend a movie.", "Who won the game last night?", "How far away is the moon?",
                  "What is love?", "Explain quantum physics.", "Can you help me with my homework?",
                  "What should I eat for dinner?", "Sing a song.", "What is the best phone?", "Is it going to rain?",
                  "Who wrote Hamlet?", "What is the speed of light?", "How old is the universe?",
                  "Tell me a story.", "What is your favourite food?", "What language do they speak in Brazil?",
                  "How do airplanes fly?", "Solve x + 3 = 5.", "What year is it?", "Where do you live?",
                  "What is the tallest mountain?", "Give me a recipe for soup.", "How do I learn to swim?",
                  "Summarize this article.", "What is the stock price of Apple?", "Why is the sky blue?",
                  "Write a letter to my boss.", "How do I fix my bike?", "Who discovered gravity?",
                  "What is the biggest animal?", "Play some music.", "What is the news today?",
                  "How many planets are there?", "How many days are in a week?", "Who invented the telephone?",
                  "What is the capital of Germany?", "Write an email for me.", "What is a black hole?",
                  "Give me some advice.", "How tall is the Eiffel tower?", "What do cats eat?"],
        "heldout": ["What is the capital of Japan?", "Write me a short essay about history.",
                    "How many legs does a spider have?", "Who painted the Mona Lisa?", "What is photosynthesis?",
                    "Can you book a flight for me?", "What is the population of India?", "Compose a haiku."],
    },
}

# Off-world questions made from frames and slot words, so the model learns the rule (a question about
# something its world does not hold) rather than fifty texts. No slot word is a world word, and a text that
# holds a word of a held-out text that no training text has is refused (`_HELDOUT_ONLY`).
OFFWORLD_FRAMES = (
    "What is the capital of {place}?", "Where is {place}?", "What language do they speak in {place}?",
    "Who wrote {work}?", "Who invented the {device}?", "How is a {device} made?", "What is a {thing}?",
    "What is {subject}?", "Explain {subject} to me.", "How many {unit} are in a {span}?", "Can you {task} for me?",
    "Write a {genre} on {topic}.", "What do {animal} eat?", "How fast can {animal} run?", "How do I {activity}?",
    "What is the best {device}?", "What's the weather in {place}?", "Who is {name}?", "Teach me {subject}.",
    "How long do {animal} live?", "Why do {animal} sleep?", "Give me a {genre} on {topic}.",
    "How many {animal} live in {place}?", "What is the {quantity} of {place}?", "What color is a {thing}?",
    "How old is a {thing}?", "Where do {animal} live?", "Is {place} far away?",
    "How many {part} does a {owner} have?", "Does a {owner} have {part}?", "How many {part} do {animal} have?",
    "What is {num} {op} {num2}?", "What's {num} {op} {num2}?", "How much is {num} {op} {num2}?",
    "Calculate {num} {op} {num2}.", "Can you add {num} and {num2}?", "{num} {op} {num2} = ?",
    # a made-up verb about something no picture holds is still off-world: the contrast to "{verb} the picture."
    "{verb} me a {genre} on {topic}.", "Can you {verb} a {genre}?", "Please {verb} my {device}.",
    "{verb} {subject} for me.", "How do I {verb} a {device}?", "Could you {verb} {place}?",
)
OFFWORLD_SLOTS = {
    "place": ("France", "Spain", "Italy", "Canada", "Brazil", "Egypt", "Kenya", "Peru", "Norway", "Mexico", "China",
              "Chile", "Greece", "Poland", "Paris", "Rome", "London", "Berlin", "Madrid", "Cairo", "Sydney"),
    "work": ("Hamlet", "Don Quixote", "the Odyssey", "Harry Potter", "Pride and Prejudice", "War and Peace"),
    "device": ("telephone", "light bulb", "radio", "television", "computer", "bicycle", "camera", "printer",
               "engine", "laptop", "microwave", "clock"),
    "thing": ("volcano", "rainbow", "galaxy", "virus", "piano", "guitar", "tornado", "glacier", "pyramid",
              "dinosaur", "atom", "magnet", "comet", "desert"),
    "subject": ("gravity", "democracy", "evolution", "electricity", "chemistry", "music", "economics", "algebra",
                "biology", "philosophy", "geography", "astronomy", "physics"),
    "unit": ("minutes", "hours", "seconds", "days", "weeks", "months", "grams", "metres", "inches", "years"),
    "span": ("day", "week", "year", "hour", "minute", "kilogram", "mile", "century"),
    "task": ("order a pizza", "call my mom", "send an email", "find a hotel", "fix my laptop", "plan a trip",
             "set an alarm", "pay my bills", "buy tickets", "clean my room", "do my homework"),
    "genre": ("poem", "song", "story", "letter", "speech", "limerick", "report", "review", "joke"),
    "topic": ("the ocean", "friendship", "summer", "my garden", "the city", "winter", "football", "space", "rain"),
    "animal": ("dogs", "cats", "horses", "cows", "rabbits", "bears", "lions", "sharks", "whales", "birds", "frogs",
               "snakes", "ants", "bees"),
    "activity": ("cook rice", "learn French", "play chess", "grow tomatoes", "ride a horse", "tie a tie",
                 "save money", "write code", "make friends", "bake bread"),
    "quantity": ("size", "area", "currency", "flag", "climate", "anthem", "capital city", "main river"),
    "name": ("Einstein", "Mozart", "Shakespeare", "Cleopatra", "Napoleon", "Picasso"),
    "part": ("wings", "eyes", "teeth", "wheels", "arms", "strings", "keys", "toes", "moons", "bones", "pages",
             "seats", "doors", "tails", "ears"),
    # arithmetic: a number in a question is no sign that it is about the picture
    "num": tuple(str(n) for n in (2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 15, 19, 21, 25, 33, 42, 50, 64, 99, 100, 250)),
    "num2": tuple(str(n) for n in (2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 16, 18, 20, 24, 30, 45, 77, 81, 1000)),
    "op": ("plus", "minus", "times", "divided by", "+", "-", "x", "*", "multiplied by", "and"),
    "owner": ("octopus", "guitar", "piano", "bike", "planet", "house", "horse", "shark", "cow", "spoon", "chair",
              "lorry", "beetle", "tiger", "violin"),
}
# Greetings, thanks and questions about itself composed of parts (one choice per part, joined), for the same
# reason: a visitor's "hey buddy, how are things?" is none of the listed texts. The same refusals apply.
PARTS = {
    "greeting": (("hello", "hi", "hey", "heya", "yo", "greetings", "good morning", "good afternoon", "good day",
                  "morning", "hi there", "hey there", "hello there", "hey hey", "hi hi", "hallo", "hullo", "hola",
                  "ahoy", "g'day", "bonjour", "aloha", "salut", "hey ya", "hi ya", "oi", "hail", "welcome",
                  "how are you", "how do you do", "how's life", "how are things", "how goes it"),
                 ("", "", " dimple", " friend", " buddy", " again", " everyone", " pal", " mate"),
                 ("", "!", "!", ", how are you?", ", what's up?", ", nice to meet you", ", how are you doing today?",
                  ", how have you been?", ", good to see you", ", how are things?", ", how's your day?",
                  ", anyone there?", ", how do you do?")),
    "thanks": (("", "", "great, ", "ok ", "okay, ", "nice, ", "cool, ", "perfect, ", "wonderful, ",
                "good, ", "lovely, "),
               ("thanks", "thank you", "thx", "ty", "much appreciated", "thank you kindly", "big thanks"),
               ("", "", " so much", " a lot", " very much", " again", " buddy", " friend", " dimple"),
               ("", "!", ", that helps", ", great answer", ", nice work", ", that was useful", ", well done")),
    "self": (("", "", "ok, ", "hey, ", "tell me, ", "please, "),
             ("who are you", "what are you", "what can you do", "what is your name", "what are you good at",
              "how do you work", "what kind of model are you", "who made you", "who built you", "what do you know",
              "what questions can you answer", "what can I ask you", "what is your job", "are you a robot",
              "what is your purpose", "who am I talking to", "what do you do", "which things can you answer",
              "what are you for", "what is this app", "what are your skills", "can you explain what you do",
              "what could I ask you", "what would you like me to ask", "what do I ask", "what may I ask you about",
              "what can I talk to you about", "what can we talk about", "what is your name again",
              "what should I say", "what should we talk about", "what would you suggest", "what should I try"),
             ("?", "?", "", " exactly?", ", please?", " here?")),
}
MADE_UP_SLOT_RATE = 0.35  # share of off-world slots filled by a made-up word: an unknown noun is off-world too
GENERATED_RATE = {"offworld": 0.6, "greeting": 0.5, "thanks": 0.5, "self": 0.5}  # share of training texts generated

REPLIES = {
    "greeting": "Hello! Ask me about the shapes, words or bar charts in the picture.",
    "thanks": "You're welcome! Ask me more about the picture.",
    "self": "I am Dimple-Tiny. I can describe, count and find shapes, read words and read bar charts.",
    "offworld": "I only know my drawn world: shapes, colours, positions, words and bar charts.",
}
NONWORLD_IMAGE = "This image is not from my world. I only know drawn shapes, words and bar charts."
# Tiny 3: each honest reply in a few forms (the canonical one first), drawn at random in training; the scorer
# takes any form of the expected reply.
REPLY_FORMS = {
    REPLIES["greeting"]: (REPLIES["greeting"], "Hi! I can tell you about the shapes, words and bar charts in the picture.",
                          "Hello there! Ask me anything about the shapes, words or charts in the picture."),
    REPLIES["thanks"]: (REPLIES["thanks"], "Glad to help! Ask me anything else about the picture.",
                        "You're welcome! What else would you like to know about the picture?"),
    REPLIES["self"]: (REPLIES["self"], "I'm Dimple-Tiny, a small diffusion model. I describe, count and find shapes, "
                      "and I read words and bar charts."),
    REPLIES["offworld"]: (REPLIES["offworld"], "That is outside my drawn world. I only know shapes, colours, "
                          "positions, words and bar charts."),
    NONWORLD_IMAGE: (NONWORLD_IMAGE, "That picture is not from my world: I only know drawn shapes, words and bar charts."),
}


def vary(reply: str, rng: random.Random) -> str:
    """One form of an honest reply, drawn at random (the reply itself when it has no other forms)."""
    return rng.choice(REPLY_FORMS.get(reply, (reply,)))
KINDS = tuple(TEXTS)
NOISE_RATE = 0.2  # share of training texts with a filler or made-up word added (language.noise)
OPENER_RATE = 0.15  # share of training texts after an opener ("Brost, hello"): an opener changes no reply


# A word training questions have ("does", "have", "about") is no held-out word here either: keeping it out of
# off-world texts alone would teach that "How many ... does ... have?" is always a question about the picture.
_HELDOUT_ONLY = language.words_of(t for k in TEXTS for t in TEXTS[k]["heldout"]) - language.words_of(
    t for k in TEXTS for t in TEXTS[k]["train"]) - language.training_words()
_HELDOUT_TEXTS = frozenset(t.lower().rstrip("?!.") for k in TEXTS for t in TEXTS[k]["heldout"])


def heldout_only_words() -> set[str]:
    """Words that held-out texts have and no training text has."""
    return set(_HELDOUT_ONLY)


def _offworld_frame(rng: random.Random) -> str:
    frame = rng.choice(OFFWORLD_FRAMES)
    slots = {name: (language.pseudo_word(rng) if rng.random() < MADE_UP_SLOT_RATE else rng.choice(words))
             for name, words in OFFWORLD_SLOTS.items() if "{" + name + "}" in frame}
    if language.VERB_SLOT in frame:
        slots["verb"] = language.made_up_word(rng)
    return frame.format(**slots)


def generated_text(kind: str, rng: random.Random) -> str:
    """A training text of `kind` made by rule: an off-world question from `OFFWORLD_FRAMES` (a slot is now and
    then a made-up word, "What is a tavoki?"), or a greeting, thanks or question about itself from `PARTS`.
    Never a held-out text, a word only held-out texts have, or a held-out question frame."""
    while True:
        text = _offworld_frame(rng) if kind == "offworld" else "".join(rng.choice(part) for part in PARTS[kind])
        if not (language.words_of([text]) & language.heldout_vocabulary() or language.matches_heldout(text)
                or text.lower().rstrip("?!.") in _HELDOUT_TEXTS):
            return text[0].upper() + text[1:] if rng.random() < 0.5 else text


def text_of(kind: str, rng: random.Random, split: str = "train") -> str:
    if kind not in TEXTS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    generated = split == "train" and rng.random() < GENERATED_RATE[kind]
    text = generated_text(kind, rng) if generated else rng.choice(TEXTS[kind][split])
    if split == "train" and rng.random() < NOISE_RATE:
        text = language.noise(text, rng)
    if split == "train" and rng.random() < OPENER_RATE:
        text = language.chatter(rng) + text
    return text.lower() if rng.random() < 0.3 else text


def all_replies() -> list[str]:
    return [form for forms in REPLY_FORMS.values() for form in forms]
