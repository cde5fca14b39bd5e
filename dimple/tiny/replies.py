"""What Dimple-Tiny says outside its world: greetings, thanks, questions about itself, off-world questions.

Owns the texts a visitor may send that no scene can answer, split into the
ones training sees and the ones held out for evaluation, and the one short,
honest reply each kind gets (never an empty answer, never invented objects).
It also owns the reply to an image that is not from the world. It knows
nothing of images, tokenizers or models.
"""

from __future__ import annotations

import random

TEXTS: dict[str, dict[str, list[str]]] = {
    "greeting": {
        "train": ["hello", "hi", "hey", "Hello!", "Hi there", "hey there!", "good morning", "Good afternoon!",
                  "greetings", "hello there", "Hi!", "hey, hello", "morning!", "hello dimple", "hi, how are you?",
                  "how are you?", "Hello, how are you doing?", "what's up?"],
        "heldout": ["good evening", "hiya!", "Howdy", "hey, how is it going?"],
    },
    "thanks": {
        "train": ["thanks", "thank you", "Thank you!", "thanks a lot", "great, thanks", "ok thanks", "thank you so much",
                  "Thanks!", "nice, thank you", "perfect, thanks!", "thx"],
        "heldout": ["cheers, thanks!", "many thanks", "awesome, thank you"],
    },
    "self": {
        "train": ["who are you?", "what are you?", "What can you do?", "what is your name?", "are you a robot?",
                  "What do you know?", "what can I ask you?", "are you human?", "Who made you?", "help",
                  "what are you good at?", "How do you work?", "what is dimple?"],
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
                  "Summarize this article.", "What is the stock price of Apple?", "Why is the sky blue?"],
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


def text_of(kind: str, rng: random.Random, split: str = "train") -> str:
    if kind not in TEXTS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    text = rng.choice(TEXTS[kind][split])
    return text.lower() if rng.random() < 0.3 else text


def all_replies() -> list[str]:
    return list(REPLIES.values()) + [NONWORLD_IMAGE]
