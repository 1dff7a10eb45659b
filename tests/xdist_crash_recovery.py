"""After a worker crash, pytest-xdist's `--dist loadfile` scheduler can hang the run forever (issue 32).

`scripts/test.sh` runs `-n 2 --dist loadfile`. When a worker dies (a native abort inside XLA, or pytest-timeout's
thread method ending a hung test), xdist <= 3.8.0's `LoadScopeScheduling`:
1. gives the test it died on to the replacement worker, which dies the same way (pytest-xdist PR #1371);
2. puts the dead worker's *completed* files back on the queue as empty work units (issue #1323 / #1378);
3. can hand a replacement a single pending test, which a worker never starts (it waits for the next item to know
   its teardown) while the controller waits for it to finish (issue #1327).
2 and 3 leave every worker idle and the controller waiting: the run sat for over 10 minutes with load 0.00
(issue 32), and a synthetic suite with one `os.abort()` reproduces it (tests/test_xdist_crash_recovery.py).
`patch_loadscope()` applies the three fixes (the first two are upstream's PRs #1324 / #1328, unreleased as of
3.8.0) to the controller's scheduler class; newer xdist releases are left alone.
"""

from __future__ import annotations

FIXED_AFTER = (3, 8, 0)  # the newest release checked; later ones are assumed to carry the upstream fixes


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def patch_loadscope() -> bool:
    """Patch xdist's LoadScopeScheduling (loadfile / loadscope / loadgroup); True when patched."""
    try:
        import xdist
        from xdist.scheduler.loadscope import LoadScopeScheduling
    except ImportError:
        return False
    if _version(xdist.__version__) > FIXED_AFTER or getattr(LoadScopeScheduling, "_niljax_patched", False):
        return False

    def remove_node(self, node):
        workload = self.assigned_work.pop(node)
        if not self._pending_of(workload):
            return None
        crashitem = next(nodeid for unit in workload.values() for nodeid, done in unit.items() if not done)
        # The crashed test is reported failed by xdist; running it again would take the replacement down too.
        for unit in workload.values():
            if crashitem in unit:
                unit[crashitem] = True
        # Only units with tests left go back on the queue, ahead of the rest (they were started first).
        pending = [(scope, unit) for scope, unit in workload.items() if not all(unit.values())]
        for scope, unit in reversed(pending):
            self.workqueue[scope] = unit
            self.workqueue.move_to_end(scope, last=False)
        for other in self.assigned_work:
            self._reschedule(other)
        return crashitem

    def _reschedule(self, node):
        if node.shutting_down:
            return
        if not self.workqueue:
            node.shutdown()
            return
        if self._pending_of(self.assigned_work[node]) > 2:
            return
        self._assign_work_unit(node)
        # A worker starts a test only once it has the next one (or shutdown): never leave it a lone test.
        while self._pending_of(self.assigned_work[node]) < 2:
            if not self.workqueue:
                node.shutdown()
                return
            self._assign_work_unit(node)

    LoadScopeScheduling.remove_node = remove_node
    LoadScopeScheduling._reschedule = _reschedule
    LoadScopeScheduling._niljax_patched = True
    return True
