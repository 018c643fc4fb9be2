"""The ``--help`` layout every command uses: prose wrapped to the terminal, examples kept as written.

argparse's ``RawDescriptionHelpFormatter`` keeps every line of a description
and epilog, which is right for examples and wrong for a paragraph of prose.
This one wraps a paragraph unless it is an examples block (it starts with
``examples:`` or has an indented line).
"""

from __future__ import annotations

import argparse
import textwrap

__all__ = ["HelpFormatter"]


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in text.strip("\n").split("\n\n"):
            lines = paragraph.splitlines()
            if paragraph.startswith("examples:") or any(line.startswith(" ") for line in lines):
                paragraphs.append("\n".join(indent + line for line in lines))
            else:
                paragraphs.append(
                    textwrap.fill(
                        " ".join(paragraph.split()), width, initial_indent=indent, subsequent_indent=indent,
                        break_on_hyphens=False,
                    )
                )
        return "\n\n".join(paragraphs) + ("\n" if text.endswith("\n") else "")
