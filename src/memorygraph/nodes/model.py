"""`call_model`: send the packed context to a chat model, and keep its answer.

The package is written to the audit log before the model is called, the reply
is appended without reasoning content, and the provider's token usage is summed
into ``usage``.

Example:
    >>> from langchain_core.messages import AIMessage
    >>> reply = AIMessage(content=[{"type": "reasoning", "reasoning": "hmm"},
    ...                            {"type": "text", "text": "Hi!"}],
    ...                   additional_kwargs={"reasoning_content": "hmm"})
    >>> clean = strip_reasoning(reply)
    >>> clean.content, clean.additional_kwargs
    ([{'type': 'text', 'text': 'Hi!'}], {})
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore

from memorygraph.config import MemoryConfig
from memorygraph.context import Identity, MemoryContext, resolve_identity
from memorygraph.errors import MemoryGraphError
from memorygraph.inputs import clean_message
from memorygraph.nodes.steps import MemoryStep
from memorygraph.records import AuditRecord, ContextPackage, TokenUsage
from memorygraph.store.audit import aappend_audit, append_audit, audit_record

__all__ = ["arecord_audit", "make_call_model", "record_audit", "strip_reasoning", "usage_of"]

logger = logging.getLogger("memorygraph.audit")

_REASONING_KWARGS = ("reasoning_content", "reasoning", "thinking")
_REASONING_BLOCKS = frozenset({"reasoning", "thinking", "redacted_thinking"})


def strip_reasoning(message: BaseMessage) -> AIMessage:
    """Return the reply without reasoning content, so it is never stored or re-sent.

    Its strings are cleaned too (`memorygraph.inputs.clean_message`): a NUL
    character, which PostgreSQL cannot store, is dropped and a lone surrogate
    becomes U+FFFD, so one odd character from a provider cannot wedge a thread.
    """
    content = message.content
    if isinstance(content, list):
        content = [
            part
            for part in content
            if not (isinstance(part, dict) and part.get("type") in _REASONING_BLOCKS)
        ]
    kwargs = {k: v for k, v in message.additional_kwargs.items() if k not in _REASONING_KWARGS}
    tool_calls = message.tool_calls if isinstance(message, AIMessage) else []
    usage = message.usage_metadata if isinstance(message, AIMessage) else None
    return clean_message(
        AIMessage(
            content=content,
            additional_kwargs=kwargs,
            tool_calls=tool_calls,
            usage_metadata=usage,
            id=message.id,
            name=message.name,
        )
    )


def _model_name(model: BaseChatModel) -> str:
    for attribute in ("model_name", "model"):
        value = getattr(model, attribute, None)
        if isinstance(value, str):
            return value
    return type(model).__name__


def _trace(
    package: ContextPackage,
    identity: Identity,
    model: str | None,
    summary_version: int | None,
    settings: MemoryConfig,
) -> AuditRecord:
    record = audit_record(
        package,
        identity=identity,
        model=model,
        summary_version=summary_version,
        content=settings.audit_content,
    )
    logger.info(
        "context package %s: %d items, %d excluded, %d/%d tokens",
        package.id,
        len(package.items),
        len(package.excluded),
        package.total_tokens,
        package.budget,
    )
    return record


def record_audit(
    package: ContextPackage,
    *,
    identity: Identity,
    model: str | None,
    summary_version: int | None,
    store: BaseStore | None,
    config: MemoryConfig | None = None,
) -> AuditRecord:
    """Log a package before the model call: to the log, and to the store when there is one.

    The store record is the general trace (`memorygraph.store.audit`): trace
    fields and redacted content, appended once per package (a re-run after a
    crash does not rewrite it), kept for ``config.audit_ttl``.
    """
    settings = config or MemoryConfig()
    record = _trace(package, identity, model, summary_version, settings)
    if store is not None:
        append_audit(store, record, ttl=settings.audit_ttl)
    return record


async def arecord_audit(
    package: ContextPackage,
    *,
    identity: Identity,
    model: str | None,
    summary_version: int | None,
    store: BaseStore | None,
    config: MemoryConfig | None = None,
) -> AuditRecord:
    """Async twin of `record_audit`."""
    settings = config or MemoryConfig()
    record = _trace(package, identity, model, summary_version, settings)
    if store is not None:
        await aappend_audit(store, record, ttl=settings.audit_ttl)
    return record


def usage_of(reply: AIMessage) -> TokenUsage:
    """The token usage a reply reports, as one call."""
    usage = reply.usage_metadata
    if usage is None:
        return TokenUsage(calls=1)
    return TokenUsage(
        input_tokens=usage["input_tokens"],
        output_tokens=usage["output_tokens"],
        total_tokens=usage["total_tokens"],
        calls=1,
    )


def make_call_model(model: BaseChatModel, *, config: MemoryConfig | None = None) -> MemoryStep:
    """Make a ``call_model`` node (sync and async) for a chat model.

    Args:
        model: Any LangChain chat model (``ChatOpenAI``, ``init_chat_model(...)``,
            a fake in tests). Tools may be bound to it.
        config: The audit settings (``audit_content``, ``audit_ttl``); defaults
            to ``MemoryConfig()``.

    Returns:
        A node that sends ``state["context_package"].to_messages()`` to the model
        and returns ``{"messages": [reply], "usage": usage}``; under
        ``ainvoke``/``astream`` it awaits ``model.ainvoke`` and the store.
    """
    name = _model_name(model)
    memory_config = config or MemoryConfig()

    def call_model(
        state: Mapping[str, Any], config: RunnableConfig, runtime: Runtime[MemoryContext]
    ) -> dict[str, Any]:
        package, identity, version = _inputs(state, config, runtime)
        record_audit(
            package,
            identity=identity,
            model=name,
            summary_version=version,
            store=runtime.store,
            config=memory_config,
        )
        reply = strip_reasoning(model.invoke(package.to_messages(), config))
        return {"messages": [reply], "usage": usage_of(reply)}

    async def acall_model(
        state: Mapping[str, Any], config: RunnableConfig, runtime: Runtime[MemoryContext]
    ) -> dict[str, Any]:
        package, identity, version = _inputs(state, config, runtime)
        await arecord_audit(
            package,
            identity=identity,
            model=name,
            summary_version=version,
            store=runtime.store,
            config=memory_config,
        )
        reply = strip_reasoning(await model.ainvoke(package.to_messages(), config))
        return {"messages": [reply], "usage": usage_of(reply)}

    return MemoryStep("call_model", call_model, acall_model)


def _inputs(
    state: Mapping[str, Any], config: RunnableConfig, runtime: Runtime[MemoryContext]
) -> tuple[ContextPackage, Identity, int | None]:
    package = state.get("context_package")
    if not isinstance(package, ContextPackage):
        raise MemoryGraphError("call_model needs a context_package: run pack_context first")
    summary = state.get("summary")
    version = summary.version if summary is not None else None
    return package, resolve_identity(runtime.context, config), version
