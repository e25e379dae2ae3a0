"""The canvas as a one-page landscape PDF (A4) drawn with fpdf2 in the classic nine-block layout:
partners, activities over resources, value propositions, relationships over channels and
segments across the top; cost structure and revenue streams along the bottom. Each block carries
its title in Spanish and English, its notes in order and, under a linked note, the link's live
figures. Text is set in DejaVu Sans (a Unicode TrueType font, embedded and subset) when the
system has it, else in the core Helvetica with Windows-1252 text. A block with more notes than
fit shrinks its type down to a floor, then lists how many notes were left out."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF

from crm.canvas.v1 import canvas_pb2 as pb
from crm_canvas.contract.convert import BLOCKS
from crm_canvas.domain.canvas import BLOCK_TITLES, Block

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/local/share/fonts")
PAGE_W, PAGE_H, MARGIN = 297.0, 210.0, 8.0
HEADER = 14.0
BOTTOM_SHARE = 0.32
INK = (33, 37, 41)
MUTED = (90, 98, 106)
RULE = (160, 168, 176)
MIN_SIZE = 4.5

_STATE = {
    pb.LINK_STATE_ARCHIVED: "archivado / archived",
    pb.LINK_STATE_MISSING: "no existe / missing",
    pb.LINK_STATE_RESTRICTED: "restringido / restricted",
}


@lru_cache(maxsize=1)
def _font_files() -> tuple[Path, Path] | None:
    for folder in FONT_DIRS:
        regular, bold = Path(folder, "DejaVuSans.ttf"), Path(folder, "DejaVuSans-Bold.ttf")
        if regular.is_file() and bold.is_file():
            return regular, bold
    return None


def _latin(text: str) -> str:
    """Text the core fonts can print: Windows-1252, else the unaccented letter, else '?'."""
    out = []
    for ch in text:
        try:
            ch.encode("windows-1252")
            out.append(ch)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


def _money(m: object) -> str:
    amount, code = getattr(m, "amount", ""), getattr(m, "currency_code", "")
    return f"{amount} {code}".strip()


def figures_line(link: pb.NoteLink) -> str:
    """One line under a linked note: what it links to, its state and its figures."""
    label = link.label or link.target_id
    parts = [f"→ {label}"]
    if link.state in _STATE:
        parts.append(f"({_STATE[link.state]})")
    f = link.figures
    if f.HasField("fetch_time"):
        if link.kind == pb.LINK_KIND_PRODUCT:
            won = ", ".join(_money(m) for m in f.won_amounts) or "0"
            parts.append(f"negocios/deals {f.deal_count}, ganados/won {f.won_deal_count} ({won})")
        elif link.kind == pb.LINK_KIND_CAMPAIGN:
            parts.append(f"leads {f.lead_count}, ROI {f.roi or '—'}")
        elif link.kind == pb.LINK_KIND_CLIENT_SEGMENT:
            parts.append(f"clientes/clients {f.client_count}")
    return " ".join(parts)


class _Doc(FPDF):
    def __init__(self) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.set_auto_page_break(False)
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.clean: Callable[[str], str]
        files = _font_files()
        if files:
            self.add_font("DejaVu", "", str(files[0]))
            self.add_font("DejaVu", "B", str(files[1]))
            self.family_name, self.clean = "DejaVu", (lambda s: s)
        else:
            self.family_name, self.clean = "Helvetica", _latin

    def font(self, size: float, bold: bool = False) -> None:
        self.set_font(self.family_name, "B" if bold else "", size)


def _layout() -> dict[Block, tuple[float, float, float, float]]:
    """Each block's box (x, y, width, height) in mm."""
    top_y = MARGIN + HEADER
    usable_h = PAGE_H - MARGIN - top_y
    top_h = usable_h * (1 - BOTTOM_SHARE)
    bottom_h = usable_h - top_h
    width = PAGE_W - 2 * MARGIN
    col = width / 5
    half = top_h / 2
    x = [MARGIN + i * col for i in range(5)]
    return {
        Block.KEY_PARTNERS: (x[0], top_y, col, top_h),
        Block.KEY_ACTIVITIES: (x[1], top_y, col, half),
        Block.KEY_RESOURCES: (x[1], top_y + half, col, half),
        Block.VALUE_PROPOSITIONS: (x[2], top_y, col, top_h),
        Block.CUSTOMER_RELATIONSHIPS: (x[3], top_y, col, half),
        Block.CHANNELS: (x[3], top_y + half, col, half),
        Block.CUSTOMER_SEGMENTS: (x[4], top_y, col, top_h),
        Block.COST_STRUCTURE: (MARGIN, top_y + top_h, width / 2, bottom_h),
        Block.REVENUE_STREAMS: (MARGIN + width / 2, top_y + top_h, width / 2, bottom_h),
    }


