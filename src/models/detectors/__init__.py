"""Series detectors for real server traces (SMD, the original's traces, generic CSV): one (T, D)
series in, anomaly scores, flags and root-cause rankings out, thresholded on the unlabelled stream."""
