"""What ``bench_growth.py`` prints: its figures as tables, and its targets."""

from __future__ import annotations

from typing import Any

from locomo_chat import print_locomo_chat
from node_profile import print_profiles

TARGET_RATIO = 0.02
TARGET_EXPONENT = 1.1
TARGET_TIME_RATIO = 1.3
TARGET_ANCHOR_RATIO = 2.0  # memorygraph / create_agent ms per turn
TARGET_RECALLED_SHARE = 0.10  # recalled tokens / budget, when no request refers to the past


def mb(size: int) -> str:
    return f"{size / 1e6:.2f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


def print_memory_only(backend_name: str, growth: dict[str, Any]) -> None:
    print(f"\nThread bytes in memory, {backend_name} (memorygraph, one thread)")
    print(f"{'turns':>7}{'memorygraph':>14}{'(store)':>12}")
    for turns, size in growth["memorygraph"]["checkpoint_bytes"].items():
        store = growth["memorygraph"]["store_bytes"][turns]
        print(f"{turns:>7}{mb(size):>14}{mb(store):>12}")
    exponent = growth["memorygraph"]["exponent"]
    if exponent is not None:
        print(f"growth exponent: memorygraph {exponent:.2f}  (target <= {TARGET_EXPONENT})")


def print_times(results: dict[str, Any]) -> None:
    """memorygraph's time per turn and bytes per thread on each backend, same turns."""
    times = {name: g["time"] for name, g in results["growth"].items() if "time" in g}
    if not times:
        return
    last = str(max(results["turns"]))
    width = next(iter(times.values()))["window"]
    print(f"\nmemorygraph per backend, turns 1 to {last} of one thread")
    print(
        f"{'backend':<10}{'ms/turn median':>16}{'mean':>8}{'last ' + str(width):>9}"
        f"{'thread bytes':>14}{'store bytes':>13}"
    )
    for name, time_ in times.items():
        sizes = results["growth"][name]["memorygraph"]
        print(
            f"{name:<10}{time_['median_ms_per_turn']:>16.1f}{time_['mean_ms_per_turn']:>8.1f}"
            f"{time_['median_ms_last_window']:>9.1f}{mb(sizes['checkpoint_bytes'][last]):>14}"
            f"{mb(sizes['store_bytes'][last]):>13}"
        )
    print(
        "(thread bytes: the SQLite checkpoint file, PostgreSQL's checkpoint tables, "
        "Redis's MEMORY USAGE of the thread's keys)"
    )


def print_sizes(results: dict[str, Any]) -> None:
    for backend_name, growth in results["growth"].items():
        if "skipped" in growth:
            print(f"\n{backend_name}: skipped ({growth['skipped']})")
            continue
        if "ratio" not in growth:  # Redis: memorygraph alone
            print_memory_only(backend_name, growth)
            continue
        sizes = list(growth["ratio"])
        note = ""
        if "autovacuum" in growth:
            note = f", server autovacuum {growth['autovacuum']}"
            if growth["vacuum_every"]:
                note += f", VACUUM every {growth['vacuum_every']} turns"
        print(f"\nCheckpoint bytes, {backend_name} (one thread{note})")
        print(f"{'turns':>7}{'memorygraph':>14}{'(store)':>12}{'baseline':>14}{'ratio':>9}")
        for turns in sizes:
            print(
                f"{turns:>7}"
                f"{mb(growth['memorygraph']['checkpoint_bytes'][turns]):>14}"
                f"{mb(growth['memorygraph']['store_bytes'][turns]):>12}"
                f"{mb(growth['baseline']['checkpoint_bytes'][turns]):>14}"
                f"{growth['ratio'][turns]:>9.4f}"
            )
        exponents = [growth[name]["exponent"] for name in ("memorygraph", "baseline")]
        print(
            "growth exponent: "
            + ", ".join(
                f"{name} {value:.2f}" if value is not None else f"{name} n/a"
                for name, value in zip(("memorygraph", "baseline"), exponents, strict=True)
            )
            + f"  (targets: ratio <= {TARGET_RATIO} at {sizes[-1]} turns, "
            f"exponent <= {TARGET_EXPONENT})"
        )