def _block_lines(notes: list[pb.Note]) -> list[tuple[str, bool]]:
    """(text, is_figure) lines of a block's notes, in order."""
    lines: list[tuple[str, bool]] = []
    for note in sorted(notes, key=lambda n: (n.order, n.id)):
        lines.append((f"• {note.text}", False))
        lines += [(figures_line(link), True) for link in note.links]
    return lines


def _heights(doc: _Doc, lines: list[tuple[str, bool]], width: float, size: float) -> list[float]:
    """Each line's height at `size`, from its string width (a word-wrapped line takes a little more
    room than its width alone says: 15 % is allowed for it). Measuring with multi_cell's dry run
    instead took seconds for a block of 200 notes."""
    out = []
    for text, figure in lines:
        doc.font(size - 1 if figure else size)
        rows = max(1, math.ceil(doc.get_string_width(doc.clean(text)) * 1.15 / width))
        out.append(rows * size * 0.42)
    return out


def _fit(doc: _Doc, lines: list[tuple[str, bool]], width: float, height: float) -> tuple[float, list[tuple[str, bool]]]:
    """The largest type size (down to MIN_SIZE) at which the lines fit, and the lines that do fit
    then (with a last line counting those left out)."""
    size = 7.5
    while True:
        heights = _heights(doc, lines, width, size)
        if sum(heights) <= height:
            return size, lines
        if size <= MIN_SIZE:
            break
        size -= 0.5
    room = height - size * 0.42  # the "(+n …)" line
    used, kept = 0.0, 0
    for h in heights:
        if used + h > room:
            break
        used += h
        kept += 1
    return size, [*lines[:kept], (f"(+{len(lines) - kept} …)", True)]


def render_canvas_pdf(canvas: pb.Canvas, subtitle: str = "") -> bytes:
    doc = _Doc()
    doc.add_page()
    doc.set_title(canvas.name)
    doc.set_text_color(*INK)
    doc.font(14, bold=True)
    doc.set_xy(MARGIN, MARGIN)
    doc.cell(PAGE_W - 2 * MARGIN, 7, doc.clean(f"{canvas.name} — Lienzo de modelo de negocio / Business model canvas"))
    doc.font(8)
    doc.set_text_color(*MUTED)
    doc.set_xy(MARGIN, MARGIN + 7)
    doc.cell(PAGE_W - 2 * MARGIN, 5, doc.clean(subtitle or f"versión / version {canvas.version}"))
    by_block: dict[int, list[pb.Note]] = {}
    for note in canvas.notes:
        by_block.setdefault(note.block, []).append(note)
    doc.set_draw_color(*RULE)
    doc.set_line_width(0.3)
    for block, (x, y, w, h) in _layout().items():
        doc.rect(x, y, w, h)
        es, en = BLOCK_TITLES[block]
        doc.set_text_color(*INK)
        doc.font(8, bold=True)
        doc.set_xy(x + 1.5, y + 1.5)
        doc.cell(w - 3, 4, doc.clean(es))
        doc.font(6.5)
        doc.set_text_color(*MUTED)
        doc.set_xy(x + 1.5, y + 5.2)
        doc.cell(w - 3, 3.2, doc.clean(en))
        lines = _block_lines(by_block.get(BLOCKS.to_proto(block), []))
        inner_w, inner_h = w - 3, h - 10.5
        size, lines = _fit(doc, lines, inner_w, inner_h)
        doc.set_xy(x + 1.5, y + 9.5)
        for text, figure in lines:
            doc.font(size - 1 if figure else size)
            doc.set_text_color(*(MUTED if figure else INK))
            doc.set_x(x + 1.5)
            doc.multi_cell(inner_w, size * 0.42, doc.clean(text))
    return bytes(doc.output())
