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

REPLIES = {
    "greeting": "Hello! Ask me about the shapes, words or bar charts in the picture.",
    "thanks": "You're welcome! Ask me more about the picture.",
    "self": "I am Dimple-Tiny. I can describe, count and find shapes, read words and read bar charts.",
    "offworld": "I only know my drawn world: shapes, colours, positions, words and bar charts.",
}
NONWORLD_IMAGE = "This image is not from my world. I only know drawn shapes, words and bar charts."
KINDS = tuple(TEXTS)
NOISE_RATE = 0.2  # share of training texts with a filler or made-up word added (language.noise)


def text_of(kind: str, rng: random.Random, split: str = "train") -> str:
    if kind not in TEXTS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    text = rng.choice(TEXTS[kind][split])
    if split == "train" and rng.random() < NOISE_RATE:
        text = language.noise(text, rng)
    return text.lower() if rng.random() < 0.3 else text


def all_replies() -> list[str]:
    return list(REPLIES.values()) + [NONWORLD_IMAGE]
