"""Day-ahead forecasts of load and PV (pure: arrays in, arrays out, no I/O).

:mod:`load` Holt-Winters exponential smoothing with daily seasonality per day type, :mod:`pv` a pvlib
clear-sky prior times a learned clear-sky index, :mod:`errors` MAPE and the seasonal-naive baseline
(same time yesterday) every forecast is measured against.
"""
