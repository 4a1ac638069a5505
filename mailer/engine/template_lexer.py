"""Splitting a template into text and tags in linear time.

Django's Lexer splits with `({%.*?%}|{{.*?}}|{#.*?#})`: every `{{` without its `}}` scans to
the end of its line, so one long line of `{{ {{ {{ …` is quadratic: 900 KB of it compiled
for hours, before any time budget could look. `split_tags` gives exactly what that regex's
`split` gives (a test compares them), remembering how far each search already went.
"""

from django.template.base import Lexer

CLOSERS = {"{%": "%}", "{{": "}}", "{#": "#}"}


class _Finder:
    """`source.find(needle, start)` for starts that only grow: each character scanned once."""

    def __init__(self, source, needle):
        self.source, self.needle = source, needle
        self.found = source.find(needle)

    def next_from(self, start):
        if start > self.found >= 0:  # past the last hit: search on from here
            self.found = self.source.find(self.needle, start)
        return self.found


def split_tags(source: str) -> list[str]:
    """`tag_re.split(source)`: text, tag, text, …, text (a tag never spans lines)."""
    openers = {opener: _Finder(source, opener) for opener in CLOSERS}
    closers = {opener: _Finder(source, closer) for opener, closer in CLOSERS.items()}
    newlines = _Finder(source, "\n")
    worth_trying = dict.fromkeys(CLOSERS, 0)  # per opener: where one could still be a tag
    parts, text_start, position = [], 0, 0
    while candidates := [
        (start, opener)
        for opener, finder in openers.items()
        if (start := finder.next_from(max(position, worth_trying[opener]))) != -1
    ]:
        start, opener = min(candidates)
        end = closers[opener].next_from(start + 2)
        line_end = newlines.next_from(start)
        line_end = len(source) if line_end == -1 else line_end
        if end == -1 or end > line_end:
            # No closer on this line: no later opener of this kind on this line has one either.
            worth_trying[opener] = line_end
            continue
        parts += [source[text_start:start], source[start : end + 2]]
        text_start = position = end + 2
    parts.append(source[text_start:])
    return parts


class LinearLexer(Lexer):
    def tokenize(self):
        in_tag, lineno, result = False, 1, []
        for token_string in split_tags(self.template_string):
            if token_string:
                result.append(self.create_token(token_string, None, lineno, in_tag))
                lineno += token_string.count("\n")
            in_tag = not in_tag
        return result
