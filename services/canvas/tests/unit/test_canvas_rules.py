"""The canvas's rules without I/O: blocks, note validation, the per-note conflict rule, and
revisions as snapshots that restoring gives back exactly."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from crm_canvas.domain.canvas import (
    Block,
    Canvas,
    Link,
    LinkKind,
    Note,
    NoteConflict,
    check_note_version,
    note_changes,
    notes_of_snapshot,
    parse_block,
    restore_plan,
    snapshot,
    validated_note,
)
from crm_platform.errors import InvalidArgument

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def note(i: int, block: Block = Block.KEY_PARTNERS, **kw: object) -> Note:
    return Note(id=f"n{i}", canvas_id="c", block=block, text=f"nota {i}", created_at=NOW, **{"version": 1, **kw})  # type: ignore[arg-type]


def test_every_block_parses_by_name_and_an_unknown_one_is_named() -> None:
    assert [parse_block(b.value) for b in Block] == list(Block)
    assert parse_block("Value-Propositions") is Block.VALUE_PROPOSITIONS
    with pytest.raises(InvalidArgument) as err:
        parse_block("socios_secretos", "note.block")
    assert err.value.violations[0].field == "note.block"
    assert "socios_secretos" in err.value.message and "key_partners" in err.value.message


def test_a_note_needs_text_a_colour_and_links_its_block_allows() -> None:
    ok = validated_note(
        Note(
            "",
            "",
            Block.VALUE_PROPOSITIONS,
            "  Envío en 24 h ",
            color="#aabbcc",
            links=(Link(LinkKind.PRODUCT, "p1"),) * 2,
        )
    )
    assert ok.text == "Envío en 24 h" and ok.color == "#AABBCC" and ok.links == (Link(LinkKind.PRODUCT, "p1"),)
    with pytest.raises(InvalidArgument) as err:
        validated_note(Note("", "", Block.KEY_PARTNERS, " ", color="red", x=-1, links=(Link(LinkKind.PRODUCT, "p"),)))
    fields = {v.field for v in err.value.violations}
    assert fields == {"note.text", "note.color", "note.x", "note.links[0].kind"}
    with pytest.raises(InvalidArgument) as err:
        validated_note(Note("", "", Block.CHANNELS, "Ferias", links=(Link(LinkKind.CLIENT_SEGMENT, "pymes"),)))
    assert "campaign" in err.value.message


def test_a_stale_note_version_conflicts_and_carries_the_current_note() -> None:
    current = note(1, version=3)
    check_note_version(current, 3)
    check_note_version(current, 0)  # no version named: last write wins for that caller
    with pytest.raises(NoteConflict) as err:
        check_note_version(current, 2)
    assert err.value.note == current and err.value.metadata["current_version"] == "3"


def test_changes_to_different_notes_never_touch_each_other() -> None:
    a, b = note(1), note(2)
    a2, changed_a = note_changes(a, replace(a, text="socio A"), frozenset({"text"}))
    b2, changed_b = note_changes(b, replace(b, color="#112233", text="ignored"), frozenset({"color"}))
    assert (a2.text, changed_a) == ("socio A", ["text"])
    assert (b2.text, b2.color, changed_b) == ("nota 2", "#112233", ["color"])


def test_a_snapshot_restores_exactly_its_notes() -> None:
    canvas = Canvas(id="c", name="Modelo 2027")
    then = [note(1), note(2, Block.VALUE_PROPOSITIONS, links=(Link(LinkKind.PRODUCT, "p1"),)), note(3)]
    data = snapshot(canvas, then)
    restored = notes_of_snapshot(data, "c")
    assert [n.content() for n in restored] == [
        n.content() for n in sorted(then, key=lambda n: (list(Block).index(n.block), n.order))
    ]

    # Since then: note 1 changed, note 2 removed, note 4 added.
    now_notes = [replace(then[0], text="otra", version=2), then[2], note(4)]
    plan = restore_plan(now_notes, restored, NOW)
    assert [n.id for n in plan.added] == ["n2"] and plan.added[0].version == 1
    assert [(n.id, n.text, n.version) for n in plan.changed] == [("n1", "nota 1", 3)]
    assert [n.id for n in plan.removed] == ["n4"]
    after = {n.id: n for n in now_notes if n not in plan.removed}
    after.update({n.id: n for n in plan.added + plan.changed})
    assert sorted(n.content()["text"] for n in after.values()) == sorted(n.text for n in then)
    assert {n.id: n.content() for n in after.values()} == {n.id: n.content() for n in restored}
