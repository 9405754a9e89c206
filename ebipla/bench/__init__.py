"""Benchmarks and the GPU check, apart from the pipeline they measure.

- :mod:`.iteration`: ``ebipla bench``, seconds per EBIPLA and LEBM iteration and per prior chain, side by side.
- :mod:`.scaling`: ``ebipla bench --scaling``, seconds per epoch over M and N, the cost model, the bank's memory.
- :mod:`.images`: ``ebipla bench-images``, seconds and GFLOPs per image iteration (the paper's Table 4).
- :mod:`.gpu_check`: ``ebipla gpu-check``, the checks a GPU machine runs (``.ci/device``).
- :mod:`.timing`: what they share (a device-synchronised timer, the load average, CSV output).
"""
