"""HTML to PDF with WeasyPrint, for every document humas prints (the monthly report, an
incident's after-action report).

WeasyPrint is imported on first use, not at start-up: it needs the Pango library from the
operating system, and a server without it should still run everything else, only saying
why a PDF cannot be made (:class:`PdfUnavailable`). Nothing is fetched while rendering
(see :func:`_no_fetching`): a document embeds all it needs.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _


class PdfUnavailable(Exception):
    """This server cannot make PDFs; the message is for the user (translated)."""


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    raise ValueError(f"PDF documents fetch nothing: {url}")


def _no_fetching(weasyprint: Any) -> Any:
    """A URL fetcher that fetches nothing. People's text is escaped, but should a URL
    (``file:``, or an address inside the agency's network) ever reach the markup, the
    server must not read it on the document's behalf."""
    fetcher = getattr(weasyprint, "URLFetcher", None)
    # WeasyPrint 68 and later take a URLFetcher (no protocol allowed); earlier, a function.
    return fetcher(allowed_protocols=()) if fetcher is not None else _refuse_fetch


def html_to_pdf(html: str, css: str) -> bytes:
    """``html`` (a whole document) styled by ``css`` (the text of a stylesheet, ``@page``
    rules included) as PDF bytes; :class:`PdfUnavailable` when WeasyPrint cannot load."""
    try:
        import weasyprint
        from weasyprint import CSS, HTML
    except (ImportError, OSError) as exc:
        # Without Pango, importing WeasyPrint fails with OSError "cannot load library".
        raise PdfUnavailable(
            _(
                "PDF files cannot be made on this server: the Pango library is not "
                "installed (see docs/reports.md)."
            )
        ) from exc
    document = HTML(string=html, url_fetcher=_no_fetching(weasyprint))
    result: bytes = document.write_pdf(stylesheets=[CSS(string=css)])
    return result
