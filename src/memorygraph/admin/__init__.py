"""Administration of stored memory: forget threads, users and tenants; sweep expired records.

- `forget_thread`, `forget_user`, `forget_tenant` (and async twins): delete
  checkpoints, facts, archive and audit content, then vacuum (`forget`).
- `sweep_expired` / `asweep_expired`: delete durable facts and audit records
  older than their configured TTL (`sweep`).

Replaying an audited package is `memorygraph.store.audit.replay_package`.
"""

from memorygraph.admin.forget import (
    ForgetReport,
    aforget_tenant,
    aforget_thread,
    aforget_user,
    forget_tenant,
    forget_thread,
    forget_user,
)
from memorygraph.admin.sweep import asweep_expired, sweep_expired

__all__ = [
    "ForgetReport",
    "aforget_tenant",
    "aforget_thread",
    "aforget_user",
    "asweep_expired",
    "forget_tenant",
    "forget_thread",
    "forget_user",
    "sweep_expired",
]
