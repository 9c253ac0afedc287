"""The regular expressions users write (automation rules' `matches`, flows' regex triggers and conditions), run with a
time limit.

A pattern that backtracks without end on some text ("(a|aa)+$" on a long run of a's and a b) would hold the worker
thread that runs it for good: Python's `re` cannot be interrupted, not even by the actor's time limit. The `regex`
module, which reads the same syntax, gives up after `SEARCH_SECONDS`, and such a search counts as no match.
"""

from __future__ import annotations

import logging

import regex

logger = logging.getLogger(__name__)

SEARCH_SECONDS = 0.1


def pattern_error(pattern: str) -> str | None:
    """Why `pattern` is no regular expression, or None for one."""
    try:
        regex.compile(pattern)
    except regex.error as error:
        return str(error)
    return None


def found_in(pattern: str, text: str) -> bool:
    """Whether `pattern` occurs in `text`, ignoring case; a search that takes longer than `SEARCH_SECONDS` is no
    match, and logged."""
    try:
        return regex.search(pattern, text, regex.IGNORECASE, timeout=SEARCH_SECONDS) is not None
    except TimeoutError:
        logger.warning("the pattern %r gave up on a text of %d characters after %s s", pattern, len(text),
                       SEARCH_SECONDS)
        return False
