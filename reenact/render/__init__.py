"""From AUs to frames: what to ask of the model per frame, and the one render loop.

- ``transfer``: the driver's AU track -> the source's target AUs (relative / absolute).
- ``motion``: the driver's own pose-free landmark motion (warp-guided models).
- ``source``: a photo -> its selected, aligned ``SourceFace`` with its AUs.
- ``renderer``: a face editor in batches -> frames into a sink (the pipelines and eval).
"""
