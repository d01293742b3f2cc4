"""Backend adapters that memorygraph brings itself (LangGraph has none for them).

`redis_saver` and `redis_store` put a LangGraph checkpointer and store on
plain Redis 7 commands (no modules); `redis_lock` is the cross-process thread
lease they pair with; `redis_client` opens the connections and runs the
command plans both share.
"""
