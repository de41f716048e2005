"""Readable default run names such as ``amber-falcon-42``, for runs created without a name."""

from __future__ import annotations

import secrets

# Short, neutral, easy-to-say words; 40 x 40 x 1000 = 1.6 million names. Names need not be unique
# (the run id is the identity); they only need to be easy to tell apart in a list.
_ADJECTIVES = tuple(
    (
        "amber bold brisk calm clever cosmic crisp daring eager fancy gentle glossy golden happy "
        "humble jolly keen lively lucky mellow merry mighty nimble noble polite proud quiet rapid "
        "rustic shiny silent smooth steady sunny swift tidy vivid warm witty zesty"
    ).split()
)
_NOUNS = tuple(
    (
        "badger beacon birch canyon cedar comet coral crane delta ember falcon fern fjord gecko "
        "glacier harbor heron island lantern lynx maple meadow meteor otter panda pebble quartz "
        "raven reef river robin sparrow summit thistle tiger tulip valley walrus willow yak"
    ).split()
)


def generate_run_name() -> str:
    """A random name of the form ``adjective-noun-number``."""
    adjective = secrets.choice(_ADJECTIVES)
    noun = secrets.choice(_NOUNS)
    return f"{adjective}-{noun}-{secrets.randbelow(1000)}"
