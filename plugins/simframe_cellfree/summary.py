"""Mean and 95 %-likely per-UE SE from a ``sim_cellfree_uplink`` dataset (paper 003, Section V).

The 95 %-likely SE is the 5th percentile of the per-UE SE over all UEs and network realisations
(trials); the mean is over the same population. NaN padding is ignored.
"""

from __future__ import annotations

import xarray as xr

SAMPLE_DIMS = ("trial", "ue")


def se_summary(dataset: xr.Dataset, metric: str = "se_lsfd_bps_hz") -> xr.Dataset:
    """``mean_se_bps_hz`` and ``likely95_se_bps_hz`` over trials and UEs, per point and variant."""
    values = dataset[metric]
    dims = [d for d in SAMPLE_DIMS if d in values.dims]
    mean = values.mean(dims, skipna=True)
    likely = values.quantile(0.05, dims, skipna=True).drop_vars("quantile")
    units = values.attrs.get("units", "bit/s/Hz")
    return xr.Dataset(
        {
            "mean_se_bps_hz": mean.assign_attrs(units=units, long_name=f"mean of {metric}"),
            "likely95_se_bps_hz": likely.assign_attrs(
                units=units, long_name=f"95 %-likely (5th percentile) of {metric}"
            ),
        }
    )
