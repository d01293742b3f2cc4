"""A memory step as a pair of plain functions, and the public runnable a graph runs it as.

Every memorygraph node is a pair: ``run(state, config, runtime)`` and its async
twin ``arun``. `MemoryStep` joins them in a LangChain `RunnableLambda`
(``invoke`` runs the sync one, ``ainvoke`` awaits the async one) that reads
the run's `Runtime` with `langgraph.runtime.get_runtime`: public APIs only.
`memorygraph.MemoryMiddleware` calls the same functions from its hooks, with
the runtime LangChain gives them, so the graph, `add_memory` and the middleware
share one implementation of each step.

Example:
    >>> def run(state, config, runtime):
    ...     return {"seen": len(state["messages"])}
    >>> async def arun(state, config, runtime):
    ...     return run(state, config, runtime)
    >>> step = MemoryStep("count", run, arun)
    >>> step.name, step.run({"messages": [1, 2]}, {}, None)
    ('count', {'seen': 2})
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig, RunnableLambda, ensure_config
from langchain_core.runnables.config import set_config_context
from langgraph.runtime import Runtime, get_runtime

__all__ = ["AsyncStepFunction", "MemoryStep", "StepFunction"]

StepFunction = Callable[[Mapping[str, Any], RunnableConfig, Runtime[Any]], dict[str, Any]]
"""A step: the state, the run's config and its runtime in; a state update out."""

AsyncStepFunction = Callable[
    [Mapping[str, Any], RunnableConfig, Runtime[Any]], Awaitable[dict[str, Any]]
]
"""The async twin of a `StepFunction`."""


class MemoryStep(RunnableLambda[Mapping[str, Any], dict[str, Any]]):
    """A named step, sync and async: a graph node, and the plain functions behind it.

    Args:
        name: The node's name in a graph.
        run: The sync step.
        arun: The async step.

    Attributes:
        run: The sync step, for callers that hold a `Runtime` of their own.
        arun: The async step.
    """

    def __init__(self, name: str, run: StepFunction, arun: AsyncStepFunction) -> None:
        def call(state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
            return run(state, config, get_runtime())

        async def acall(state: Mapping[str, Any], config: RunnableConfig) -> dict[str, Any]:
            return await arun(state, config, get_runtime())

        super().__init__(call, afunc=acall, name=name)
        self.run = run
        self.arun = arun

    def invoke(
        self, input: Mapping[str, Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Run the sync step with the run's config and `Runtime`.

        LangGraph already reports each node as a run of its own, named after
        the node, and passes that run's callbacks in ``config``;
        ``RunnableLambda.invoke`` would report a second, nested run of the same
        name and inspect the function's signature on every call. The step runs
        directly instead, in the config's context (as the lambda would), so a
        model it calls without a config still reports under the node.
        """
        config = ensure_config(config)
        with set_config_context(config) as context:
            return context.run(self.run, input, config, get_runtime())
