"""The alert engine's metric rules (agent/alerting.py): a NaN or Inf loss, a loss spike, and
whether the run stepped (the stall rule's clock), judged on the points stored since the
engine last looked.

They read the store's arrays, not the wire's lists: the steps' max in one C call per series,
and values made a list only for the loss names; a healthy batch feeds the spike detector in
one C call too (``core.alerts.SpikeDetector.feed_many``).
"""

import math
from typing import Any, Callable

from ..core.alerts import nonfinite_label
from .alertstate import RunAlerts
from .metricread import raw_since
from .metricstore import NO_STEP


def judge_metrics(st: RunAlerts, store: Any, now: float, raise_alert: Callable[..., Any]) -> None:
    """Feed the points after ``st.metric_seq`` to the run's rules; ``raise_alert(st, kind,
    severity, message, now)`` for each alert."""
    if store.last_seq == st.metric_seq:
        return  # nothing new (most ticks of a quiet run)
    columns, last = raw_since(store, st.metric_seq, 50000)
    if last == st.metric_seq:
        return
    st.metric_seq, st.dirty = last, True
    rules = st.rules
    stepped = False
    for name, step_col, value_col in columns:
        top = max(step_col)  # NO_STEP (the least int64) only when no point has a step
        if top == NO_STEP or st.last_step is None or top > st.last_step:
            stepped = True
            if top != NO_STEP:
                st.last_step = top
        if name not in rules["loss_names"]:
            continue
        values = value_col.tolist()
        finite = values
        if not math.isfinite(sum(values)):  # a NaN or Inf somewhere (or an overflow)
            bad = [i for i, v in enumerate(values) if not math.isfinite(v)]
            if bad and rules["nonfinite"] and st.once("nonfinite", now):
                label = nonfinite_label(values[bad[0]])
                step = step_col[bad[0]]
                at = "" if step == NO_STEP else f" at step {step}"
                raise_alert(st, "nonfinite", "error", f"{label} {name}{at}", now)
            finite = [v for v in values if math.isfinite(v)]
        spikes = st.spikes.feed_many(finite) if rules["spike"] else []
        if spikes and st.once("spike", now, float(rules["spike_quiet_s"])):
            steps_ok = [s for v, s in zip(values, step_col) if math.isfinite(v)]
            step = steps_ok[spikes[0]]
            at = "" if step == NO_STEP else f" at step {step}"
            msg = f"{name} spike{at}: {finite[spikes[0]]:.4g}"
            raise_alert(st, "spike", "warning", msg, now)
    if stepped:
        st.stall.feed(now)
        st.raised.pop("stalled", None)  # steps again: a later stall is news
