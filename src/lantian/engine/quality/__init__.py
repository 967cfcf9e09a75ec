"""Remote quality control (远程质控): detectors of untrustworthy monitoring data, trust score.

One module per detector family: :mod:`values` (constant, zero, over_range), :mod:`process`
(dilution, false_stop, zs_mismatch), :mod:`statistics` (level_shift, spike), :mod:`conduct`
(pinned_under_limit, flag_abuse), :mod:`records` (missing, calibration_change); thresholds in
``catalog/data/qc_thresholds.csv`` (:mod:`thresholds`); :mod:`run` puts them together and
:mod:`trust` scores each point's month; :mod:`blocks` is the one scan of the minutes per
(point, 30-minute block) and :mod:`job` shares it with the engine's assessment (the monthly
job, ``lantian qc --assess``).
"""

from lantian.engine.quality.run import DETECTORS, quality_events
from lantian.engine.quality.thresholds import Thresholds, load_thresholds

__all__ = ["DETECTORS", "Thresholds", "load_thresholds", "quality_events"]
