"""The active task: which one it is, its step, and the entities it is about.

The extractor names a task when the turns start one ("let's work on ...",
"help me ..."), a step ("first ...", "next ..."), and entity ids
(``case C-1042``); `next_task` folds them into the thread's `TaskState`.

Example:
    >>> from memorygraph.extractors.base import Extraction
    >>> task, changed = next_task(None, Extraction(task="review case C-1042",
    ...                           entities={"case C-1042": "C-1042"}), [])
    >>> task.task_name, task.entity_ids, changed
    ('review case C-1042', {'case C-1042': 'C-1042'}, True)
"""

from __future__ import annotations

from collections.abc import Sequence

from memorygraph.extractors.base import Extraction
from memorygraph.facts.keys import normalize
from memorygraph.records import MemoryCandidate, TaskState

__all__ = ["MAX_ENTITIES", "next_task"]

MAX_ENTITIES = 20
"""The most entities a task keeps; the oldest give way."""


def next_task(
    task: TaskState | None, extraction: Extraction, pending: Sequence[MemoryCandidate]
) -> tuple[TaskState | None, bool]:
    """Return the task after an extraction, and whether it is a new task.

    Args:
        task: The active task.
        extraction: What the extractor read in the new turns.
        pending: The candidates waiting for a human, listed in the task state.

    Returns:
        The task (None while there is none) and whether the turns changed it.
    """
    changed = False
    if extraction.task and (
        task is None or normalize(extraction.task) != normalize(task.task_name)
    ):
        entities = dict(task.entity_ids) if task is not None else {}
        task = TaskState(
            task_name=extraction.task, current_step=extraction.step or "", entity_ids=entities
        )
        changed = True
    elif extraction.step and task is not None and extraction.step != task.current_step:
        task = task.model_copy(update={"current_step": extraction.step})
    if task is None:
        return None, changed
    entities = dict(task.entity_ids)
    for name, ident in extraction.entities.items():
        named = [n for n, i in entities.items() if i == ident]
        if named and (" " not in name or any(" " in n for n in named)):
            continue  # keep the name that says what the entity is
        for old in named:
            del entities[old]
        entities[name] = ident
    if len(entities) > MAX_ENTITIES:
        entities = dict(list(entities.items())[-MAX_ENTITIES:])
    approvals = [
        f"{candidate.id} ({candidate.fact.key}: {candidate.fact.value})" for candidate in pending
    ]
    if entities != task.entity_ids or approvals != task.pending_approvals:
        task = task.model_copy(update={"entity_ids": entities, "pending_approvals": approvals})
    return task, changed
