"""Mastodon's text rules: its HTML as plain text, its way of counting, its mentions."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_URL = re.compile(r"https?://[^\s<>\"]+?(?=[.,;:!?)\]'\"]*(?:\s|$))", re.IGNORECASE)
# Mastodon counts a mention of a remote account as "@user" only (the domain is free).
_REMOTE_MENTION = re.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)@[\w.-]+[a-z0-9]+", re.IGNORECASE
)


class _PlainText(HTMLParser):
    """Mastodon's sanitised HTML (p, br, a, span) as text with its line breaks kept."""

    BLOCKS = frozenset({"p", "div", "blockquote", "pre", "ul", "ol", "li", "h1", "h2", "h3"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.hidden_depth:
            self.hidden_depth += tag not in ("br",)
            return
        classes = (dict(attrs).get("class") or "").split()
        # 4.5 prepends "RE: <link>" to quote posts for old clients; its web UI hides it.
        if "quote-inline" in classes:
            self.hidden_depth = 1
            return
        if tag == "br":
            self.parts.append("\n")
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if self.hidden_depth:
            self.hidden_depth -= 1
            return
        if tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        # Link text is split into "invisible" and "ellipsis" spans; all of it together is
        # the full address, which is what an agent needs to see.
        if not self.hidden_depth:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _PlainText()
    parser.feed(html or "")
    parser.close()
    text = "".join(parser.parts).replace("\r\n", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def status_length(text: str, spoiler_text: str = "", *, url_chars: int = 23) -> int:
    """Characters Mastodon counts: every link as ``url_chars``, remote mentions without
    their domain, the content warning included.

    Mastodon counts grapheme clusters; this counts code points, which is never fewer, so a
    text accepted here is accepted by the server.
    """
    counted = _URL.sub("x" * url_chars, text)
    counted = _REMOTE_MENTION.sub(lambda m: "@" + m.group(1), counted)
    return len(counted) + len(spoiler_text)


def with_mention(text: str, handle: str, local_domain: str = "") -> str:
    """``text`` starting with ``handle`` (``@user@domain``) unless it already mentions them.

    A bare ``@user`` counts as the same person only when they are on our own server
    (``local_domain``); elsewhere it would name someone else.
    """
    handle = handle.strip()
    if not handle:
        return text
    if not handle.startswith("@"):
        handle = "@" + handle
    username, _at, domain = handle[1:].partition("@")
    forms_ = [re.escape(handle)]
    if not domain or domain.lower() == local_domain.lower():
        forms_.append(re.escape("@" + username))
    pattern = rf"(?<![\w@])(?:{'|'.join(forms_)})(?![\w@.-]*\w)"
    if re.search(pattern, text, flags=re.IGNORECASE):
        return text
    return f"{handle} {text}" if text else handle