def print_anchor(name: str, row: dict[str, Any]) -> None:
    if not row["installed"]:
        print(f"\n{name} is not installed ({row['hint']}): comparison skipped")
        return
    print(f"\n{name} ({row['version']}), {row['turns']} turns on SQLite, same run")
    print(f"{'':<36}{name:>13}{'memorygraph':>13}{'mg / ' + name:>20}")
    for at, ratio in row["memorygraph_ratio"].items():
        print(
            f"{'ms per turn around turn ' + at:<36}{row['ms_per_turn'][at]:>13.1f}"
            f"{row['memorygraph_ms_per_turn'][at]:>13.1f}{ratio:>20.2f}"
            f"   (load average {row['load_average'][at]:.1f})"
        )
    for at, ratio in row["memorygraph_cpu_ratio"].items():
        print(
            f"{'  CPU ms per turn around turn ' + at:<36}{row['cpu_ms_per_turn'][at]:>13.1f}"
            f"{row['memorygraph_cpu_ms_per_turn'][at]:>13.1f}{ratio:>20.2f}"
        )
    print(
        f"{'prompt tokens per reply call':<36}{row['prompt_tokens_per_reply_call']:>13.0f}"
        f"{row['memorygraph_prompt_tokens_per_reply_call']:>13.0f}"
        f"{row['prompt_tokens_ratio']:>20.2f}"
    )
    print(
        f"{'  the same, last window':<36}{row['prompt_tokens_per_reply_call_last']:>13.0f}"
        f"{row['memorygraph_prompt_tokens_per_reply_call_last']:>13.0f}"
    )
    print(
        f"{'prompt tokens per turn, all calls':<36}{row['prompt_tokens_per_turn']:>13.0f}"
        f"{row['memorygraph_prompt_tokens_per_turn']:>13.0f}"
    )
    ours = row["memorygraph_checkpoint_bytes"] + row["memorygraph_store_bytes"]
    print(
        f"{'bytes on disk at turn ' + str(row['turns']):<36}{mb(row['checkpoint_bytes']):>13}"
        f"{mb(ours):>13}   (memorygraph: checkpoints "
        f"{mb(row['memorygraph_checkpoint_bytes'])}, store {mb(row['memorygraph_store_bytes'])})"
    )
    print(f"{name} made {row['summary_calls']} summary calls")


def print_report(results: dict[str, Any]) -> None:
    print_sizes(results)
    print_times(results)
    timing = results["timing"]
    if timing is not None:
        first, last = list(timing["ms_per_turn"])
        print(
            f"\nTime per turn, memorygraph on SQLite (median of {timing['window']} turns): "
            f"turn {first}: {timing['ms_per_turn'][first]:.1f} ms, "
            f"turn {last}: {timing['ms_per_turn'][last]:.1f} ms, "
            f"ratio {timing['ratio']:.2f} (target <= {TARGET_TIME_RATIO}); CPU ms per turn "
            f"{timing['cpu_ms_per_turn'][first]:.1f} and {timing['cpu_ms_per_turn'][last]:.1f}, "
            f"ratio {timing['cpu_ratio']:.2f}; load average "
            f"{timing['load_average'][first]:.1f} and {timing['load_average'][last]:.1f}"
        )
    for name, row in results["anchors"].items():
        print_anchor(name, row)
    recalled = results["recalled"]
    if recalled.get("turns"):
        at = ", ".join(
            f"{share:.1%} around turn {point}"
            for point, share in recalled["share_of_budget_at"].items()
        )
        print(
            f"\nmemorygraph's recalled tokens (no request refers to the past): mean "
            f"{recalled['mean_tokens']:.0f} of a {recalled['budget']}-token budget, "
            f"{recalled['share_of_budget']:.1%} ({at}; target <= {TARGET_RECALLED_SHARE:.0%})"
        )
    if results.get("locomo_chat"):
        print_locomo_chat(results["locomo_chat"])
    if results.get("profiles"):
        print_profiles(results["profiles"])
