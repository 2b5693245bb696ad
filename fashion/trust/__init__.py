"""Trust: how far to believe an answer. Calibration maths, the not-a-garment check as it
runs when serving (fitting it is training's job), occlusion saliency, label errors.

May import: numpy, `fashion.classes`, `fashion.card`, `fashion.data`.
"""
